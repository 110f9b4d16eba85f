"""/api/live (on demand): Server-Sent Events for the page's live values, without polling.

GET /api/live with "Accept: text/event-stream" (what EventSource sends) sends, after
each poll cycle (at most every
MIN_GAP_MS): ``event: readings`` (the /api/readings object), ``event: genset`` ({"relay",
"state", "mode", "reason", ...}) and ``event: status`` ({"time", "uptime_s", "mqtt"}) when they
changed (``status`` carries ``setup_left_s``, the PRG button's Wi-Fi setup window, else null:
the page shows it); a comment line every HEARTBEAT_S keeps proxies and the browser from timing out.
At most MAX_CLIENTS streams at once (429 {"code": "busy"} beyond: the page polls instead); a
stream ends when its session does. Without that Accept header: one JSON snapshot
{"readings", "genset", "status"} (scripts, and the API fuzzer, get an answer that ends). Each message is written piece by piece (one meter at a time):
the heap never holds the whole readings text. A tenant gets its own meters' readings only.
"""
import asyncio
import json

from microdot import Response

from gateway.core.ticks import ticks_diff, ticks_ms
from gateway.web.http import error, plain

MAX_CLIENTS = 2
HEARTBEAT_S = 15
MIN_GAP_MS = 1000
SESSION_CHECK_MS = 30000
GENSET_KEYS = ("relay", "state", "mode", "reason", "running_since", "error", "soc", "battery_v")


def _genset(ctx):
    g = ctx.genset
    if g is None:
        return None
    st = g.controller.status()  # the state only: no copy of the configuration
    st["mode"] = g.controller.config["mode"]
    return dict((k, st.get(k)) for k in GENSET_KEYS)


def _status(ctx):
    mq = ctx.mqtt
    m = mq.status() if mq is not None else {}
    until = ctx.wifi.sup._setup_until  # the PRG button's Wi-Fi setup window
    return {"time": ctx.now(), "uptime_s": ctx.uptime_s(),
            "setup_left_s": max(0, int(until - ctx.wifi.clock())) if until is not None else None,
            "mqtt": {"connected": bool(m.get("connected")), "last_error": m.get("last_error") or ""}}


class LiveStream:
    """The response body: an async iterator of text pieces (microdot writes each as it comes)."""

    def __init__(self, ctx, token, scope):
        self.ctx = ctx
        self.token = token
        self.scope = scope  # None: every meter and the device's state; a tenant: its meters only
        self.parts = iter(("retry: 3000\n\n",))
        self.sent_ms = None
        self.checked_ms = ticks_ms()
        self.last = {}
        self.closed = False
        self.pulled_ms = ticks_ms()  # microdot asks for the next piece once the last one is sent
        _streams(ctx).append(self)

    def __aiter__(self):
        return self

    async def __anext__(self):
        self.pulled_ms = ticks_ms()
        while not self.closed:
            if self.parts is not None:
                try:
                    return next(self.parts)
                except StopIteration:
                    self.parts = None
            self.parts = await self._wait()
        raise StopAsyncIteration

    async def _wait(self):
        """The next message's pieces: after a poll cycle, or a keep-alive comment."""
        if self.sent_ms is not None:
            rest = MIN_GAP_MS - ticks_diff(ticks_ms(), self.sent_ms)
            if rest > 0:
                await asyncio.sleep(rest / 1000)
            try:
                await asyncio.wait_for(self.ctx.meters.poller.cycle_event.wait(), HEARTBEAT_S)
            except asyncio.TimeoutError:
                return iter((": keep-alive\n\n",))
        now = ticks_ms()
        if ticks_diff(now, self.checked_ms) > SESSION_CHECK_MS:
            self.checked_ms = now
            if self.ctx.sessions.check(self.token, self.ctx.now()) is None:
                await self.aclose()
                return iter(("event: end\ndata: {}\n\n",))
        self.sent_ms = now
        return self._message()

    def _changed(self, name, value):
        if value is None or self.last.get(name) == value:
            return False
        self.last[name] = value
        return True

    def _message(self):
        ctx = self.ctx
        yield "event: readings\ndata: "
        for piece in _readings(ctx, self.scope):
            yield piece
        yield "\n\n"
        if self.scope is not None:
            return
        gs = _genset(ctx)
        if self._changed("genset", gs):
            yield "event: genset\ndata: %s\n\n" % json.dumps(gs)
        st = _status(ctx)
        setup = st["setup_left_s"]
        if (self._changed("mqtt", st["mqtt"]) or self._changed("minute", st["time"] // 60)
                or self._changed("setup", -1 if setup is None else setup // 30)):
            yield "event: status\ndata: %s\n\n" % json.dumps(st)

    async def aclose(self):
        self.closed = True
        s = _streams(self.ctx)
        if self in s:
            s.remove(self)

    def stale(self, now):
        """Not asked for a piece for longer than a live stream ever waits: its client is gone
        (a failed write ends the response without always closing the iterator)."""
        return ticks_diff(now, self.pulled_ms) > (HEARTBEAT_S + MIN_GAP_MS // 1000 + 5) * 1000


def _streams(ctx):
    return ctx.live_streams


def _readings(ctx, scope):
    """The readings as a JSON object, one meter at a time (``scope``: a tenant's meters)."""
    yield "{"
    first = True
    for mid, r in ctx.meters.poller.readings().items():
        if scope is not None and mid not in scope:
            continue
        yield ("%s: %s" if first else ", %s: %s") % (json.dumps(mid), json.dumps(plain(r)))
        first = False
    yield "}"


def _snapshot(ctx, scope):
    """The one-off answer {"readings", "genset", "status"}, one meter at a time."""
    yield '{"readings": '
    for piece in _readings(ctx, scope):
        yield piece
    if scope is not None:
        yield ', "genset": null, "status": {}}'
    else:
        yield ', "genset": %s, "status": %s}' % (json.dumps(_genset(ctx)), json.dumps(_status(ctx)))


def live(ctx, req):
    from gateway.web.http import meter_scope

    scope = meter_scope(ctx, req)  # a tenant sees its own meters' readings, nothing else
    if "text/event-stream" not in req.headers.get("Accept", ""):
        return Response(_snapshot(ctx, scope), 200,
                        {"Content-Type": "application/json; charset=UTF-8"})
    now = ticks_ms()
    for s in [s for s in _streams(ctx) if s.stale(now)]:
        s.closed = True
        _streams(ctx).remove(s)
    if len(_streams(ctx)) >= MAX_CLIENTS:
        return error(429, "too many live streams, poll /api/readings", None, "busy")
    from gateway.web.server import SESSION_COOKIE

    res = Response(LiveStream(ctx, req.cookies.get(SESSION_COOKIE), scope), 200, {
        "Content-Type": "text/event-stream; charset=UTF-8", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no"})
    res.long_lived = True  # open for as long as the page is: not one of the handler turns
    return res


ROUTES = (
    ("GET", "live", "tenant", live),
)
