"""GET /metrics (Prometheus scrape, OpenMetrics text) and /api/metrics (its access token), on demand.

/metrics is read by a session of role "user" or above, or by a scraper that sends
``Authorization: Bearer <token>``. The token is made by ``POST /api/metrics/token`` (admin): the
answer is the only time it is shown; the device keeps its SHA-256. ``GET /api/metrics`` says
whether one is set; ``DELETE /api/metrics/token`` removes it.

The exposition streams family by family: live readings (one family per quantity, a sample per
meter), meter status and last poll time, bus counters per meter, the generator, MQTT, heap and
uptime.
"""
import gc
import hashlib
import os

from microdot import Response

from gateway import VERSION
from gateway.core import openmetrics as om
from gateway.core.auth import ct_equal
from gateway.services.rtu import COUNTERS
from gateway.web.http import error

STORE_KEY = "metrics"
PREFIX = "dingate_"
STATUSES = ("ok", "partial", "stale", "offline", "error", "disabled")


def _hex(b):
    return "".join("%02x" % x for x in b)


def _digest(token):
    return _hex(hashlib.sha256(token.encode()).digest())


def token_session(ctx, req):
    """The scraper's session for a valid ``Authorization: Bearer`` token, else None."""
    auth = req.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return None
    saved = (ctx.store.load(STORE_KEY) or {}).get("token_sha256")
    if not saved or not ct_equal(_digest(auth[7:].strip()), saved):
        return None
    return {"user": "metrics", "role": "user"}


def _meter_labels(cfg):
    return (("meter", cfg["id"]), ("name", cfg.get("name", "")))


def _readings(ctx, names):
    """One gauge family per quantity, a sample per meter that has it."""
    readings = ctx.meters.poller.readings()
    quantities = []
    for r in readings.values():
        for q in r["values"]:
            if q not in quantities:
                quantities.append(q)
    quantities.sort()
    for q in quantities:
        metric = PREFIX + q
        yield om.family(metric, "gauge", "live reading %s" % q)
        for mid, r in readings.items():
            v = r["values"].get(q)
            if v is not None and mid in names:
                yield om.sample(metric, _meter_labels(names[mid]), v)
    yield om.family(PREFIX + "meter_status", "stateset", "poll status of each meter")
    for mid, r in readings.items():
        if mid in names:
            for s in STATUSES:
                yield om.sample(PREFIX + "meter_status", _meter_labels(names[mid]) + (
                    (PREFIX + "meter_status", s),), r["status"] == s)
    yield om.family(PREFIX + "meter_last_poll_timestamp_seconds", "gauge",
                    "time of the meter's last poll (unix seconds)")
    for mid, r in readings.items():
        if mid in names and r.get("ts") is not None:
            yield om.sample(PREFIX + "meter_last_poll_timestamp_seconds",
                            _meter_labels(names[mid]), r["ts"])


def _bus(ctx, names):
    poller = ctx.meters.poller
    for i, counter in enumerate(COUNTERS):
        metric = PREFIX + "bus_" + counter
        yield om.family(metric, "counter", "Modbus RTU transactions of each meter: %s" % counter)
        for mid in names:
            c = poller.tally(mid)
            if c is not None:
                yield om.sample(metric + "_total", _meter_labels(names[mid]) + (
                    ("address", names[mid]["address"]),), c[i])


def _genset(ctx):
    if ctx.genset is None:
        return
    st = ctx.genset.status()
    yield om.family(PREFIX + "genset_relay", "gauge", "generator start relay closed (1) or open")
    yield om.sample(PREFIX + "genset_relay", (), bool(st["relay"]))
    yield om.family(PREFIX + "genset_mode", "stateset", "generator control mode")
    for m in ("auto", "on", "off"):
        yield om.sample(PREFIX + "genset_mode", ((PREFIX + "genset_mode", m),), st["mode"] == m)
    yield om.family(PREFIX + "genset_run_seconds", "counter", "generator run time")
    yield om.sample(PREFIX + "genset_run_seconds_total", (), st["run_s"])
    yield om.family(PREFIX + "genset_starts", "counter", "generator starts")
    yield om.sample(PREFIX + "genset_starts_total", (), st["starts"])
    if st.get("service_due_in_h") is not None:
        yield om.family(PREFIX + "genset_service_due_in_hours", "gauge",
                        "run hours left before the generator's next service (0: due)")
        yield om.sample(PREFIX + "genset_service_due_in_hours", (), st["service_due_in_h"])


def exposition(ctx):
    """The whole scrape, one line (or family) at a time."""
    names = {}
    for cfg in ctx.meters.meters:
        names[cfg["id"]] = cfg
    yield om.family(PREFIX + "build", "info", "firmware and board")
    yield om.sample(PREFIX + "build_info", (("firmware", VERSION),
                                            ("board", ctx.board.get("name", "")),
                                            ("serial", ctx.identity["serial"])), 1)
    yield om.family(PREFIX + "uptime_seconds", "gauge", "time since boot")
    yield om.sample(PREFIX + "uptime_seconds", (), ctx.uptime_s())
    yield om.family(PREFIX + "heap_free_bytes", "gauge", "MicroPython heap free")
    yield om.sample(PREFIX + "heap_free_bytes", (), gc.mem_free())
    yield om.family(PREFIX + "heap_alloc_bytes", "gauge", "MicroPython heap in use")
    yield om.sample(PREFIX + "heap_alloc_bytes", (), gc.mem_alloc())
    yield om.family(PREFIX + "mqtt_connected", "gauge", "MQTT uplink connected (1) or not")
    yield om.sample(PREFIX + "mqtt_connected", (), bool(ctx.mqtt_connected()))
    for line in _readings(ctx, names):
        yield line
    for line in _bus(ctx, names):
        yield line
    for line in _genset(ctx):
        yield line
    yield om.EOF


def scrape(ctx, req):
    return Response(exposition(ctx), 200, {"Content-Type": om.CONTENT_TYPE})


def get_token_state(ctx, req):
    return {"token_set": bool((ctx.store.load(STORE_KEY) or {}).get("token_sha256"))}


def new_token(ctx, req):
    token = _hex(os.urandom(24))
    ctx.store.save(STORE_KEY, {"token_sha256": _digest(token)})
    ctx.event("config", "metrics", "metrics.renewed", {"by": req.g.session["user"]})
    return Response({"token": token, "token_set": True}, 201)


def delete_token(ctx, req):
    if not get_token_state(ctx, req)["token_set"]:
        return error(404, "no metrics token")
    ctx.store.delete(STORE_KEY)
    ctx.event("config", "metrics", "metrics.removed", {"by": req.g.session["user"]})
    return {"token_set": False}


ROUTES = (
    ("GET", "metrics/scrape", "user", scrape),  # also served at /metrics
    ("GET", "metrics", "admin", get_token_state),
    ("POST", "metrics/token", "admin", new_token),
    ("DELETE", "metrics/token", "admin", delete_token),
)
