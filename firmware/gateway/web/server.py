"""The microdot application: sessions, CSRF checks, JSON errors, resident routes.

The server itself is gateway.web.guard (bounded connections with deadlines); the checks before
every handler (CSRF token, JSON bodies, forced password change) are gateway.web.access.

Resident (always in RAM): status, login/logout, live readings, the page. Every other /api/<group>
is served by a module loaded for the request (gateway.web.dispatch).
"""
import gc
import sys

from microdot import Request, Response

from gateway import VERSION
from gateway.core import ondemand
from gateway.core.errors import ValidationError
from gateway.drivers.board import code_location
from gateway.services import heapmark
from gateway.services.optional import left_out
from gateway.web import access
from gateway.web.dispatch import dispatch
from gateway.web.guard import MAX_HANDLERS, GuardedMicrodot, report_faults
from gateway.web.http import error, meter_scope, plain, require, stream

SESSION_COOKIE = "sid"
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]

BODY_MAX = 4 * 1024  # larger bodies get 413 (every JSON body is smaller), but on upload routes
DRAIN_MAX = 16 * 1024  # a refused body up to this is read and dropped: the client gets the 413
UPLOAD_MAX = 2 * 1024 * 1024  # the largest upload, a firmware bundle (api_firmware.FIRMWARE_MAX); read in chunks
UPLOAD_PATHS = ("/api/firmware", "/api/restore")
Request.max_content_length = UPLOAD_MAX  # larger: 413 at once, the body unread
Request.max_body_length = BODY_MAX  # a larger body is left unread: req.stream is the socket


def _origin_host(origin):
    # "http://192.168.4.1:8080" -> "192.168.4.1:8080"
    i = origin.find("://")
    return origin[i + 3:] if i >= 0 else origin


def _trusted_origin(host, req, ctx):
    """Beyond the device's own names and addresses (ctx.own_hosts): the page opened by IPv4
    address, the one this request is sent to (a router's NAT or port forwarding: an address the
    device cannot know), by the device's network name under any domain a router gives it
    ("dingate-dg12ab34.fritz.box"), or by the DNS name the installer set (settings host_name,
    a dynamic-DNS name; any port: a router may forward another one). Any other name is
    refused: a foreign page can rebind its own name to the device, not an address, and it does
    not know the device's serial."""
    bare = host.split(":")[0].lower()
    if host == req.headers.get("Host") and bare.replace(".", "").isdigit():
        return True
    return bare.split(".")[0] == ctx.host_name() or bare == ctx.settings["host_name"]


def session_cookie(res, token, max_age):
    res.headers["Set-Cookie"] = "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d" % (
        SESSION_COOKIE, token, max_age)
    return res


def build_app(ctx):
    http = ctx.board.get("http", {})
    app = GuardedMicrodot(max_conn=http.get("max_connections", 8),
                          max_handlers=ctx.board.get("http_handlers", MAX_HANDLERS))
    report_faults(app)

    @app.before_request
    async def body_limit(req):
        n = req.content_length
        if n > BODY_MAX and req.path not in UPLOAD_PATHS:
            if n <= DRAIN_MAX:  # closing with unread bytes would reset the connection
                while n > 0:
                    chunk = await req.stream.read(min(n, 1024))
                    if not chunk:
                        break
                    n -= len(chunk)
            return error(413, "request body too large")

    @app.before_request
    def load_session(req):
        token = req.cookies.get(SESSION_COOKIE)
        req.g.session = ctx.sessions.check(token, ctx.now()) if token else None
        if req.method in WRITE_METHODS:
            origin = req.headers.get("Origin")
            host = origin and _origin_host(origin)
            if host and host not in ctx.own_hosts(req) and not _trusted_origin(host, req, ctx):
                return error(403, "cross-origin request refused")
        return access.check(ctx, req)

    @app.errorhandler(ValidationError)
    def bad_input(req, exc):
        return error(400, exc.message, exc.field, getattr(exc, "code", None), getattr(exc, "params", None))

    @app.errorhandler(MemoryError)
    def out_of_memory(req, exc):
        gc.collect()
        res = error(503, "busy, try again", None, "busy")
        res.headers["Retry-After"] = "2"  # as the server's own answer (web/guard.py BUSY)
        return res

    for code, text in ((404, "not found"), (405, "method not allowed"),
                       (413, "request body too large"), (500, "internal error")):
        app.errorhandler(code)(lambda req, text=text, code=code: error(code, text))

    @app.after_request
    def heap_after(req, res):
        heapmark.sample()
        return res

    @app.after_error_request
    def heap_after_error(req, res):
        heapmark.sample()
        return res

    @app.get("/api/status")
    def status(req):
        # no gc.collect() here: mem_alloc is the heap as it is (garbage included), mem_peak its
        # high-water mark since boot (gateway.services.heapmark)
        heapmark.sample()
        return {
            "firmware": VERSION,
            "implementation": sys.implementation.name,
            "board": ctx.board.get("name"),
            "code": code_location(),
            "serial": ctx.identity["serial"],
            "uptime_s": ctx.uptime_s(),
            "time": ctx.now(),
            "timezone": ctx.settings["timezone"],  # every date a page shows is the site's
            "mem_free": gc.mem_free(),
            "mem_alloc": gc.mem_alloc(),
            "mem_peak": heapmark.peak,
            "mem_live": heapmark.live,
            # what this board's heap cannot hold, from its board file (bench: heap_peak_bytes_esp32_*)
            "features_left_out": ctx.board.get("features_left_out") or [],
            "wifi": {"mode": ctx.wifi.mode(), "state": ctx.wifi.sup.state},
            "reset_cause": ctx.reset_cause,
            "faults": app.faults,  # unexpected exceptions (tracebacks) since boot
            "http": {"busy": app.busy()[0], "slots": len(app.slots), "dropped": app.dropped,
                     "refused": app.refused, "handlers": app.turns.size,
                     "waiting": app.turns.waiting()},
            "logins": {"failed": ctx.login_stats[0], "throttled": ctx.login_stats[1]},
        }

    @app.post("/api/login")
    async def login(req):
        return await ondemand.acall("gateway.web.api_login", "login", ctx, req, session_cookie)

    @app.post("/api/logout")
    def logout(req):
        token = req.cookies.get(SESSION_COOKIE)
        if token:
            ctx.sessions.revoke(token)
        return session_cookie(Response({"ok": True}), "", 0)

    @app.get("/api/readings")
    @require("tenant")
    def readings(req):
        rd = ctx.meters.poller.readings()
        sc = meter_scope(ctx, req)  # a tenant: its own meters only
        return stream(rd if sc is None else {k: rd[k] for k in rd if k in sc}, each=plain)

    @app.get("/metrics")
    async def metrics(req):
        # Prometheus scrapers send a bearer token instead of logging in (gateway.web.api_metrics)
        if req.g.session is None and "Authorization" in req.headers and not left_out(
                ctx.board, "metrics"):  # left out: dispatch answers "left_out"
            req.g.session = ondemand.call("gateway.web.api_metrics", "token_session", ctx, req)
        return await dispatch(ctx, req, "metrics", "scrape")

    @app.route("/api/<group>", methods=ALL_METHODS)
    async def api_group(req, group):
        return await dispatch(ctx, req, group, "")

    @app.route("/api/<group>/<path:rest>", methods=ALL_METHODS)
    async def api_sub(req, group, rest):
        return await dispatch(ctx, req, group, rest)

    for register in ctx.route_modules:
        register(app, ctx)

    @app.get("/<path:path>")
    def elsewhere(req, path):
        # the last route: microdot runs the before_request hooks (the captive portal's
        # redirects) only for a path that some route matches
        return error(404, "not found")

    return app
