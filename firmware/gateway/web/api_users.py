"""/api/me and /api/users (on demand)."""
from gateway.core import passwords
from gateway.core.errors import ValidationError
from gateway.web.http import error, json_body


def me(ctx, req):
    s = req.g.session
    rec = ctx.users.get(s["user"]) or {}
    out = {"user": s["user"], "role": s["role"], "csrf": s.get("csrf"),
           "must_change": bool(rec.get("must_change"))}
    if s["role"] == "tenant":
        out["meters"] = list(rec.get("meters") or ())
    return out


async def change_password(ctx, req):
    data = json_body(req)
    s = req.g.session
    rec = ctx.users.get(s["user"])
    if not await passwords.verify_password_async(str(data.get("old_password", "")), rec["hash"]):
        return error(400, "current password is wrong", "old_password")
    ctx.users.update(s["user"], {"password": data.get("password")}, by_self=True)
    # the account's other sessions end (a stolen cookie dies with the old password)
    ctx.sessions.revoke_user(s["user"], keep=req.cookies.get("sid"))
    ctx.event("config", "users", "user.password", {"user": s["user"]})
    return {"ok": True}


def list_users(ctx, req):
    return ctx.users.public_list()


def _known_meters(ctx, data):
    for mid in data.get("meters") or ():
        if ctx.meters.get(str(mid)) is None:
            raise ValidationError("meters", "unknown meter %s" % mid, "unknown")
    return data


def create(ctx, req):
    u = ctx.users.create(_known_meters(ctx, json_body(req)))
    ctx.event("config", "users", "user.created", {"user": u["user"], "by": req.g.session["user"]})
    return u, 201


def update(ctx, req, name):
    if ctx.users.get(name) is None:
        return error(404, "no such user", "user")
    u = ctx.users.update(name, _known_meters(ctx, json_body(req)))
    ctx.event("config", "users", "user.changed", {"user": name, "by": req.g.session["user"]})
    return u


def delete(ctx, req, name):
    if ctx.users.get(name) is None:
        return error(404, "no such user", "user")
    ctx.users.delete(name)
    ctx.event("config", "users", "user.deleted", {"user": name, "by": req.g.session["user"]})
    return {"ok": True}


ROUTES = (
    ("GET", "me", "tenant", me),
    ("PUT", "me/password", "tenant", change_password),
    ("GET", "users", "admin", list_users),
    ("POST", "users", "admin", create),
    ("PUT", "users/<name>", "admin", update),
    ("DELETE", "users/<name>", "admin", delete),
)
