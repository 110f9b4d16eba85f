"""/api/billing, /api/statements (on demand): billing reads in kWh, tariffs, statements, totals.

Names: ``import_kwh``/``export_kwh`` are meter indexes (counter readings), ``*_kwh_delta`` the
consumption over a period (an index difference), the same in every export.
"""
from microdot import Response

from gateway.core import ondemand
from gateway.core.errors import ValidationError
from gateway.web.http import error, forbidden_meter, json_body, meter_allowed, meter_scope, stream


def _kwh(wh):
    return None if wh is None else wh / 1000


def _config(ctx):
    return ctx.store.load("billing") or {"currency": "EUR", "meters": {}}


def _month_cost(ctx, st_mod, cfg, mid):
    """{"currency", "total"} of the meter's running month so far, None without a tariff."""
    if not ((cfg.get("meters") or {}).get(mid) or {}).get("tariff"):
        return None
    snap = st_mod.open_snapshot(ctx.storage.billing, mid, cfg)
    if snap is None or not snap.get("tf"):
        return None
    cost = st_mod.render(snap, False)["cost"]
    return {"currency": cost["currency"], "total": cost["total"]}


def _peaks(bl, mid):
    """{month: (kW, quarter start)} of an electricity meter's measured months
    (gateway.core.demand: the highest quarter-hour average import)."""
    from gateway.core import demand

    cur, past = demand.view(bl, mid)
    out = {}
    for p in ([cur] if cur else []) + past:
        out.setdefault(p["month"], (p["w"] / 1000, p["ts"]))
    return out


def _view(ctx, mid, name, deleted, next_read, cost):
    """A meter's billing: ``quantity`` names its counter ("import_kwh", or "gas_m3"/"water_m3"
    for a volume meter, ``unit`` "kWh"/"m3"); indexes under that name, consumption under
    "<name>_delta" (electricity: export_kwh/export_kwh_delta too, and the month's highest
    quarter-hour average import as peak_kw at peak_ts, the quarter's start). ``deleted``: the
    meter is gone, its billing kept (read no more)."""
    bl = ctx.storage.billing
    b = bl.get(mid)
    q = bl.quantity(mid)
    elec = q == "import_kwh"
    out = {"meter": mid, "name": name, "deleted": deleted, "quantity": q,
           "unit": "kWh" if elec else "m3", "first_init": None, "current": None,
           "current_month": None, "months": [], "next_read": next_read}
    if deleted:
        out["kept_until"] = bl.kept_until(mid)
    if b is None:
        return out
    out["first_init"] = b["first_init"]

    peaks = _peaks(bl, mid) if elec else {}

    def pair(x, imp, exp, delta=""):
        x[q + delta] = _kwh(imp)
        if elec:
            x["export_kwh" + delta] = _kwh(exp)
            if delta:
                x["peak_kw"], x["peak_ts"] = peaks.get(x["month"], (None, None))
        return x

    c = b["current"]
    if c is not None:
        out["current"] = pair({"ts": c["ts"]}, c["import_wh"], c["export_wh"])
    cm = b["current_month"]
    if cm is not None:
        out["current_month"] = pair({"month": cm["month"]}, cm["import_wh"], cm["export_wh"],
                                    "_delta")
        if cost is not None:
            out["current_month"]["cost"] = cost
    out["months"] = [pair(pair({"month": x["month"], "ts": x["ts"]}, x["import_wh"],
                               x["export_wh"]), x["import_consumption_wh"],
                          x["export_consumption_wh"], "_delta") for x in b["months"]]
    return out


def _next_read(ctx):
    from gateway.core.billing import next_billing_read

    nb = ctx.storage.recorder.next_billing
    return nb if nb else next_billing_read(ctx.now(), ctx.settings["timezone"])


def billing(ctx, req):
    """Every meter's billing (a tenant's: its own), then (not for a tenant) the deleted meters'
    still on the device, in id order, under the names they had."""
    from gateway.core import statement

    sc = meter_scope(ctx, req)
    nr = _next_read(ctx)
    cfg = _config(ctx)
    ms = [(m["id"], m["name"], False) for m in ctx.meters.meters if sc is None or m["id"] in sc]
    if sc is None:
        name_of = _namer(ctx)
        ms += [(mid, name_of(mid), True) for mid in _gone_ids(ctx)]
    # the costs now, while the statement code is loaded; the views go out one meter at a time
    costs = [_month_cost(ctx, statement, cfg, x[0]) for x in ms]
    return stream(_view(ctx, mid, name, gone, nr, cost)
                  for (mid, name, gone), cost in zip(ms, costs))


def reset(ctx, req, mid):
    m = ctx.meters.get(mid)
    if m is None:
        return error(404, "no such meter", "id")
    data = json_body(req)
    ctx.storage.billing.reset(mid, ctx.now(), confirm=data.get("confirm"))
    ctx.event("config", "meter " + mid, "bill.reset", {"name": m["name"], "by": req.g.session["user"]})
    from gateway.core import statement

    return _view(ctx, mid, m["name"], False, _next_read(ctx),
                 _month_cost(ctx, statement, _config(ctx), mid))


def get_config(ctx, req):
    return _config(ctx)


def put_config(ctx, req):
    ids = [m["id"] for m in ctx.meters.meters]
    cfg = ondemand.call("gateway.core.tariff", "check_config", json_body(req), ids)
    ctx.store.save("billing", cfg)
    ctx.event("config", "billing", "bill.tariffs", {"by": req.g.session["user"]})
    return cfg


def _month(v, field="month"):
    if not isinstance(v, str) or len(v) != 7 or v[4] != "-" or not (v[:4] + v[5:]).isdigit() \
            or not 1 <= int(v[5:]) <= 12:
        raise ValidationError(field, "month must be YYYY-MM", "month")
    return v


def _statement(ctx, req):
    """(meter, statement | None) of the query, or an error Response."""
    a = req.args
    mid = a.get("meter")
    if not meter_allowed(ctx, req, mid):
        return forbidden_meter()
    if not mid or not _billed(ctx, req, mid):
        raise ValidationError("meter", "unknown meter", "unknown")
    from gateway.core import statement

    if not a.get("month"):
        return mid, None
    part = a.get("part")
    if part is not None:
        if not part.isdigit() or not 0 < int(part) < 100:
            raise ValidationError("part", "part must be 1-99", "range", {"min": 1, "max": 99})
        part = int(part)
    st = statement.find(ctx.storage.billing, mid, _month(a.get("month")), part)
    if st is None:
        return error(404, "no statement for that month", "month")
    if meter_scope(ctx, req) is not None and not _own(ctx, mid, st):
        return error(404, "no statement for that month", "month")
    st["name"] = _namer(ctx)(mid)
    st["location"] = ctx.settings["location"]
    return mid, st


def _billed(ctx, req, mid):
    """A meter, or (not for a tenant) a deleted meter whose billing is still on the device."""
    return ctx.meters.get(mid) is not None or (
        meter_scope(ctx, req) is None and mid in ctx.storage.billing.channels())


def _namer(ctx):
    """mid -> the name its statements carry (a deleted meter's too: "meters-gone" is read from
    flash once per request, not once per meter)."""
    from gateway.core.statement import meter_name

    name_of = ctx.meters.names()
    return lambda mid: meter_name(name_of(mid), mid)


def _gone_ids(ctx):
    """The deleted meters whose billing is kept on the device, in id order."""
    from gateway.core.statement import meter_order

    ids = [ch for ch in ctx.storage.billing.channels() if ctx.meters.get(ch) is None]
    ids.sort(key=meter_order)
    return ids


def _billed_ids(ctx, req):
    """The meters' ids and (not for a tenant) the deleted meters' whose billing is kept, in
    id order (as `dingate statement` lists a backup's)."""
    from gateway.core.statement import meter_order

    ids = [m["id"] for m in ctx.meters.meters]
    if meter_scope(ctx, req) is None:
        ids += _gone_ids(ctx)
    ids.sort(key=meter_order)
    return ids


def _own(ctx, mid, st):
    """Is statement ``st`` (or a listing entry) the current tenancy's? A tenant sees none of
    the tenant before it: closed before the last billing reset (first init), or by it."""
    fi = (ctx.storage.billing.get(mid) or {}).get("first_init")
    if not fi or not st["closed"]:
        return True
    return st["to"] >= fi and not st.get("reset")


def statements(ctx, req):
    r = _statement(ctx, req)
    if not isinstance(r, tuple):
        return r
    mid, st = r
    if st is None:
        from gateway.core import statement

        lst = statement.listing(ctx.storage.billing, mid)
        if meter_scope(ctx, req) is not None:
            lst = [x for x in lst if _own(ctx, mid, x)]
        return lst
    return st


def _summary_csv(ctx, req, month):
    """Every meter's statements of ``month`` (a tenant: its own, of its tenancy) as one table.
    The lines are made before the answer, one meter's statements at a time (the tariff code is
    loaded for this call only): ~150 bytes a statement are held, not the statements."""
    from gateway.core import statement

    sc = meter_scope(ctx, req)
    s = ctx.settings
    b = ctx.storage.billing

    name_of = _namer(ctx)

    def each_statement():
        for mid in _billed_ids(ctx, req):
            if sc is not None and mid not in sc:
                continue
            name = name_of(mid)  # once per meter, not per statement part
            for st in statement.month_parts(b, mid, month):
                if sc is None or _own(ctx, mid, st):
                    st["name"] = name
                    yield st

    lines = list(statement.summary_lines(each_statement(), s["csv_separator"], s["csv_decimal"]))
    name = statement.filename(s["location"], "statements", month, 1, "csv")
    body = (x for x in lines)  # an iterator is streamed (a list would be sent as JSON)
    return Response(body, 200, {"Content-Type": "text/csv; charset=UTF-8",
                                "Content-Disposition": 'attachment; filename="%s"' % name})


def statement_csv(ctx, req):
    if not req.args.get("meter"):  # the month's table of every meter
        return _summary_csv(ctx, req, _month(req.args.get("month")))
    r = _statement(ctx, req)
    if not isinstance(r, tuple):
        return r
    mid, st = r
    if st is None:
        raise ValidationError("month", "month must be YYYY-MM", "month")
    from gateway.core import statement

    s = ctx.settings
    name = statement.filename(s["location"], st["name"], st["month"], st["part"], "csv")
    text = "".join(statement.csv_lines(st, s["csv_separator"], s["csv_decimal"], s["location"]))
    return Response(text, 200, {"Content-Type": "text/csv; charset=UTF-8",
                                 "Content-Disposition": 'attachment; filename="%s"' % name})


def totals(ctx, req):
    """Import consumption per group for a month (default: the running one), without the meters
    excluded from totals; common-area meters in their own line."""
    from gateway.core import statement

    cfg = _config(ctx).get("meters") or {}
    month = req.args.get("month")
    b = ctx.storage.billing
    if month:
        _month(month)
    groups = {}
    out = {"month": month, "groups": [], "total_kwh_delta": 0}
    name_of = _namer(ctx)
    for mid in _billed_ids(ctx, req):
        mc = cfg.get(mid) or {}
        if not month:
            om = b.open_month(mid)
            if om is not None:
                out["month"] = month = om[0]
        if month is None:
            continue
        if ctx.meters.get(mid) is None and not statement.has_month(b, mid, month):
            continue  # a deleted meter with no statement that month
        wh = statement._month_wh(b, mid, month)
        g = groups.get(mc.get("group") or "")
        if g is None:
            g = groups[mc.get("group") or ""] = {"group": mc.get("group") or "", "meters": [],
                                                 "kwh_delta": 0}
            out["groups"].append(g)
        excl = bool(mc.get("exclude_from_totals"))
        g["meters"].append({"meter": mid, "name": name_of(mid), "kwh_delta": wh / 1000,
                            "excluded": excl, "common": bool(mc.get("common"))})
        if not excl:
            g["kwh_delta"] += wh / 1000
            out["total_kwh_delta"] += wh / 1000
    return out


ROUTES = (
    ("GET", "billing", "tenant", billing),
    ("POST", "billing/<id>/reset", "installer", reset),
    ("GET", "billing/config", "user", get_config),
    ("PUT", "billing/config", "installer", put_config),
    ("GET", "billing/totals", "user", totals),
    ("GET", "statements", "tenant", statements),
    ("GET", "statements.csv", "tenant", statement_csv),
)
