"""The read-only Modbus TCP server: a SCADA or another gateway reads the meters' latest readings.

Loaded only while the server is enabled (``Device.restart_modbus_tcp`` imports it). The map and
the protocol are in ``gateway.core.modbus_map``; here only the asyncio streams
(``asyncio.start_server``: MicroPython and CPython alike):

- at most ``max_clients`` connections at once; one more is closed at once (the SCADA retries);
- a connection silent for ``idle_s`` seconds is closed (half-open leftovers free their slot);
- a request is read whole (7 + at most 253 bytes) and answered (at most 259 bytes) before the
  next one: nothing large is buffered, answers come from the readings the poller already has,
  so a request never waits for the RS485 bus;
- what is not Modbus TCP (protocol id, length) closes the connection.
"""
import asyncio

from gateway.core import modbus_map
from gateway.core.modbus_map import MBAP_LEN

MAX_CLIENTS = 4
IDLE_S = 60
STORE_KEY = "modbus_tcp"  # gateway.core.modbus_tcp_config.STORE_KEY


class ModbusTcpServer:
    """``meters()``: the configured meter dicts; ``reading(id)``: the poller's reading of one
    meter or None; ``clock()``: epoch seconds."""

    def __init__(self, meters, reading, clock, host="0.0.0.0", port=502,
                 max_clients=MAX_CLIENTS, idle_s=IDLE_S):
        self.meters = meters
        self.reading = reading
        self.clock = clock
        self.host = host
        self.port = port
        self.max_clients = max_clients
        self.idle_s = idle_s
        self.error = ""
        self.requests = 0
        self.refused = 0
        self._server = None
        self._clients = []  # the connection tasks

    def status(self):
        return {"running": self._server is not None, "port": self.port,
                "clients": len(self._clients), "requests": self.requests,
                "refused": self.refused, "error": self.error}

    async def start(self):
        """Listen; False (and ``error`` set) when the port cannot be bound."""
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as e:
            self.error = "cannot listen on %s:%d (%s)" % (self.host, self.port, e)
            return False
        self.error = ""
        return True

    async def stop(self):
        """Stop listening and close every connection."""
        srv, self._server = self._server, None
        if srv is not None:
            srv.close()
        for t in list(self._clients):
            t.cancel()
        if srv is not None:
            await srv.wait_closed()
        for _ in range(50):  # let the cancelled connections close their sockets
            if not self._clients:
                break
            await asyncio.sleep(0.01)

    async def _serve(self, reader, writer):
        if len(self._clients) >= self.max_clients or self._server is None:
            self.refused += 1
            await _close(writer)
            return
        task = asyncio.current_task()
        self._clients.append(task)
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(MBAP_LEN), self.idle_s)
                n = modbus_map.pdu_length(header)
                pdu = await asyncio.wait_for(reader.readexactly(n), self.idle_s)
                writer.write(modbus_map.respond(header, pdu, self.meters(), self.reading,
                                                self.clock()))
                await writer.drain()
                self.requests += 1
        except (EOFError, OSError, asyncio.TimeoutError, modbus_map.BadFrame):
            pass  # the client left, went silent or does not speak Modbus TCP
        except asyncio.CancelledError:
            pass  # stop(): end quietly (CPython logs a connection task that ends cancelled)
        except Exception as e:  # a bug must not leave the connection open, nor go unseen
            self.error = "connection closed: %r" % (e,)
        self._clients.remove(task)
        await _close(writer)


async def _close(writer):
    # MicroPython's Stream.close() does nothing: wait_closed() closes the socket
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:
        pass


def _lock(dev):
    # kept on the Device: this module may be unloaded and imported again, the Device stays
    lock = getattr(dev, "_modbus_tcp_lock", None)
    if lock is None:
        lock = dev._modbus_tcp_lock = asyncio.Lock()
    return lock


async def apply(dev):
    """(Re)start the server from the stored settings; ``dev.modbus_tcp`` is the server or None.

    Binds the address of the board's web server ("http"."host": 127.0.0.1 in the emulator).
    """
    async with _lock(dev):
        old, dev.modbus_tcp = dev.modbus_tcp, None
        if old is not None:
            await old.stop()
        cfg = dev.store.load(STORE_KEY) or {}
        if not cfg.get("enabled"):
            if old is not None:
                print("modbus-tcp: stopped")
            return
        meters = dev.meters
        srv = ModbusTcpServer(lambda: meters.meters, meters.poller.reading, dev.now,
                              dev.board.get("http", {}).get("host", "0.0.0.0"),
                              cfg.get("port", 502))
        dev.modbus_tcp = srv  # kept when it fails: GET /api/modbus-tcp shows the error
        if await srv.start():
            print("modbus-tcp: listening on %s:%d" % (srv.host, srv.port))
        else:
            print("modbus-tcp: %s" % srv.error)
            dev.event("config", "modbus-tcp", srv.error)
