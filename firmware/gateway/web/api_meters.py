"""/api/meters and /api/bus (on demand): the RS485 devices, their test read, the line settings."""
from gateway.web.http import error, json_body, stream


def list_meters(ctx, req):
    return stream(ctx.meters.public())


def create(ctx, req):
    m = ctx.meters.create(json_body(req))
    ctx.event("config", "meter " + m["id"], "meter %s added (address %d, %s)" % (m["name"], m["address"], m["profile"]))
    return m, 201


def get(ctx, req, mid):
    for m in ctx.meters.public():
        if m["id"] == mid:
            return m
    return error(404, "no such meter", "id")


def update(ctx, req, mid):
    if ctx.meters.get(mid) is None:
        return error(404, "no such meter", "id")
    m = ctx.meters.update(mid, json_body(req))
    ctx.event("config", "meter " + mid, "meter %s changed" % m["name"])
    return m


def delete(ctx, req, mid):
    m = ctx.meters.get(mid)
    if m is None:
        return error(404, "no such meter", "id")
    ctx.meters.delete(mid)
    ctx.event("config", "meter " + mid, "meter %s deleted" % m["name"])
    return {"ok": True}


async def test(ctx, req, mid):
    m = ctx.meters.get(mid)
    if m is None:
        return error(404, "no such meter", "id")
    return await ctx.meters.poller.read_now(m)


def get_bus(ctx, req):
    d = dict(ctx.meters.bus)
    d["cycle_ms"] = ctx.meters.poller.cycle_ms
    d["cycles"] = ctx.meters.poller.cycles
    return d


def put_bus(ctx, req):
    bus = ctx.meters.set_bus(json_body(req))
    ctx.event("config", "bus", "bus set to %d %s%d" % (bus["baud"], bus["parity"], bus["stop"]))
    return bus


ROUTES = (
    ("GET", "meters", "user", list_meters),
    ("POST", "meters", "installer", create),
    ("GET", "meters/<id>", "user", get),
    ("PUT", "meters/<id>", "installer", update),
    ("DELETE", "meters/<id>", "installer", delete),
    ("POST", "meters/<id>/test", "installer", test),
    ("GET", "bus", "installer", get_bus),
    ("PUT", "bus", "installer", put_bus),
)
