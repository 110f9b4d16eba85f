"""/api/history, /api/export.csv, /api/export.json, /api/billing (on demand)."""
from microdot import Response

from gateway.core import history
from gateway.core.errors import ValidationError
from gateway.web.http import error, json_body, stream

MAX_SPAN_S = 400 * 86400  # a bit more than a year per request


def _query(ctx, req):
    a = req.args
    meter = a.get("meter")
    if not meter or ctx.meters.get(meter) is None:
        raise ValidationError("meter", "unknown meter")
    t_from, t_to = history.check_range(a.get("from"), a.get("to"), MAX_SPAN_S)
    return meter, t_from, t_to, history.check_step(a.get("step"))


def _zone(ctx):
    return ctx.settings["timezone"]


def rows(ctx, req):
    meter, t_from, t_to, step = _query(ctx, req)
    body = history.json_chunks(ctx.storage.ring, meter, t_from, t_to, step, _zone(ctx))
    return Response(body, 200, {"Content-Type": "application/json; charset=UTF-8"})


def _download(ctx, req, ext, ctype, body_fn):
    meter, t_from, t_to, step = _query(ctx, req)
    s = ctx.settings
    name = history.export_filename(s["location"], t_from, t_to, s["timezone"], step,
                                   ctx.meters.get(meter)["name"], ext)
    return Response(body_fn(meter, t_from, t_to, step), 200, {
        "Content-Type": ctype, "Content-Disposition": 'attachment; filename="%s"' % name})


def export_csv(ctx, req):
    s = ctx.settings
    return _download(ctx, req, "csv", "text/csv; charset=UTF-8", lambda m, a, b, st: history.csv_lines(
        ctx.storage.ring, m, a, b, st, s["timezone"], s["csv_separator"], s["csv_decimal"]))


def export_json(ctx, req):
    return _download(ctx, req, "json", "application/json; charset=UTF-8", lambda m, a, b, st: history.json_chunks(
        ctx.storage.ring, m, a, b, st, _zone(ctx)))


def _billing_view(ctx, m):
    b = ctx.storage.billing.get(m["id"]) or {"first_init": None, "current": None, "months": []}
    b["meter"] = m["id"]
    b["name"] = m["name"]
    return b


def billing(ctx, req):
    return stream(_billing_view(ctx, m) for m in ctx.meters.meters)


def billing_reset(ctx, req, mid):
    m = ctx.meters.get(mid)
    if m is None:
        return error(404, "no such meter", "id")
    data = json_body(req)
    ctx.storage.billing.reset(mid, ctx.now(), confirm=data.get("confirm"))
    ctx.event("config", "meter " + mid, "billing reset for a new tenant on %s by %s" % (
        m["name"], req.g.session["user"]))
    return _billing_view(ctx, m)


ROUTES = (
    ("GET", "history", "user", rows),
    ("GET", "export.csv", "user", export_csv),
    ("GET", "export.json", "user", export_json),
    ("GET", "billing", "user", billing),
    ("POST", "billing/<id>/reset", "installer", billing_reset),
)
