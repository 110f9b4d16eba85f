"""On-demand API groups: /api/<group>/... handled by a module loaded for the request only.

Each group module has ``ROUTES``: tuples (method, pattern, role, handler) where pattern is a
path below the group split on "/" ("" for the group itself, "<id>" captures a segment) and
``handler(ctx, req, *captures)`` returns what a microdot handler returns. The module leaves
the heap once the response is built (gateway.core.ondemand); only the configuration pages pay
the load time, the gateway's running code keeps the RAM.

A group whose feature the board file leaves out ("features_left_out": its modules are not
even on the board, firmware/manifest.py) answers 404 with code "left_out" and
params {"feature": name}, for every method, before the login check (GET /api/status says
the same list to anyone).
"""
from gateway.core import ondemand
from gateway.core.auth import role_allows
from gateway.services.optional import left_out
from gateway.web.http import error

GROUPS = {
    "meters": "gateway.web.api_meters",
    "bus": "gateway.web.api_meters",
    "profiles": "gateway.web.api_meters",
    "users": "gateway.web.api_users",
    "me": "gateway.web.api_users",
    "wifi": "gateway.web.api_wifi",
    "system": "gateway.web.api_system",
    "settings": "gateway.web.api_system",
    "events": "gateway.web.api_system",
    "genset": "gateway.web.api_genset",
    "outputs": "gateway.web.api_outputs",
    "live": "gateway.web.api_live",
    "mqtt": "gateway.web.api_mqtt",
    "modbus-tcp": "gateway.web.api_modbus_tcp",
    "history": "gateway.web.api_history",
    "export.csv": "gateway.web.api_history",
    "export.json": "gateway.web.api_history",
    "billing": "gateway.web.api_billing",
    "statements": "gateway.web.api_billing",
    "statements.csv": "gateway.web.api_billing",
    "backup": "gateway.web.api_backup",
    "restore": "gateway.web.api_backup",
    "firmware": "gateway.web.api_firmware",
    "metrics": "gateway.web.api_metrics",
}
# the groups of optional features (firmware/manifest.py FEATURES); the others are "base"
FEATURE_OF = {"genset": "genset", "mqtt": "mqtt", "modbus-tcp": "modbus_tcp",
              "billing": "billing", "statements": "billing", "statements.csv": "billing",
              "backup": "backup", "restore": "backup", "firmware": "firmware_update",
              "metrics": "metrics"}


def left_out_error(feature):
    return error(404, "%s is left out on this board (its heap cannot hold it)" % feature,
                 code="left_out", params={"feature": feature})


def _match(pattern, parts):
    pat = pattern.split("/") if pattern else []
    if len(pat) != len(parts):
        return None
    caps = []
    for p, v in zip(pat, parts):
        if p.startswith("<"):
            caps.append(v)
        elif p != v:
            return None
    return caps


async def dispatch(ctx, req, group, rest):
    name = GROUPS.get(group)
    if name is None:
        return error(404, "not found")
    feature = FEATURE_OF.get(group)
    if feature is not None and left_out(ctx.board, feature):
        return left_out_error(feature)
    before = ondemand.mark()
    try:  # the import too: one that runs out of heap half way must not leave the call open
        mod = __import__(name, None, None, ("ROUTES",))
        parts = [p for p in rest.split("/") if p] if rest else []
        allowed = False
        for method, pattern, role, handler in mod.ROUTES:
            if pattern != group and not pattern.startswith(group + "/"):
                continue
            caps = _match(pattern[len(group):].lstrip("/"), parts)
            if caps is None:
                continue
            allowed = True
            if method != req.method and not (method == "GET" and req.method == "HEAD"):
                continue
            who = req.g.session
            if who is None:
                return error(401, "login required")
            if not role_allows(who["role"], role):
                return error(403, "role %s required" % role)
            res = handler(ctx, req, *caps)
            if hasattr(res, "send"):  # a coroutine
                res = await res
            return res
        return error(405, "method not allowed") if allowed else error(404, "not found")
    finally:
        ondemand.release(before)
