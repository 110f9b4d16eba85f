"""/api/meters and /api/bus (on demand): the RS485 devices, their test read, the line settings."""
from gateway.core import check
from gateway.core.errors import ValidationError
from gateway.web.http import error, forbidden_meter, json_body, meter_scope, stream


def list_meters(ctx, req):
    sc = meter_scope(ctx, req)
    if sc is None:
        return stream(ctx.meters.public())
    return stream(m for m in ctx.meters.public() if m["id"] in sc)


async def _sunspec_layout(ctx, body, current=None):
    """A SunSpec meter added or moved without its ``"sunspec"`` layout: discover it now on the
    line (400 if no SunSpec device answers at that address)."""
    if not isinstance(body, dict) or body.get("sunspec") is not None:
        return
    cur = current or {}
    profile = body.get("profile", cur.get("profile"))
    address = body.get("address", cur.get("address"))
    if profile != "sunspec" or not isinstance(address, int) or not 1 <= address <= 247:
        return
    if cur.get("sunspec") and cur.get("address") == address and cur.get("profile") == profile:
        return
    from gateway.core import modbus, sunspec

    master = ctx.meters.poller.master

    async def read(function, register, count):
        try:
            return await master.read_registers(address, function, register, count, 0, 300)
        except (modbus.ModbusError, OSError):
            return None

    found = await sunspec.discover(read)
    if not found or not found["models"]:
        raise ValidationError("profile", "no SunSpec device answers at address %d" % address,
                              "no_sunspec", {"address": address})
    body["sunspec"] = found["models"]


async def create(ctx, req):
    body = json_body(req)
    await _sunspec_layout(ctx, body)
    m = ctx.meters.create(body, ctx.storage.billing.channels())  # a new meter, a new history
    ctx.event("config", "meter " + m["id"], "meter.added", {
        "name": m["name"], "address": m["address"], "profile": m["profile"], "by": req.g.session["user"]})
    return m, 201


def get(ctx, req, mid):
    sc = meter_scope(ctx, req)
    if sc is not None and mid not in sc:
        return forbidden_meter()
    for m in ctx.meters.public():
        if m["id"] == mid:
            return m
    return error(404, "no such meter", "id")


async def update(ctx, req, mid):
    current = ctx.meters.get(mid)
    if current is None:
        return error(404, "no such meter", "id")
    body = json_body(req)
    await _sunspec_layout(ctx, body, current)
    m = ctx.meters.update(mid, body)
    ctx.event("config", "meter " + mid, "meter.changed", {"name": m["name"], "by": req.g.session["user"]})
    return m


def _in_use(ctx, mid):
    """409 if something would lose its meter (an id is never given again, so it would stay
    lost): the running generator's SOC or voltage source, a tenant's account."""
    from gateway.core.genset_config import source_meters

    read = source_meters(ctx.genset.controller.config) if ctx.genset is not None else ()
    if mid in [m for _, m in read]:
        return error(409, "the generator starts from this meter: choose another source first",
                     None, "in_use_genset")
    for rec in ctx.users.records().values():
        if mid in (rec.get("meters") or ()):
            return error(409, "a tenant account is bound to this meter: change it first",
                         None, "in_use_tenant")
    return None


def delete(ctx, req, mid):
    m = ctx.meters.get(mid)
    if m is None:
        return error(404, "no such meter", "id")
    refused = _in_use(ctx, mid)
    if refused is not None:
        return refused
    ctx.meters.delete(mid)
    ctx.storage.billing.end(mid, ctx.now())  # its last statement is final (core/billing.py)
    ctx.event("config", "meter " + mid, "meter.deleted", {"name": m["name"], "by": req.g.session["user"]})
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
    ctx.event("config", "bus", "bus.set", {"baud": bus["baud"], "parity": bus["parity"], "stop": bus["stop"],
                                           "by": req.g.session["user"]})
    return bus


def _address(body, key, default):
    v = body.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 247:
        raise ValidationError(key, "%s must be an address 1..247" % key,
                              "range", {"min": 1, "max": 247})
    return v


def start_scan(ctx, req):
    body = json_body(req)
    if not isinstance(body, dict):
        raise ValidationError(None, "a scan request must be a JSON object", "format")
    lo, hi = _address(body, "from", 1), _address(body, "to", 247)
    if lo > hi:
        raise ValidationError("to", "to must not be below from", "min_of", {"other": "from"})
    timeout = body.get("timeout_ms")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)
                                or not 20 <= timeout <= 2000):
        raise ValidationError("timeout_ms", "timeout_ms must be 20..2000",
                              "range", {"min": 20, "max": 2000})
    line = check.boolean("line", body.get("line", False))
    ctx.event("config", "bus", "bus.scan", {"lo": lo, "hi": hi, "by": req.g.session["user"]})
    return ctx.meters.start_scan(lo, hi, timeout, line), 202


def scan_state(ctx, req):
    return ctx.meters.scan_state()


def list_profiles(ctx, req):
    """GET /api/profiles: the device library, one file parsed at a time."""
    from gateway.core import profiles

    return stream(profiles.info(n) for n in profiles.names())


ROUTES = (
    ("GET", "meters", "tenant", list_meters),
    ("POST", "meters", "installer", create),
    ("GET", "meters/<id>", "tenant", get),
    ("PUT", "meters/<id>", "installer", update),
    ("DELETE", "meters/<id>", "installer", delete),
    ("POST", "meters/<id>/test", "installer", test),
    ("GET", "bus", "installer", get_bus),
    ("PUT", "bus", "installer", put_bus),
    ("POST", "bus/scan", "installer", start_scan),
    ("GET", "bus/scan", "installer", scan_state),
    ("GET", "profiles", "tenant", list_profiles),
)
