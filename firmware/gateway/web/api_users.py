"""/api/me and /api/users (on demand)."""
from gateway.core import passwords
from gateway.web.http import error, json_body


def me(ctx, req):
    s = req.g.session
    rec = ctx.users.get(s["user"]) or {}
    return {"user": s["user"], "role": s["role"], "csrf": s.get("csrf"),
            "must_change": bool(rec.get("must_change"))}


async def change_password(ctx, req):
    data = json_body(req)
    s = req.g.session
    rec = ctx.users.get(s["user"])
    if not await passwords.verify_password_async(str(data.get("old_password", "")), rec["hash"]):
        return error(400, "current password is wrong", "old_password")
    ctx.users.update(s["user"], {"password": data.get("password")}, by_self=True)
    return {"ok": True}


def list_users(ctx, req):
    return ctx.users.public_list()


def create(ctx, req):
    u = ctx.users.create(json_body(req))
    ctx.event("config", "users", "user %s created by %s" % (u["user"], req.g.session["user"]))
    return u, 201


def update(ctx, req, name):
    if ctx.users.get(name) is None:
        return error(404, "no such user", "user")
    u = ctx.users.update(name, json_body(req))
    ctx.event("config", "users", "user %s changed by %s" % (name, req.g.session["user"]))
    return u


def delete(ctx, req, name):
    if ctx.users.get(name) is None:
        return error(404, "no such user", "user")
    ctx.users.delete(name)
    ctx.event("config", "users", "user %s deleted by %s" % (name, req.g.session["user"]))
    return {"ok": True}


ROUTES = (
    ("GET", "me", "user", me),
    ("PUT", "me/password", "user", change_password),
    ("GET", "users", "admin", list_users),
    ("POST", "users", "admin", create),
    ("PUT", "users/<name>", "admin", update),
    ("DELETE", "users/<name>", "admin", delete),
)
