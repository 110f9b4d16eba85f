"""The HTTP server's handler turns (web/guard.py): at most ``max_handlers`` requests are handled
at once, the others wait their turn, oldest first; a long-lived answer (the live event stream)
gives its turn back; a waiter cancelled while waiting does not lose a turn for the others.

A real server on a loopback port, raw HTTP clients. Runs on CPython and the MicroPython unix port.
"""
import sys

try:
    import asyncio
except ImportError:  # MicroPython with MICROPYPATH set: asyncio is frozen into the binary
    sys.path.append(".frozen")
    import asyncio

import json
import socket

from gateway.core.ticks import ticks_diff, ticks_ms


async def _until(pred, what, ms=5000):
    t0 = ticks_ms()
    while not pred():
        if ticks_diff(ticks_ms(), t0) > ms:
            raise AssertionError("not reached in %d ms: %s" % (ms, what))
        await asyncio.sleep(0.01)


def test_turns_are_bounded_and_taken_oldest_first():
    from gateway.web.guard import Turns

    async def main():
        turns = Turns(1)
        inside, order = [], []
        gates = [asyncio.Event() for _ in range(3)]

        async def user(i):
            await turns.take()
            inside.append(i)
            order.append(i)
            assert len(inside) == 1, inside
            await gates[i].wait()
            inside.remove(i)
            turns.give()

        tasks = [asyncio.create_task(user(i)) for i in range(3)]
        await _until(lambda: turns.waiting() == 2, "two waiters")
        for i in range(3):
            await _until(lambda i=i: order[-1:] == [i], "user %d inside" % i)
            gates[i].set()
        for t in tasks:
            await t
        assert order == [0, 1, 2] and turns.free == 1 and turns.waiting() == 0

    asyncio.run(main())


def test_a_cancelled_waiter_leaves_the_turn_to_the_next():
    from gateway.web.guard import Turns

    async def main():
        turns = Turns(1)
        await turns.take()  # held
        got = []

        async def waiter(name):
            await turns.take()
            got.append(name)

        a = asyncio.create_task(waiter("a"))
        b = asyncio.create_task(waiter("b"))
        await _until(lambda: turns.waiting() == 2, "two waiters")
        a.cancel()
        await _until(lambda: turns.waiting() == 1, "a gone from the queue")
        turns.give()
        await _until(lambda: got == ["b"], "b served")
        assert turns.free == 0  # b holds it
        turns.give()
        assert turns.free == 1
        try:
            await a
        except asyncio.CancelledError:
            pass
        await b

    asyncio.run(main())


def _failing_once(real):
    """``real`` (a coroutine function), whose first call fails for want of heap."""
    calls = [0]

    async def fake(*args):
        calls[0] += 1
        if calls[0] == 1:
            raise MemoryError
        return await real(*args)

    return fake


def _free_port():
    for port in range(47300, 47400):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port")


async def _request(port, path, first_chunk_only=False):
    """The raw answer to GET ``path`` (headers and body); with ``first_chunk_only``: (the
    first bytes of the body, the still open writer)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(("GET %s HTTP/1.0\r\nHost: t\r\n\r\n" % path).encode())
    await w.drain()
    data = b""
    while True:
        chunk = await r.read(512)
        data += chunk
        if not chunk or (first_chunk_only and b"\r\n\r\n" in data and
                         not data.endswith(b"\r\n\r\n")):
            break
    if first_chunk_only:
        return data, w
    w.close()
    await w.wait_closed()
    return data


async def _serving(app, body):
    """Run ``body(port)`` against ``app`` listening on a free loopback port, then shut it down."""
    port = _free_port()
    server = asyncio.create_task(app.start_server(host="127.0.0.1", port=port))
    try:
        await _until(lambda: app.server is not None, "listening")
        await body(port)
    finally:
        app.shutdown()
        try:
            await asyncio.wait_for(server, 5)
        except asyncio.CancelledError:
            pass


def test_one_handler_at_a_time_and_the_live_stream_gives_its_turn_back():
    from microdot import Response

    from gateway.web.guard import HANDLE, PHASE, GuardedMicrodot

    async def main():
        app = GuardedMicrodot(max_handlers=1)
        release, end = asyncio.Event(), asyncio.Event()
        entered = []

        @app.get("/hold")
        async def hold(req):
            entered.append("hold")
            await release.wait()
            return "held"

        @app.get("/quick")
        async def quick(req):
            entered.append("quick")
            return "quick"

        class Ticks:  # an async iterator (MicroPython has no async generators)
            sent = False

            def __aiter__(self):
                return self

            async def __anext__(self):
                if not self.sent:
                    self.sent = True
                    return b"tick\n"
                await end.wait()
                raise StopAsyncIteration

        @app.get("/live")
        async def live(req):
            res = Response(Ticks(), 200, {"Content-Type": "text/plain"})
            res.long_lived = True
            return res

        async def body(port):
            held = asyncio.create_task(_request(port, "/hold"))
            await _until(lambda: entered == ["hold"], "/hold in its handler")
            quick = asyncio.create_task(_request(port, "/quick"))
            # the second request is read and waits for the turn, its handler not entered
            await _until(lambda: app.turns.waiting() == 1, "/quick waiting its turn")
            assert sum(1 for s in app.slots if s[PHASE] == HANDLE) == 2
            assert entered == ["hold"]
            release.set()
            assert (await held).endswith(b"held")
            assert (await quick).endswith(b"quick")
            assert entered == ["hold", "quick"] and app.turns.free == 1

            first, writer = await _request(port, "/live", first_chunk_only=True)
            assert first.endswith(b"tick\n"), first
            # the stream is open and its turn given back: another request is answered
            answer = await asyncio.wait_for(_request(port, "/quick"), 5)
            assert answer.endswith(b"quick")
            end.set()
            writer.close()
            await writer.wait_closed()
            await _until(lambda: app.turns.free == 1 and app.busy()[0] == 0, "all closed")

        await _serving(app, body)

    asyncio.run(main())


def test_a_turn_holder_stuck_on_io_is_dropped_sooner_while_others_wait():
    from microdot import Request

    from gateway.web.guard import GuardedMicrodot

    async def main():
        # io_ms 8 s; while a request waits for the turn a stuck one is dropped after 2 s
        app = GuardedMicrodot(max_handlers=1, io_ms=8000)
        entered = []

        @app.post("/upload")
        async def upload(req):  # a body longer than microdot reads first: the handler reads
            entered.append("upload")
            await req.stream.read(100)
            return "read"

        @app.get("/quick")
        async def quick(req):
            return "quick"

        async def body(port):
            _r, stuck = await asyncio.open_connection("127.0.0.1", port)
            stuck.write(b"POST /upload HTTP/1.0\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            await stuck.drain()  # and no body: the handler waits on its read
            await _until(lambda: entered == ["upload"], "/upload reading its body")
            quick = asyncio.create_task(_request(port, "/quick"))
            await _until(lambda: app.turns.waiting() == 1, "/quick waiting its turn")
            answer = await asyncio.wait_for(quick, 6)  # well before the 8 s io deadline
            assert answer.endswith(b"quick") and app.dropped == 1
            stuck.close()

        await _serving(app, body)

    limits = Request.max_body_length, Request.max_content_length
    Request.max_body_length, Request.max_content_length = 1024, 1 << 20  # as web/server.py
    try:
        asyncio.run(main())
    finally:
        Request.max_body_length, Request.max_content_length = limits


def _ok_app():
    """A guarded server answering GET /ok with "fine"."""
    from gateway.web.guard import GuardedMicrodot

    app = GuardedMicrodot()

    @app.get("/ok")
    def ok(req):
        return "fine"

    return app


def test_the_prepared_busy_answer_is_whole_http_with_its_code():
    """BUSY is written by hand (it must allocate nothing when sent): its length is right and
    its body is an error like every other, with the code the page translates."""
    from gateway.web.guard import BUSY

    head, body = BUSY.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.0 503 Service Unavailable"
    fields = dict(x.split(b": ", 1) for x in lines[1:])
    assert int(fields[b"Content-Length"]) == len(body) and fields[b"Retry-After"] == b"2"
    assert json.loads(body) == {"error": "busy, try again", "code": "busy"}


def test_a_connection_the_heap_cannot_take_is_answered_busy_and_closed():
    """Not even the request's coroutine could be made (the emulated WROOM): the server's own
    503, the connection closed, the server still listening."""
    from gateway.web.guard import BUSY

    async def main():
        app = _ok_app()
        real = app.handle_request

        def no_heap(reader, writer):
            raise MemoryError

        async def body(port):
            app.handle_request = no_heap
            assert await _request(port, "/ok") == BUSY  # then closed: the read ended
            assert app.faults == 1
            app.handle_request = real
            assert (await _request(port, "/ok")).endswith(b"\r\n\r\nfine")

        await _serving(app, body)

    asyncio.run(main())


def test_a_connection_the_heap_cannot_give_a_stream_is_answered_busy_and_the_server_listens_on():
    """The heap is out before the connection has a stream or a task (the listener's accept
    loop, gateway/lib/listener.py): the same 503, counted as a fault, and the next served."""
    from gateway.lib import listener
    from gateway.web.guard import BUSY

    async def main():
        app = _ok_app()
        real = listener._streams

        async def body(port):
            listener._streams = _failing_once(real)
            try:
                assert await _request(port, "/ok") == BUSY
                assert app.faults == 1 and app.server.refused == 1
                assert (await _request(port, "/ok")).endswith(b"\r\n\r\nfine")
            finally:
                listener._streams = real

        await _serving(app, body)

    asyncio.run(main())
