"""A TCP server whose accept loop outlives a connection the heap cannot take.

``asyncio.start_server``'s accept loop (MicroPython's asyncio/stream.py ``Server._serve``)
ends on the first exception after an accept: a MemoryError making the connection's stream, its
handler's coroutine or its task. The connection then stays open and unanswered, the listening
socket stays bound (a restarted server cannot bind it: EADDRINUSE) and the server object still
looks alive. This one hands such a connection to ``refuse(sock)`` (a last word that allocates
nothing and raises nothing, such as a prepared "busy" answer), closes it, counts it and accepts
the next; its socket is closed whenever its loop ends. CPython (the core tests) runs the same
loop. Why its own loop, on asyncio's internal I/O queue: docs/decisions/0016.

    srv = await listen(handler, host, port, refuse)   # handler(reader, writer), a coroutine
    srv.refused                                       # connections the heap could not take
    srv.close(); await srv.wait_closed()
"""
import asyncio
import socket
import sys

if sys.implementation.name == "micropython":
    from asyncio import core
    from asyncio.stream import Stream

    def _readable(s):  # a generator is a coroutine on MicroPython: wait until s can be read
        yield core._io_queue.queue_read(s)

    async def _accept(s):
        """(socket, address) of the next connection; None when its accept failed (the client
        gave up). An error of the wait itself is raised: it would fail again at once."""
        await _readable(s)
        try:
            return s.accept()
        except OSError:
            return None

    async def _streams(c, addr):
        st = Stream(c, {"peername": addr})
        return st, st

    def _unwait():  # a wait the heap cut half way may have left the socket in the I/O queue
        core._io_queue.remove(core.cur_task)
else:  # CPython
    async def _accept(s):
        try:
            return await asyncio.get_running_loop().sock_accept(s)
        except OSError:
            return None

    async def _streams(c, addr):
        return await asyncio.open_connection(sock=c)

    def _unwait():
        pass


class Server:
    """``close()`` then ``await wait_closed()``, as asyncio's server."""

    def __init__(self, sock, handler, refuse):
        self.refused = 0  # connections closed at once (and waits cut) for want of heap
        self._closed = False
        self.task = asyncio.create_task(self._loop(sock, handler, refuse))

    def close(self):
        self._closed = True
        self.task.cancel()

    async def wait_closed(self):
        try:
            await self.task
        except asyncio.CancelledError:
            if not self._closed:  # the caller itself was cancelled
                raise

    async def _loop(self, s, handler, refuse):
        try:
            while True:
                try:
                    got = await _accept(s)
                except MemoryError:  # not even the wait or the socket: wait again, shortly
                    self.refused += 1
                    _unwait()
                    await asyncio.sleep(0.05)
                    continue
                if got is None:  # a failed accept: the next one
                    continue
                c, addr = got
                try:
                    c.setblocking(False)
                    r, w = await _streams(c, addr)
                    asyncio.create_task(handler(r, w))
                except MemoryError:
                    self.refused += 1
                    if refuse is not None:
                        refuse(c)
                    close_socket(c)
                except OSError:  # reset before it was served
                    close_socket(c)
        finally:
            s.close()


def close_socket(c):
    """Close a socket that may be gone already."""
    try:
        c.close()
    except Exception:  # already gone
        pass


async def listen(handler, host, port, refuse=None, backlog=5):
    """Listen on ``host:port`` and serve each connection with ``handler(reader, writer)``;
    OSError when the port cannot be bound."""
    ai = socket.getaddrinfo(host, port)[0]
    s = socket.socket()
    try:
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(ai[-1])
        s.listen(backlog)
    except BaseException:
        s.close()
        raise
    srv = Server(s, handler, refuse)
    await asyncio.sleep(0)  # the loop is waiting on its socket, so that close() ends it there
    return srv
