"""Captive-portal DNS server: UDP port 53, every A question answered with the AP address.

One non-blocking UDP socket served by one asyncio task; the packet logic is gateway.core.dns.
Waiting for a datagram never blocks the loop: on MicroPython the task parks on asyncio's own
poller (the mechanism asyncio's streams use), on CPython on ``loop.add_reader``; if neither is
available it polls the socket every ``poll_ms``.

Bounded work: datagrams are read into at most ``MAX_PACKET`` bytes, one answer costs O(packet)
(see gateway.core.dns), at most ``burst`` datagrams are handled before the task yields, and at
most ``rate`` answers are sent per second (more are read and dropped), so a flooding client
cannot starve Modbus polling or the web server.

    dns = CaptiveDNS("192.168.4.1")
    dns.start()            # binds now (errors surface here), runs as task "captive_dns"
    ...
    await dns.stop()       # cancels the task, closes the socket
"""

import asyncio
import socket
import sys

from gateway.core import dns as _dns
from gateway.core.ticks import sleep_ms, ticks_diff, ticks_ms

MAX_PACKET = 512
_MP = sys.implementation.name == "micropython"
_EAGAIN = (11, 35, 115)  # EAGAIN (Linux/lwIP), EAGAIN (BSD/macOS), EINPROGRESS (lwIP)

try:  # MicroPython: asyncio's I/O poller
    from asyncio import core as _core

    _ioq = _core._io_queue
except Exception:  # CPython, or an asyncio without it
    _ioq = None


async def _mp_wait_readable(sock):
    # MicroPython only: a generator-based coroutine that parks the task on asyncio's poller
    # until ``sock`` is readable (how asyncio.StreamReader waits).
    yield _ioq.queue_read(sock)


class CaptiveDNS:
    """DNS responder for the captive portal.

    ``ip``: the address every A question gets (may be changed at run time via ``.ip``);
    ``port``/``host``: where to listen (port 0 = any free port, CPython tests).
    Counters: ``answered``, ``dropped`` (not answered: responses, junk, over rate), ``errors``.
    """

    def __init__(self, ip, port=53, host="0.0.0.0", burst=8, rate=100, poll_ms=50):
        _dns.ip_bytes(ip)  # fail early on a bad address
        self.ip = ip
        self.host = host
        self.want_port = port
        self.burst = burst
        self.rate = rate
        self.poll_ms = poll_ms
        self.sock = None
        self.task = None
        self.answered = 0
        self.dropped = 0
        self.errors = 0
        self._win_start = ticks_ms()
        self._win_count = 0

    # -- socket ------------------------------------------------------------------------------

    def open(self):
        """Create and bind the non-blocking UDP socket (idempotent)."""
        if self.sock is not None:
            return self.sock
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            except Exception:
                pass
            s.bind(socket.getaddrinfo(self.host, self.want_port)[0][-1])
            s.setblocking(False)
        except Exception:
            s.close()
            raise
        self.sock = s
        return s

    @property
    def port(self):
        """The bound port (CPython reports the real one for port 0)."""
        if self.sock is not None and hasattr(self.sock, "getsockname"):
            return self.sock.getsockname()[1]
        return self.want_port

    def close(self):
        """Close the socket (stop the task first, or it ends with an error)."""
        if self.sock is not None:
            try:
                self.sock.close()
            except Exception:
                pass
            self.sock = None

    # -- packets -----------------------------------------------------------------------------

    def _over_rate(self):
        now = ticks_ms()
        if ticks_diff(now, self._win_start) >= 1000:
            self._win_start = now
            self._win_count = 0
        self._win_count += 1
        return self._win_count > self.rate

    def handle(self, data, addr):
        """Answer one datagram (synchronous, bounded). Returns the bytes sent or None."""
        if self._over_rate():
            self.dropped += 1
            return None
        try:
            resp = _dns.answer(data, self.ip)
        except Exception:  # only a bad self.ip can get here; never kill the server
            resp = None
            self.errors += 1
        if resp is None:
            self.dropped += 1
            return None
        try:
            self.sock.sendto(resp, addr)
        except OSError:  # full send buffer / ENOMEM on lwIP: the client will retry
            self.errors += 1
            return None
        self.answered += 1
        return resp

    def _drain(self):
        """Handle up to ``burst`` waiting datagrams; returns how many were read."""
        n = 0
        while n < self.burst:
            try:
                data, addr = self.sock.recvfrom(MAX_PACKET)
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    break
                if getattr(e, "errno", None) in _EAGAIN:
                    break
                self.errors += 1  # e.g. ICMP port unreachable reported on a UDP socket
                break
            n += 1
            self.handle(data, addr)
        return n

    # -- task --------------------------------------------------------------------------------

    async def _wait(self):
        if _MP and _ioq is not None:
            await _mp_wait_readable(self.sock)
            return
        if not _MP:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            fd = self.sock.fileno()

            def ready():
                if not fut.done():
                    fut.set_result(None)

            loop.add_reader(fd, ready)
            try:
                await fut
            finally:
                loop.remove_reader(fd)
            return
        await sleep_ms(self.poll_ms)

    async def serve(self):
        """Serve until cancelled (opens the socket if needed; closes it on the way out)."""
        self.open()
        try:
            while True:
                await self._wait()
                self._drain()
                await asyncio.sleep(0)
        finally:
            self.close()

    def start(self, name="captive_dns"):
        """Bind now and run ``serve`` as an asyncio task (named where asyncio supports it)."""
        if self.task is not None:
            return self.task
        self.open()
        coro = self.serve()
        try:
            self.task = asyncio.create_task(coro, name=name)
        except TypeError:  # MicroPython's create_task takes no name
            self.task = asyncio.create_task(coro)
        return self.task

    async def stop(self):
        """Cancel the task, wait for it to end, close the socket."""
        t = self.task
        self.task = None
        if t is not None:
            t.cancel()
            try:
                await t
            except asyncio.CancelledError:
                pass
            except Exception:
                self.errors += 1
        self.close()
