"""/api/system, /api/settings, /api/events (on demand)."""
from gateway.core.errors import ValidationError
from gateway.web.http import json_body, stream


def system(ctx, req):
    """About the gateway, and its readings store on flash (the ring: segments, bytes, writes
    since boot; its recorder: samples waiting in RAM and their bound, the board's)."""
    d = ctx.system_info()
    if ctx.storage is not None:
        d["recordings"] = ctx.storage.ring.stats()
        d["recordings"]["recorder"] = ctx.storage.recorder.stats()
    return d


def tasks(ctx, req):
    return ctx.tasks.status()


def modules(ctx, req):
    """The modules loaded now (this request's own included) and the resident ones that exist
    twice (core/ondemand.py): the same before and after any other request. "open_calls" counts
    the awaited on-demand calls open (this request is one): at 1, "on_demand" (what is loaded
    but not resident) is this request's own module, or what an ended call left behind
    (asyncio's submodules are not counted: asyncio loads them on first use and keeps them)."""
    import sys

    from gateway.core import ondemand

    res = ondemand.resident
    return {"modules": sorted(sys.modules), "resident": len(res),
            "duplicates": ondemand.duplicates(), "open_calls": ondemand.open_calls[0],
            "on_demand": sorted(n for n in sys.modules
                                if n not in res and not n.startswith("asyncio."))}


def reboot(ctx, req):
    ctx.request_reboot("reboot requested by %s" % req.g.session["user"])
    return {"ok": True}


def factory_reset(ctx, req):
    data = json_body(req)
    if data.get("confirm") is not True:
        raise ValidationError("confirm", "a factory reset cannot be undone: send confirm true",
                              "required")
    ctx.event("config", "device", "reset.asked", {"by": req.g.session["user"]})
    ctx.factory_reset(keep_data=data.get("keep_data", True) is not False)
    return {"ok": True}


TIME_MIN = 1577836800  # 2020-01-01 00:00:00 UTC
TIME_MAX = 4133980799  # 2100-12-31 23:59:59 UTC


def set_time(ctx, req):
    """"Set from this phone": {"time": Unix seconds}. An integer is best: an ESP32 reads a JSON
    fraction as a single-precision float, good to about 2 minutes."""
    from gateway.core import check  # here, not at the top: GET /api/system/modules (this
    # module) must load nothing but itself

    t = check.number("time", json_body(req).get("time"), TIME_MIN, TIME_MAX)  # Unix seconds
    secs = int(t)
    ctx.clock.set(secs, int((t - secs) * 1000000), "manual", req.g.session["user"])
    return {"time": ctx.now(), "clock": ctx.clock.public()}


def get_settings(ctx, req):
    return ctx.settings


def put_settings(ctx, req):
    from gateway.core.settings import check_port_free  # the module is loaded by the save anyway

    body = json_body(req)
    if isinstance(body, dict) and "http_port" in body:
        mb = ctx.modbus_tcp
        check_port_free(body["http_port"], (ctx.http_ports()[0], mb.port if mb else 0))
    s = ctx.save_settings(body)
    ctx.event("config", "settings", "settings", {"by": req.g.session["user"]})
    return s


def events(ctx, req):
    try:
        limit = min(max(int(req.args.get("limit", 50)), 1), 200)
    except ValueError:
        raise ValidationError("limit", "limit must be a number", "integer")
    from gateway.core.event_codes import text  # released with this module, kept by the stream

    a = req.args
    return stream(ctx.events.newest(limit=limit, type=a.get("type"), source=a.get("source"), text=text))


ROUTES = (
    ("GET", "system", "installer", system),
    ("GET", "system/tasks", "installer", tasks),
    ("GET", "system/modules", "installer", modules),
    ("PUT", "system/time", "installer", set_time),
    ("POST", "system/reboot", "installer", reboot),
    ("POST", "system/factory-reset", "admin", factory_reset),
    ("GET", "settings", "user", get_settings),
    ("PUT", "settings", "installer", put_settings),
    ("GET", "events", "installer", events),
)
