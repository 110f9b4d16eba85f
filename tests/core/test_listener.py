"""gateway/lib/listener.py over loopback sockets, on CPython and the MicroPython unix port: the
accept loop goes on when the heap refuses a connection (asyncio.start_server's ended there, the
connection left open and unanswered, the port still bound), and its socket is closed when it
ends."""
import sys

try:
    import asyncio
except ImportError:  # MicroPython with MICROPYPATH set: asyncio is frozen into the binary
    sys.path.append(".frozen")
    import asyncio

import socket

from test_http_turns import _failing_once, _free_port, _until

from gateway.lib import listener

HOST = "127.0.0.1"


async def _echo(reader, writer):
    line = await reader.readline()
    writer.write(b"echo " + line)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _ask(port, line=b"hi\n"):
    """What the server answers to ``line``, read until it closes (b"" when it closes at once)."""
    r, w = await asyncio.open_connection(HOST, port)
    w.write(line)
    await w.drain()
    data = b""
    while True:
        chunk = await asyncio.wait_for(r.read(256), 5)
        if not chunk:
            break
        data += chunk
    w.close()
    await w.wait_closed()
    return data


async def _stop(srv):
    srv.close()
    await srv.wait_closed()


def test_a_connection_the_heap_cannot_take_gets_the_last_word_and_the_loop_goes_on():
    said = []

    def refuse(sock):
        said.append(sock.send(b"busy\n"))

    async def main():
        port = _free_port()
        srv = await listener.listen(_echo, HOST, port, refuse)
        real = listener._streams
        listener._streams = _failing_once(real)
        try:
            assert await _ask(port) == b"busy\n"  # and closed
            assert srv.refused == 1 and said == [5]
            assert await _ask(port) == b"echo hi\n"
            assert srv.refused == 1
        finally:
            listener._streams = real
            await _stop(srv)

    asyncio.run(main())


class _PollerOutOfHeapOnce:
    """MicroPython's asyncio poller, whose first ``register`` (the listener's first wait, in a
    test where nothing else waits) runs out of heap: the I/O queue then holds the wait in its
    map but not in the poller (core.py ``_enqueue``)."""

    def __init__(self, real):
        self.real, self.failed = real, False

    def register(self, s, mask):
        if not self.failed:
            self.failed = True
            raise MemoryError
        return self.real.register(s, mask)

    def modify(self, s, mask):
        return self.real.modify(s, mask)

    def unregister(self, s):
        return self.real.unregister(s)

    def ipoll(self, *args):
        return self.real.ipoll(*args)


def test_a_wait_the_heap_cuts_is_waited_again():
    """On MicroPython the heap runs out inside asyncio's I/O queue, half way through the wait
    (what it left there would fail the next wait); on CPython in the wait as a whole."""
    async def main():
        port = _free_port()
        if sys.implementation.name == "micropython":
            from asyncio import core

            real = core._io_queue.poller
            core._io_queue.poller = _PollerOutOfHeapOnce(real)
            srv = await listener.listen(_echo, HOST, port)
            assert core._io_queue.poller.failed
        else:
            real = listener._accept
            listener._accept = _failing_once(real)
            srv = await listener.listen(_echo, HOST, port)
        try:
            await _until(lambda: srv.refused == 1, "the failed wait counted")
            assert await _ask(port) == b"echo hi\n"
            assert await _ask(port) == b"echo hi\n"
        finally:
            if sys.implementation.name == "micropython":
                core._io_queue.poller = real
            else:
                listener._accept = real
            await _stop(srv)

    asyncio.run(main())


def test_the_port_is_free_again_once_the_loop_ends():
    async def main():
        port = _free_port()
        srv = await listener.listen(_echo, HOST, port)
        assert await _ask(port) == b"echo hi\n"
        await _stop(srv)
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT, not a listener
            s.bind(socket.getaddrinfo(HOST, port)[0][-1])
        finally:
            s.close()
        again = await listener.listen(_echo, HOST, port)  # as a restarted web task would
        assert await _ask(port) == b"echo hi\n"
        await _stop(again)

    asyncio.run(main())


def test_a_port_in_use_is_an_oserror():
    async def main():
        port = _free_port()
        srv = await listener.listen(_echo, HOST, port)
        try:
            await listener.listen(_echo, HOST, port)
        except OSError:
            pass
        else:
            raise AssertionError("bound twice")
        assert await _ask(port) == b"echo hi\n"  # the first one still serves
        await _stop(srv)

    asyncio.run(main())
