"""The microdot application: sessions, CSRF origin check, JSON errors, and the API modules."""
from microdot import Microdot, Request, Response

from gateway.core.errors import ValidationError
from gateway.web.http import error

SESSION_COOKIE = "sid"
WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")

Request.max_content_length = 16 * 1024  # larger bodies get 413 (firmware upload streams)
Request.max_body_length = 4 * 1024


def _origin_host(origin):
    # "http://192.168.4.1:8080" -> "192.168.4.1:8080"
    i = origin.find("://")
    return origin[i + 3:] if i >= 0 else origin


def build_app(ctx):
    app = Microdot()

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

    @app.errorhandler(404)
    def not_found(req):
        return error(404, "not found")

    @app.errorhandler(405)
    def not_allowed(req):
        return error(405, "method not allowed")

    @app.errorhandler(413)
    def too_large(req):
        return error(413, "request body too large")

    @app.errorhandler(500)
    def internal(req):
        return error(500, "internal error")

    from gateway.web import api_auth, api_system, pages

    api_auth.register(app, ctx)
    api_system.register(app, ctx)
    for register in ctx.route_modules:
        register(app, ctx)
    pages.register(app, ctx)
    return app


def set_session_cookie(res, token, max_age):
    res.headers["Set-Cookie"] = "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d" % (
        SESSION_COOKIE, token, max_age)
    return res


def clear_session_cookie(res):
    res.headers["Set-Cookie"] = "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" % SESSION_COOKIE
    return res


__all__ = ["build_app", "set_session_cookie", "clear_session_cookie", "Response"]
