"""services/captive_dns.py under CPython asyncio on 127.0.0.1: real UDP round trips."""

import asyncio
import socket
import struct

from gateway.core import dns
from gateway.services.captive_dns import CaptiveDNS


def query(name, qtype=1, qid=0x4242):
    labels = b"".join(bytes([len(p)]) + p for p in name.encode().split(b"."))
    return (
        struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\x00"
        + struct.pack(">HH", qtype, 1)
    )


async def ask(port, packet, timeout=2.0):
    loop = asyncio.get_running_loop()
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setblocking(False)
    try:
        await loop.sock_sendto(c, packet, ("127.0.0.1", port))
        data, _ = await asyncio.wait_for(loop.sock_recvfrom(c, 1024), timeout)
        return data
    finally:
        c.close()


def test_a_answer_over_udp():
    async def main():
        srv = CaptiveDNS("192.168.4.1", port=0, host="127.0.0.1")
        task = srv.start()
        assert task.get_name() == "captive_dns"
        port = srv.port
        assert port > 0
        try:
            q = query("connectivitycheck.gstatic.com")
            r = await ask(port, q)
            qid, flags, qd, an = struct.unpack(">HHHH", r[:8])
            assert qid == 0x4242 and flags & 0x8000 and flags & 0xF == 0
            assert (qd, an) == (1, 1)
            assert r[12 : len(q)] == q[12:]
            ptr, t, c, _ttl, rdlen = struct.unpack(">HHHIH", r[len(q) : len(q) + 12])
            assert (ptr, t, c, rdlen) == (0xC00C, 1, 1, 4)
            assert socket.inet_ntoa(r[-4:]) == "192.168.4.1"

            # AAAA: empty NOERROR; the address can be changed while running
            r = await ask(port, query("captive.apple.com", qtype=28, qid=7))
            assert struct.unpack(">HHHH", r[:8]) == (7, 0x8580, 1, 0)
            srv.ip = "10.0.0.1"
            r = await ask(port, query("example.com", qid=8))
            assert socket.inet_ntoa(r[-4:]) == "10.0.0.1"

            # junk gets FORMERR or nothing, and the server keeps answering afterwards
            r = await ask(port, struct.pack(">HHHHHH", 9, 0x0100, 2, 0, 0, 0))
            assert r[:2] == b"\x00\x09" and r[3] & 0xF == 1
            loop = asyncio.get_running_loop()
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            c.setblocking(False)
            for junk in (b"", b"\x01", b"\xff" * 11, b"\x00\x01\x81\x80" + b"\x00" * 8):
                await loop.sock_sendto(c, junk, ("127.0.0.1", port))
            c.close()
            r = await ask(port, dns.build_query("still.alive", qid=10))
            assert r[:2] == b"\x00\x0a" and socket.inet_ntoa(r[-4:]) == "10.0.0.1"
            assert srv.answered == 5 and srv.dropped >= 4
        finally:
            await srv.stop()
        assert srv.sock is None and task.done()

    asyncio.run(main())


def test_burst_is_bounded_and_loop_stays_responsive():
    async def main():
        srv = CaptiveDNS("192.168.4.1", port=0, host="127.0.0.1", burst=4, rate=50)
        srv.start()
        port = srv.port
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        loop = asyncio.get_running_loop()
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.setblocking(False)
        try:
            for i in range(120):
                await loop.sock_sendto(
                    c, dns.build_query("flood%d.test" % i, qid=i), ("127.0.0.1", port)
                )
            got = 0
            deadline = loop.time() + 2
            while loop.time() < deadline:
                try:
                    await asyncio.wait_for(loop.sock_recvfrom(c, 1024), 0.3)
                    got += 1
                except TimeoutError:
                    break
            # at most `rate` answers per one-second window (two windows if this host is very
            # slow), the rest read and dropped; the other task kept running
            assert 1 <= got <= 100
            assert srv.answered == got
            assert srv.answered + srv.dropped <= 120
            assert ticks > 0
        finally:
            c.close()
            t.cancel()
            await srv.stop()

    asyncio.run(main())


def test_stop_before_first_packet_and_restart():
    async def main():
        srv = CaptiveDNS("192.168.4.1", port=0, host="127.0.0.1")
        srv.start()
        await srv.stop()
        assert srv.sock is None
        srv.start()
        await asyncio.sleep(0.01)
        r = await ask(srv.port, dns.build_query("again.test", qid=3))
        assert r[:2] == b"\x00\x03"
        await srv.stop()

    asyncio.run(main())
