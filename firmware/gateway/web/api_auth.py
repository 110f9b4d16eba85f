"""/api/login, /api/logout, /api/me, /api/users (admin)."""
from microdot import Response

from gateway.core import auth
from gateway.web.http import error, json_body, require
from gateway.web.server import clear_session_cookie, set_session_cookie


def _client(req):
    addr = req.client_addr
    return addr[0] if isinstance(addr, (tuple, list)) else str(addr)


def register(app, ctx):
    users = ctx.users

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
        rec = await auth.authenticate_async(users.records(), name, data.get("password"))
        if rec is None:
            ctx.throttle.failure(key, now)
            return error(401, "wrong user or password")
        ctx.throttle.success(key)
        token = ctx.sessions.new(name, rec["role"], now)
        res = Response({"user": name, "role": rec["role"], "must_change": bool(rec.get("must_change"))})
        return set_session_cookie(res, token, ctx.sessions.ttl_s)

    @app.post("/api/logout")
    def logout(req):
        token = req.cookies.get("sid")
        if token:
            ctx.sessions.revoke(token)
        return clear_session_cookie(Response({"ok": True}))

    @app.get("/api/me")
    @require("user")
    def me(req):
        s = req.g.session
        rec = users.get(s["user"]) or {}
        return {"user": s["user"], "role": s["role"], "csrf": s.get("csrf"),
                "must_change": bool(rec.get("must_change"))}

    @app.put("/api/me/password")
    @require("user")
    async def change_own_password(req):
        data = json_body(req)
        s = req.g.session
        rec = users.get(s["user"])
        if not await auth.verify_password_async(str(data.get("old_password", "")), rec["hash"]):
            return error(400, "current password is wrong", "old_password")
        ctx.users.update(s["user"], {"password": data.get("password")}, by_self=True)
        return {"ok": True}

    @app.get("/api/users")
    @require("admin")
    def list_users(req):
        return ctx.users.public_list()

    @app.post("/api/users")
    @require("admin")
    def create_user(req):
        return ctx.users.create(json_body(req)), 201

    @app.put("/api/users/<name>")
    @require("admin")
    def update_user(req, name):
        if users.get(name) is None:
            return error(404, "no such user", "user")
        return ctx.users.update(name, json_body(req))

    @app.delete("/api/users/<name>")
    @require("admin")
    def delete_user(req, name):
        if users.get(name) is None:
            return error(404, "no such user", "user")
        ctx.users.delete(name)
        return {"ok": True}
