"""POST /api/login (loaded per login): throttle, password check, session, audit trail.

The attempt is counted *before* the password is hashed (concurrent guesses cannot all pass) under
two keys: (client IP, user) and the user alone (a guesser changing address still slows down).
Names that are no account share one key, "?", so made-up names cannot flush the table.
A success clears only its own account's keys: logging in to one's own account does not reset
the count on the admin's. Every refused password costs one PBKDF2 (gateway.core.passwords).
"""
from microdot import Response

from gateway.core import ondemand
from gateway.web.http import error, json_body


def _audit(ctx, code, params):
    try:
        ctx.event("system", "login", code, params)
    except Exception:  # a full flash must not turn a login into a 500
        pass


async def login(ctx, req, session_cookie):
    data = json_body(req)
    now = ctx.now()
    name = data.get("user")
    ip = req.client_addr[0]
    who = name if isinstance(name, str) and ctx.users.get(name) is not None else "?"
    pair = "%s %s" % (ip, who)
    for throttle, key in ((ctx.throttle, pair), (ctx.user_throttle, who)):
        ok, retry = throttle.allowed(key, now)
        if not ok:
            ctx.login_stats[1] += 1
            return Response({"error": "too many attempts", "retry_after_s": retry, "code": "throttled"},
                            429, {"Retry-After": str(retry)})
    # counted now, cleared by a success below
    blocked = ctx.throttle.failure(pair, now)
    blocked = max(blocked, ctx.user_throttle.failure(who, now))
    rec = await ondemand.acall("gateway.core.passwords", "authenticate_async",
                               ctx.users.records(), name, data.get("password"))
    if rec is None:
        ctx.login_stats[0] += 1
        if blocked:
            _audit(ctx, "login.blocked", {"user": who, "ip": ip, "s": blocked, "n": ctx.login_stats[0]})
        return error(401, "wrong user or password")
    ctx.throttle.success(pair)
    ctx.user_throttle.success(who)
    token = ctx.sessions.new(name, rec["role"], now)
    s = ctx.sessions.check(token, now)
    _audit(ctx, "login", {"user": name, "ip": ip})
    res = Response({"user": name, "role": rec["role"], "must_change": bool(rec.get("must_change")),
                    "csrf": s["csrf"]})
    return session_cookie(res, token, ctx.sessions.ttl_s)
