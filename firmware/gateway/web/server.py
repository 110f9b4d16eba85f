"""The microdot application: sessions, CSRF origin check, JSON errors, resident routes.

Resident (always in RAM): status, login/logout, live readings, the page. Every other /api/<group>
is served by a module loaded for the request (gateway.web.dispatch).
"""
import gc
import sys

from microdot import Microdot, Request, Response

from gateway import VERSION
from gateway.core import ondemand
from gateway.core.errors import ValidationError
from gateway.web.dispatch import dispatch
from gateway.web.http import error, json_body, require, stream

SESSION_COOKIE = "sid"
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]

BODY_MAX = 4 * 1024  # larger bodies get 413 (every JSON body is smaller), but on upload routes
DRAIN_MAX = 16 * 1024  # a refused body up to this is read and dropped: the client gets the 413
UPLOAD_MAX = 1024 * 1024  # the upload routes read their body in chunks (gateway.web.api_backup)
UPLOAD_PATHS = ("/api/firmware", "/api/restore")
Request.max_content_length = UPLOAD_MAX  # larger: 413 at once, the body unread
Request.max_body_length = BODY_MAX  # a larger body is left unread: req.stream is the socket


def _origin_host(origin):
    # "http://192.168.4.1:8080" -> "192.168.4.1:8080"
    i = origin.find("://")
    return origin[i + 3:] if i >= 0 else origin


def _client(req):
    addr = req.client_addr
    return addr[0] if isinstance(addr, (tuple, list)) else str(addr)


def session_cookie(res, token, max_age):
    res.headers["Set-Cookie"] = "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d" % (
        SESSION_COOKIE, token, max_age)
    return res


def build_app(ctx):
    app = Microdot()

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
            if origin and _origin_host(origin) not in ctx.own_hosts(req):
                return error(403, "cross-origin request refused")

    @app.errorhandler(ValidationError)
    def bad_input(req, exc):
        return error(400, exc.message, exc.field)

    @app.errorhandler(MemoryError)
    def out_of_memory(req, exc):
        gc.collect()
        return error(503, "busy, try again")

    for code, text in ((404, "not found"), (405, "method not allowed"),
                       (413, "request body too large"), (500, "internal error")):
        app.errorhandler(code)(lambda req, text=text, code=code: error(code, text))

    @app.get("/api/status")
    def status(req):
        gc.collect()
        return {
            "firmware": VERSION,
            "implementation": sys.implementation.name,
            "board": ctx.board.get("name"),
            "serial": ctx.identity["serial"],
            "uptime_s": ctx.uptime_s(),
            "time": ctx.now(),
            "mem_free": gc.mem_free(),
            "mem_alloc": gc.mem_alloc(),
            "wifi": {"mode": ctx.wifi.mode(), "state": ctx.wifi.sup.state},
            "reset_cause": ctx.reset_cause,
        }

    @app.post("/api/login")
    async def login(req):
        data = json_body(req)
        now = ctx.now()
        key = _client(req)
        ok, retry = ctx.throttle.allowed(key, now)
        if not ok:
            return Response({"error": "too many attempts", "retry_after_s": retry}, 429,
                            {"Retry-After": str(retry)})
        name = data.get("user")
        # hashing yields to the loop; unknown names cost the same (no user enumeration)
        rec = await ondemand.acall("gateway.core.passwords", "authenticate_async",
                                   ctx.users.records(), name, data.get("password"))
        if rec is None:
            ctx.throttle.failure(key, now)
            return error(401, "wrong user or password")
        ctx.throttle.success(key)
        token = ctx.sessions.new(name, rec["role"], now)
        res = Response({"user": name, "role": rec["role"], "must_change": bool(rec.get("must_change"))})
        return session_cookie(res, token, ctx.sessions.ttl_s)

    @app.post("/api/logout")
    def logout(req):
        token = req.cookies.get(SESSION_COOKIE)
        if token:
            ctx.sessions.revoke(token)
        return session_cookie(Response({"ok": True}), "", 0)

    @app.get("/api/readings")
    @require("user")
    def readings(req):
        return stream(ctx.meters.poller.readings())

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
