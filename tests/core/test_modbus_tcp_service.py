"""services/modbus_tcp.py over loopback sockets, on CPython asyncio and the MicroPython unix port:
answers, the client limit, the idle timeout, non-Modbus input, stop and restart on the same port."""
import struct
import sys
import time

try:
    import asyncio
except ImportError:  # MicroPython with MICROPYPATH set: asyncio is frozen into the binary
    sys.path.append(".frozen")
    import asyncio

from gateway.services.modbus_tcp import ModbusTcpServer

NOW = 1800000000
METERS = [{"id": "m1", "address": 1, "enabled": True}]
READINGS = {"m1": {"status": "ok", "ts": NOW - 2, "values": {"power_w": 1500.0}}}


def run(coro):
    return asyncio.run(coro)


async def started(**kw):
    """A server on a free loopback port (tried from a time-derived one)."""
    port = 20000 + int(time.time() * 1000) % 30000
    for i in range(20):
        srv = ModbusTcpServer(lambda: METERS, READINGS.get, lambda: NOW, "127.0.0.1",
                              port + 7 * i, **kw)
        if await srv.start():
            return srv
    raise AssertionError("no free port: " + srv.error)


async def request(reader, writer, tid, unit, fc, start, count):
    writer.write(struct.pack(">HHHBBHH", tid, 0, 6, unit, fc, start, count))
    await writer.drain()
    head = await reader.readexactly(7)
    n = struct.unpack(">H", head[4:6])[0] - 1
    return head + await reader.readexactly(n)


async def closed_by_peer(reader, timeout=2):
    try:
        data = await asyncio.wait_for(reader.read(16), timeout)
    except OSError:  # reset
        return True
    return data == b""


def test_answers_requests_on_one_connection():
    async def main():
        srv = await started()
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        resp = await request(r, w, 1, 1, 4, 0, 2)
        assert resp == b"\x00\x01\x00\x00\x00\x07\x01\x04\x04\x00\x00\x00\x02", resp
        resp = await request(r, w, 2, 1, 3, 14, 2)  # power_w
        assert struct.unpack(">f", resp[9:13])[0] == 1500.0
        resp = await request(r, w, 3, 9, 4, 0, 2)
        assert resp[7:] == b"\x84\x0a"
        assert srv.status()["clients"] == 1 and srv.requests == 3
        w.close()
        await srv.stop()
        assert srv.status()["running"] is False and srv.status()["clients"] == 0

    run(main())


def test_client_limit_idle_timeout_and_stop():
    async def main():
        srv = await started(max_clients=2, idle_s=0.5)
        conns = []
        for _ in range(2):
            conns.append(await asyncio.open_connection("127.0.0.1", srv.port))
            await request(conns[-1][0], conns[-1][1], 1, 1, 4, 0, 1)  # surely accepted
        await request(conns[1][0], conns[1][1], 2, 1, 4, 0, 1)  # the first is now the idlest
        r3, w3 = await asyncio.open_connection("127.0.0.1", srv.port)
        # one too many: it takes the place of the connection idle the longest (issue 16 item 17)
        assert (await request(r3, w3, 3, 1, 4, 0, 1))[9:] == b"\x00\x00"
        assert await closed_by_peer(conns[0][0])
        assert srv.refused == 1 and srv.status()["clients"] == 2
        assert (await request(conns[1][0], conns[1][1], 4, 1, 4, 0, 1))[9:] == b"\x00\x00"
        # silent for longer than idle_s: both closed, their slots free again
        assert await closed_by_peer(conns[1][0]) and await closed_by_peer(r3)
        for _, w in conns:
            w.close()
        w3.close()
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        assert (await request(r, w, 5, 1, 4, 0, 1))[9:] == b"\x00\x00"
        await srv.stop()  # closes the live connection too
        assert await closed_by_peer(r)
        w.close()
        # the same port again at once
        again = ModbusTcpServer(lambda: METERS, READINGS.get, lambda: NOW, "127.0.0.1", srv.port)
        assert await again.start(), again.error
        await again.stop()

    run(main())


def test_non_modbus_input_closes_the_connection():
    async def main():
        srv = await started()
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"GET / HTTP/1.1\r\n\r\n")
        await w.drain()
        assert await closed_by_peer(r)
        w.close()
        await srv.stop()

    run(main())


def test_port_in_use_is_reported_not_raised():
    async def main():
        srv = await started()
        other = ModbusTcpServer(lambda: METERS, READINGS.get, lambda: NOW, "127.0.0.1", srv.port)
        assert await other.start() is False
        assert "cannot listen" in other.error and other.status()["running"] is False
        await other.stop()
        await srv.stop()

    run(main())


def test_a_connection_whose_fault_cannot_even_be_reported_is_closed_and_forgotten():
    """A request the heap fails (MemoryError), and the report of it failing too: the client
    is still disconnected and its slot freed."""
    from gateway.core import modbus_map

    def no_heap(*args):
        raise MemoryError

    class Unreportable(ModbusTcpServer):
        @property
        def error(self):
            return ""

        @error.setter
        def error(self, v):
            if v:
                raise MemoryError

    async def main():
        first = await started()  # a free port, its server stopped for ours
        port = first.port
        await first.stop()
        srv = Unreportable(lambda: METERS, READINGS.get, lambda: NOW, "127.0.0.1", port)
        assert await srv.start()
        real, modbus_map.respond = modbus_map.respond, no_heap
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(struct.pack(">HHHBBHH", 1, 0, 6, 1, 4, 0, 2))
            await w.drain()
            assert await closed_by_peer(r)
            t0 = time.time()
            while srv.status()["clients"] and time.time() - t0 < 5:
                await asyncio.sleep(0.01)
            assert srv.status()["clients"] == 0
            w.close()
        finally:
            modbus_map.respond = real
            await srv.stop()

    run(main())
