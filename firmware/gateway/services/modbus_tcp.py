"""The read-only Modbus TCP server: a SCADA or another gateway reads the meters' latest readings.

Loaded only while the server is enabled (services/optional.py ModbusTcpService keeps it). The map and
the protocol are in ``gateway.core.modbus_map``; here only the asyncio streams
(``gateway.lib.listener``: MicroPython and CPython alike):

- at most ``max_clients`` connections at once; one more takes the place of the connection idle
  the longest (idle sockets cannot lock a SCADA out: its own keep polling, the oldest idle goes);
- a connection silent for ``idle_s`` seconds is closed (half-open leftovers free their slot);
- a request is read whole (7 + at most 253 bytes) and answered (at most 259 bytes) before the
  next one: nothing large is buffered, answers come from the readings the poller already has,
  so a request never waits for the RS485 bus;
- what is not Modbus TCP (protocol id, length) closes the connection.
"""
import asyncio

from gateway.core import modbus_map
from gateway.core.modbus_map import MBAP_LEN
from gateway.core.ticks import ticks_diff, ticks_ms
from gateway.lib.listener import listen

MAX_CLIENTS = 4
IDLE_S = 60
STORE_KEY = "modbus_tcp"  # gateway.core.modbus_tcp_config.STORE_KEY


class ModbusTcpServer:
    """``meters()``: the configured meter dicts; ``reading(id)``: the poller's reading of one
    meter or None; ``clock()``: epoch seconds; ``serial``: the gateway's (SunSpec devices)."""

    def __init__(self, meters, reading, clock, host="0.0.0.0", port=502,
                 max_clients=MAX_CLIENTS, idle_s=IDLE_S, serial=""):
        self.serial = serial
        self.meters = meters
        self.reading = reading
        self.clock = clock
        self.host = host
        self.port = port
        self.max_clients = max_clients
        self.idle_s = idle_s
        self.error = ""
        self.requests = 0
        self.refused = 0  # connections closed at stop, or dropped for a newer one
        self._server = None
        self._clients = []  # [task, ticks_ms of its last request] per connection

    def status(self):
        return {"running": self._server is not None, "port": self.port,
                "clients": len(self._clients), "requests": self.requests,
                "refused": self.refused, "error": self.error}

    async def start(self):
        """Listen; False (and ``error`` set) when the port cannot be bound."""
        try:
            self._server = await listen(self._serve, self.host, self.port)
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
        for c in list(self._clients):
            c[0].cancel()
        if srv is not None:
            await srv.wait_closed()
        for _ in range(50):  # let the cancelled connections close their sockets
            if not self._clients:
                break
            await asyncio.sleep(0.01)

    def _drop_idlest(self):
        """End the connection whose last request is the oldest (its task closes its socket)."""
        now = ticks_ms()
        idlest = None
        for c in self._clients:
            if idlest is None or ticks_diff(now, c[1]) > ticks_diff(now, idlest[1]):
                idlest = c
        self._clients.remove(idlest)
        self.refused += 1
        idlest[0].cancel()

    async def _serve(self, reader, writer):
        if self._server is None:
            await _close(writer)
            return
        if len(self._clients) >= self.max_clients:
            self._drop_idlest()
        me = [asyncio.current_task(), ticks_ms()]
        self._clients.append(me)
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(MBAP_LEN), self.idle_s)
                n = modbus_map.pdu_length(header)
                pdu = await asyncio.wait_for(reader.readexactly(n), self.idle_s)
                writer.write(modbus_map.respond(header, pdu, self.meters(), self.reading,
                                                self.clock(), self.serial))
                await writer.drain()
                self.requests += 1
                me[1] = ticks_ms()
        except (EOFError, OSError, asyncio.TimeoutError, modbus_map.BadFrame):
            pass  # the client left, went silent or does not speak Modbus TCP
        except asyncio.CancelledError:
            pass  # stop(): end quietly (CPython logs a connection task that ends cancelled)
        except Exception as e:  # a bug must not leave the connection open, nor go unseen
            try:
                self.error = "connection closed: %r" % (e,)
            except MemoryError:  # the heap too short for the report: closed all the same
                pass
        finally:
            if me in self._clients:
                self._clients.remove(me)
            await _close(writer)


async def _close(writer):
    # MicroPython's Stream.close() does nothing: wait_closed() closes the socket
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:
        pass
