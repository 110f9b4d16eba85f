"""/api/history, /api/export.csv, /api/export.json (on demand)."""
from microdot import Response

from gateway.core import history
from gateway.core.errors import ValidationError
from gateway.web.http import forbidden_meter, meter_scope

MAX_SPAN_S = 400 * 86400  # a bit more than a year per request


def _query(ctx, req):
    a = req.args
    meter = a.get("meter")
    sc = meter_scope(ctx, req)
    if sc is not None and meter not in sc:
        return None
    if not meter or ctx.meters.get(meter) is None:
        raise ValidationError("meter", "unknown meter", "unknown")
    t_from, t_to = history.check_range(a.get("from"), a.get("to"), MAX_SPAN_S)
    if sc is not None:  # a tenant sees nothing from before its tenancy (the last billing reset)
        b = ctx.storage.billing.get(meter)
        if b is not None and b["first_init"]:
            t_from = min(max(t_from, b["first_init"]), t_to)
    return meter, t_from, t_to, history.check_step(a.get("step"))


def _zone(ctx):
    return ctx.settings["timezone"]


def rows(ctx, req):
    q = _query(ctx, req)
    if q is None:
        return forbidden_meter()
    meter, t_from, t_to, step = q
    body = history.json_chunks(ctx.storage.ring, meter, t_from, t_to, step, _zone(ctx))
    return Response(body, 200, {"Content-Type": "application/json; charset=UTF-8"})


def _download(ctx, req, ext, ctype, body_fn):
    q = _query(ctx, req)
    if q is None:
        return forbidden_meter()
    meter, t_from, t_to, step = q
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


ROUTES = (
    ("GET", "history", "tenant", rows),
    ("GET", "export.csv", "tenant", export_csv),
    ("GET", "export.json", "tenant", export_json),
)
