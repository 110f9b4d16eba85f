"""The HTTP server's door: a bounded number of connections, each with read/write deadlines.

microdot (from its package) serves one request per connection; this subclass replaces its
listener (``gateway.lib.listener``, whose accept loop a MemoryError cannot end) and its
per-connection entry point (``handle_request``):

- at most ``max_conn`` connections hold a slot; a new connection takes the slot of the oldest
  one still sending its request head (a slow or idle client is dropped for it); when every slot
  is busy in a handler, the new connection is closed at once;
- the request head (request line, at most ``MAX_HEADER_LINES`` headers and a small body) must
  arrive within ``head_ms`` of the accept; any later read or write that makes no progress for
  ``io_ms`` (a body shorter than its Content-Length, a client that does not read its answer)
  ends the connection;
- at most ``max_handlers`` of them run a handler and write its answer at once; the others,
  their request read, wait their turn (oldest first). A handler's transient heap (the request,
  its answer, the JSON or the chunk being written) is the most a request adds to the heap, so
  this bounds the HTTP server's share of it; a long-lived answer (``Response.long_lived``: the
  live event stream) gives its turn back before it starts; while requests wait for a turn, a
  read or write making no progress ends its connection after ``io_ms // 4`` (a client that
  does not read its answer cannot hold the others up for long); where it is 1 (the WROOM
  tier), MQTT's discovery announcement takes a turn too (services/mqtt_setup.py);
- a connection the heap cannot take (not even its coroutine or its stream) is answered with the
  prepared 503 ``BUSY`` and closed, allocating nothing;
- a reaper task checks the slots every second and counts its rounds (``beats``): the task
  supervisor's heartbeat for the web service.

The peer address is normalised to ``(ip, port)`` whatever the network stack gives (the unix
port hands out raw sockaddr bytes).
"""
import asyncio
import sys

from microdot import Microdot, Request, Response

from gateway.core.errors import ValidationError
from gateway.core.ticks import sleep_ms, ticks_diff, ticks_ms
from gateway.lib.listener import close_socket, listen

MAX_CONN = 8  # a browser opens up to 6 at once; each costs a task, a request and its buffers
HEAD_MS = 5000  # request line + headers (+ a body up to Request.max_body_length)
IO_MS = 10000  # one read or write making no progress
MAX_HEADER_LINES = 40
MAX_HANDLERS = 8  # requests handled at once (a board file's http_handlers; the WROOM's: 1)
# the answer to a request the heap could not take before its response began (reading it,
# building the answer): made once, so that sending it allocates nothing but the write
BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Content-Length: 44\r\nRetry-After: 2\r\nConnection: close\r\n\r\n"
        b'{"error": "busy, try again", "code": "busy"}')

# slot fields: the connection's task, its phase, when it started, since when it waits on I/O
TASK, PHASE, START, WAIT = 0, 1, 2, 3
FREE, HEAD, HANDLE = 0, 1, 2


def peer(addr):
    """(ip, port) of a peer address: a tuple already, or sockaddr_in bytes (unix port)."""
    if isinstance(addr, (tuple, list)):
        return (str(addr[0]), addr[1] if len(addr) > 1 else 0)
    if isinstance(addr, (bytes, bytearray)) and len(addr) >= 8:
        return ("%d.%d.%d.%d" % (addr[4], addr[5], addr[6], addr[7]), (addr[2] << 8) | addr[3])
    return (str(addr), 0)


class _Timed:
    """The connection's stream as microdot sees it: every read and write is timed."""

    def __init__(self, slot, reader, writer):
        self.slot = slot
        self.s = reader
        self.w = writer  # the same stream on MicroPython
        self.lines = 0

    async def readline(self):
        if self.slot[PHASE] == HEAD:
            self.lines += 1
            if self.lines > MAX_HEADER_LINES + 1:
                raise ValueError("too many header lines")
        self.slot[WAIT] = ticks_ms()
        r = await self.s.readline()
        self.slot[WAIT] = None
        return r

    async def read(self, n=-1):
        self.slot[WAIT] = ticks_ms()
        r = await self.s.read(n)
        self.slot[WAIT] = None
        return r

    async def readexactly(self, n):
        self.slot[WAIT] = ticks_ms()
        r = await self.s.readexactly(n)
        self.slot[WAIT] = None
        return r

    async def awrite(self, data):
        self.slot[WAIT] = ticks_ms()
        self.w.write(data)  # write + drain: MicroPython's awrite, and CPython's streams (tests)
        await self.w.drain()
        self.slot[WAIT] = None

    def get_extra_info(self, name):
        return self.s.get_extra_info(name)


_SINK = bytearray(256)  # a refused request's bytes are read into this and dropped


def refuse(sock):
    """Answer "busy" on a connection's socket with nothing allocated (the heap is out): the
    request bytes already received are read and dropped first, so that the close that follows
    is not a reset, which can lose the answer. The caller closes it."""
    drain = getattr(sock, "readinto", None) or sock.recv_into  # MicroPython / CPython
    n = 0
    try:
        while n < 16 and drain(_SINK):
            n += 1
    except Exception:  # nothing more to read (EAGAIN), or gone
        pass
    try:
        sock.send(BUSY)
    except Exception:
        pass


def _refuse(reader, writer):
    """``refuse`` on MicroPython's streams, then closed at once: not even a coroutine could be
    made. False on CPython's streams (the core tests), which have no socket to read without
    awaiting: use ``_busy``."""
    sock = getattr(reader, "s", None)
    if sock is None:
        return False
    refuse(sock)
    close_socket(sock)  # (MicroPython's Stream.close() leaves that to wait_closed(), a coroutine)
    return True


async def _busy(reader, writer):
    """``_refuse`` on CPython's streams: answer "busy", then read what the client sent (up to
    1 KiB, 1 s) so that the close is not a reset, which can lose the answer."""
    try:
        writer.write(BUSY)
        await writer.drain()
        await asyncio.wait_for(reader.read(1024), 1)
    except Exception:  # gone, or still no heap: closed all the same
        pass


async def _close(stream):
    try:
        stream.close()
        await stream.wait_closed()
    except Exception:  # already gone
        pass


class Turns:
    """At most ``n`` holders at once; the others wait in ``take`` until one ``give``s back."""

    def __init__(self, n):
        self.size = n
        self.free = n
        self.queue = []  # the waiters' events, oldest first

    async def take(self):
        if self.free > 0 and not self.queue:
            self.free -= 1
            return
        ev = asyncio.Event()
        self.queue.append(ev)
        try:
            await ev.wait()  # give() handed its turn to this waiter
        except BaseException:
            if ev in self.queue:
                self.queue.remove(ev)
            else:  # handed over while cancelled: pass it on
                self.give()
            raise

    def give(self):
        if self.queue:
            self.queue.pop(0).set()
        else:
            self.free += 1

    def waiting(self):
        return len(self.queue)


class GuardedMicrodot(Microdot):
    def __init__(self, max_conn=MAX_CONN, head_ms=HEAD_MS, io_ms=IO_MS, max_handlers=MAX_HANDLERS):
        super().__init__()
        self.turns = Turns(max(1, min(max_handlers, max_conn)))
        self.head_ms = head_ms
        self.io_ms = io_ms
        self.slots = [[None, FREE, 0, None] for _ in range(max_conn)]
        self.beats = 0  # reaper rounds: the web service's heartbeat
        self.dropped = 0  # connections ended by a deadline or for a newer one
        self.refused = 0  # connections closed at once: every slot busy in a handler
        self.faults = 0  # unexpected exceptions in handlers (a traceback each) since boot

    def _take(self, task, now):
        """A free slot, else the slot of the oldest connection still sending its head (whose
        task is cancelled), else None."""
        oldest = None
        for s in self.slots:
            if s[PHASE] == FREE:
                oldest = s
                break
            if s[PHASE] == HEAD and (oldest is None or ticks_diff(s[START], oldest[START]) < 0):
                oldest = s
        if oldest is None:
            return None
        if oldest[PHASE] != FREE:
            self._drop(oldest)
        oldest[TASK], oldest[PHASE], oldest[START], oldest[WAIT] = task, HEAD, now, None
        return oldest

    def _drop(self, s):
        t = s[TASK]
        s[TASK], s[PHASE], s[WAIT] = None, FREE, None
        self.dropped += 1
        if t is not None:
            try:
                t.cancel()
            except Exception:  # finished meanwhile
                pass

    async def _reap(self):
        while True:
            try:
                now = ticks_ms()
                io_ms = self.io_ms // 4 if self.turns.waiting() else self.io_ms
                for s in self.slots:
                    if s[PHASE] == HEAD and ticks_diff(now, s[START]) > self.head_ms:
                        self._drop(s)
                    elif s[WAIT] is not None and ticks_diff(now, s[WAIT]) > io_ms:
                        self._drop(s)
                self.beats += 1
            except Exception:  # never let the reaper die
                pass
            await sleep_ms(1000)

    async def start_server(self, host="0.0.0.0", port=5000, debug=False, ssl=None):
        """Listen until the server is shut down, with the reaper running."""
        self.ssl, self.debug = ssl, debug
        reaper = asyncio.create_task(self._reap())
        try:
            self.server = await self.listen(host, port)
            await self.server.wait_closed()
        finally:
            reaper.cancel()

    def listen(self, host, port):
        """A listener on ``host:port`` feeding this server (a coroutine: the Server): each
        connection is ``_serve``'s, not microdot's callback, which a MemoryError left unanswered
        and open; one the heap cannot take at all is answered "busy" by the listener."""
        return listen(self._serve, host, port, self._refused)

    def _refused(self, sock):
        self.faults += 1
        refuse(sock)

    async def _serve(self, reader, writer):
        try:
            await self.handle_request(reader, writer)
        except MemoryError:  # not even its coroutine could be made: "busy", and closed
            self.faults += 1
            if not _refuse(reader, writer):
                await _busy(reader, writer)
                await _close(writer)

    async def handle_request(self, reader, writer):
        me = asyncio.current_task()
        slot = self._take(me, ticks_ms())
        if slot is None:
            self.refused += 1
            await _close(writer)
            return
        conn = _Timed(slot, reader, writer)
        res = None
        sending = False  # the response has begun: a fault can only cut it
        try:
            req = None
            try:
                req = await Request.create(self, conn, conn, peer(writer.get_extra_info("peername")))
            except (ValueError, IndexError, UnicodeError) as e:  # malformed: 400, one line
                print("http 400: malformed request: %s" % e)
                res = Response({"error": "bad request"}, 400)
            if req is None and res is None:  # closed before a request line
                return
            if slot[TASK] is not me:
                return
            slot[PHASE] = HANDLE
            await self.turns.take()
            turn = True
            try:
                if res is None:
                    res = await self.dispatch_request(req)
                if getattr(res, "long_lived", False):
                    turn = False
                    self.turns.give()
                if res != Response.already_handled:
                    sending = True
                    await res.write(conn)
            finally:
                if turn:
                    self.turns.give()
        except asyncio.CancelledError:  # dropped: a deadline, or a newer connection
            pass
        except OSError:  # the client went away
            pass
        except MemoryError:  # the server and the other connections go on
            self.faults += 1
            if not sending and not _refuse(reader, writer):  # "busy", not closed unanswered
                await _busy(reader, writer)
        finally:
            if slot[TASK] is me:
                slot[TASK], slot[PHASE], slot[WAIT] = None, FREE, None
            body = getattr(res, "body", None)
            if hasattr(body, "close"):  # a file or generator left half-sent
                try:
                    body.close()
                except Exception:
                    pass
            await _close(writer)

    def busy(self):
        """(connections holding a slot, slots)."""
        return sum(1 for s in self.slots if s[PHASE] != FREE), len(self.slots)


def report_faults(app):
    """microdot prints a traceback for every exception a handler raises, a refused form
    (ValidationError -> 400) included: one console line for those, the traceback only for real
    faults, counted in ``app.faults`` (GET /api/status "faults")."""
    import microdot.microdot as md

    def report(exc):
        try:
            if isinstance(exc, ValidationError):
                print("http 400: %s: %s" % (exc.field, exc.message))
                return
            app.faults += 1
            if isinstance(exc, MemoryError):  # a traceback would need the heap that is missing
                print("http fault: MemoryError")
                return
            print("http fault %d:" % app.faults)
            if hasattr(sys, "print_exception"):
                sys.print_exception(exc)
            else:
                print(repr(exc))
        except Exception:  # short of heap: the counter says it
            pass

    md.print_exception = report
