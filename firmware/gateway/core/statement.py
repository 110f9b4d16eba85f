"""Monthly statements per meter: hour-of-week consumption, frozen closed months, CSV.

Loaded on demand (gateway.core.ondemand) by Billing.flush() and the statement API; the host
(``dingate statement``) imports it too.

Files in the billing directory, per channel:
  ``tou_<ch>.json``  {"YYYY-MM": [48 Wh counters]}: the open month's import by local hour of a
                     weekday (0-23) or weekend day (24-47), from the hourly billing reads;
                     exactly what a time-of-use split needs (gateway.core.tariff).
  ``st_<ch>.json``   [snapshot, ...] the last KEEP closed statements, oldest first.
A snapshot holds the readings, the Wh per period and the prices in force when it closed (no
time windows), so a later tariff change does not rewrite it; ``render`` turns it into the
statement the API returns.
"""
import json
import os

from gateway.core.billing import month_text
from gateway.core.configstore import atomic_write, dumps, read_file

KEEP = 13  # closed statements kept per meter: a year and the month before
KEEP_TOU = 3  # open months' counters kept (normally one)
SPREAD_MAX_H = 31 * 24  # a longer gap between reads is spread over its last 31 days only


def _load(path, default):
    try:
        return json.loads(read_file(path))
    except (OSError, ValueError):
        return default


def _safe(b, ch):
    from gateway.core.billing import _safe as s

    return s(ch)


def _tou_path(b, ch):
    return "%s/tou_%s.json" % (b.root, _safe(b, ch))


def _st_path(b, ch):
    return "%s/st_%s.json" % (b.root, _safe(b, ch))


def cell(zone, t):
    """Hour-of-week cell (0-47) and month key of instant t."""
    p = zone.parts(t)
    return p[3] + (24 if p[6] >= 5 else 0), "%04d-%02d" % (p[0], p[1])


def _add_span(zone, tou, t0, t1, wh):
    """Spread ``wh`` consumed in (t0, t1] over the hours it covers (one hour: all in it)."""
    if t1 - t0 <= 4200:
        c, mk = cell(zone, (t0 + t1) // 2)
        _cells(tou, mk)[c] += wh
        return
    t0 = max(t0, t1 - SPREAD_MAX_H * 3600)
    span = t1 - t0
    left = wh
    t = t0
    while t < t1:
        nxt = min(t1, (t // 3600 + 1) * 3600)
        part = wh * (nxt - t) // span if nxt < t1 else left
        left -= part
        c, mk = cell(zone, (t + nxt) // 2)
        _cells(tou, mk)[c] += part
        t = nxt


def _cells(tou, mk):
    v = tou.get(mk)
    if v is None:
        v = tou[mk] = [0] * 48
        while len(tou) > KEEP_TOU:
            del tou[sorted(tou)[0]]
    return v


def apply(billing, queue):
    """Process Billing's queue: spans into the hour-of-week counters, closings into frozen
    statements (with the billing configuration of this moment); one write per file changed."""
    tous = {}
    sts = {}
    cfg = None
    for e in queue:
        ch = e[1]
        tou = tous.get(ch)
        if tou is None:
            tou = tous[ch] = _load(_tou_path(billing, ch), {})
        if e[0] == "h":
            _add_span(billing.zone, tou, e[2], e[3], e[4])
            continue
        if cfg is None:
            cfg = billing.config() or {}
        lst = sts.get(ch)
        if lst is None:
            lst = sts[ch] = _load(_st_path(billing, ch), [])
        month, start, end = e[2], e[3], e[4]
        part = 1 + sum(1 for s in lst if s["month"] == month)
        snap = snapshot(billing, cfg, ch, month, start, end, tou.pop(month, None), part)
        if len(e) > 5:
            snap["reset"] = e[5]
        lst.append(snap)
        del lst[:-KEEP]
    for ch in tous:
        billing.bytes_written += atomic_write(_tou_path(billing, ch), dumps(tous[ch]))
    for ch in sts:
        billing.bytes_written += atomic_write(_st_path(billing, ch), dumps(sts[ch]))


def _month_wh(billing, ch, month):
    g = billing.get(ch)
    if g is None:
        return 0
    cm = g.get("current_month")
    if cm and cm["month"] == month:
        return cm["import_wh"] or 0
    for m in g["months"]:
        if m["month"] == month:
            return m["import_consumption_wh"] or 0
    return 0


def _common(billing, cfg, ch, month):
    mine = (cfg.get("meters") or {}).get(ch) or {}
    pct = mine.get("common_share_pct") or 0
    if not pct:
        return None
    total = 0
    names = []
    for c, m in (cfg.get("meters") or {}).items():
        if m.get("common"):
            total += _month_wh(billing, c, month)
            names.append(c)
    return ["%s %% of common areas (%s)" % (_pct(pct), ", ".join(sorted(names))),
            int(total * pct // 100)]


def _pct(p):
    return ("%d" % p) if p == int(p) else ("%.2f" % p).rstrip("0")


def snapshot(billing, cfg, ch, month, start, end, cells, part=1):
    """What a statement is made of, with the prices of ``cfg`` (see module doc)."""
    from gateway.core import tariff as T  # only when a statement is made

    mc = (cfg.get("meters") or {}).get(ch) or {}
    tf = T.tariff_of(cfg, ch)
    s = start or [end[0], end[1], end[2]]
    imp = end[1] - s[1] if end[1] is not None and s[1] is not None else None
    exp = end[2] - s[2] if end[2] is not None and s[2] is not None else None
    z = billing.zone
    y, mo = int(month[:4]), int(month[5:7])
    m0 = z.from_local(y, mo, 1, 0, 0)
    frac = (end[0] - s[0]) / (z.next_month(m0) - m0)
    if frac > 0.97:
        frac = 1.0
    snap = {"meter": ch, "month": month, "part": part, "from": s[0], "to": end[0],
            "tenant": mc.get("tenant") or "", "currency": cfg.get("currency") or "EUR",
            "s": [s[1], s[2]], "e": [end[1], end[2]],
            "w": T.split(tf, cells, imp or 0), "x": exp, "tf": None,
            "ff": round(frac, 4)}
    if tf is not None:  # the prices only: the windows did their job in the split
        snap["tf"] = p = dict(tf)
        p["periods"] = [{"name": x["name"], "price": x["price"]} for x in tf["periods"]]
    q = billing.quantity(ch)
    if q != "import_kwh":
        snap["q"] = q
    elif tf is not None and tf.get("capacity_price"):
        snap["ca"] = capacity_w(billing, ch, month)
    pk = billing.peak(ch)  # the month's quarter-hour peak (core/demand.py), if measured
    if pk is not None and month_text(pk[0]) == month:
        snap["pk"] = [pk[1], pk[2]]
    cm = _common(billing, cfg, ch, month)
    if cm:
        snap["cm"] = cm
    return snap


def capacity_w(billing, ch, month):
    """The average of the quarter-hour peaks (W, core/demand.py) of the 12 months to ``month``,
    each at least the capacity tariff's floor: the floor when none was measured."""
    from gateway.core import demand
    from gateway.core.tariff import CAPACITY_FLOOR_W

    y, m = int(month[:4]), int(month[5:7])
    first = "%04d-%02d" % ((y, 1) if m == 12 else (y - 1, m + 1))
    cur, past = demand.view(billing, ch)
    ws = [max(p["w"], CAPACITY_FLOOR_W) for p in ([cur] if cur else []) + past
          if first <= p["month"] <= month]
    return sum(ws) // len(ws) if ws else CAPACITY_FLOOR_W


def _kwh(wh):
    return None if wh is None else wh / 1000


def render(snap, closed):
    """The statement as the API returns it. ``quantity`` names the counter billed:
    "import_kwh" (then ``import_kwh``, ``export_kwh``: consumption in kWh, periods in "kwh"),
    or "gas_m3"/"water_m3" (consumption under that name, in m3, periods in "m3")."""
    from gateway.core import tariff as T

    tf = snap.get("tf")
    q = snap.get("q") or "import_kwh"
    elec = q == "import_kwh"
    imp = snap["e"][0] - snap["s"][0] if None not in (snap["e"][0], snap["s"][0]) else None
    out = {"meter": snap["meter"], "month": snap["month"], "part": snap["part"],
           "closed": closed, "from": snap["from"], "to": snap["to"], "tenant": snap["tenant"],
           "kind": tf["kind"] if tf else ("electricity" if elec else q[:-3]),
           "quantity": q, "unit": "kWh" if elec else "m3",
           "import_kwh": _kwh(imp) if elec else None,
           "export_kwh": _kwh(snap.get("x")) if elec else None,
           "periods": [{"name": n, "kwh" if elec else "m3": wh / 1000} for n, wh in snap["w"]],
           "cost": T.cost(tf, snap["currency"], snap["w"], snap.get("x") if elec else None,
                          snap["ff"], snap.get("cm"), "kWh" if elec else "m3", snap.get("ca"))}
    if elec:
        out["index_start"] = {"import_kwh": _kwh(snap["s"][0]), "export_kwh": _kwh(snap["s"][1])}
        out["index_end"] = {"import_kwh": _kwh(snap["e"][0]), "export_kwh": _kwh(snap["e"][1])}
    else:
        out[q] = _kwh(imp)
        out["index_start"] = {q: _kwh(snap["s"][0])}
        out["index_end"] = {q: _kwh(snap["e"][0])}
    if elec:  # the month's highest quarter-hour average import (kW) and its quarter's start
        pk = snap.get("pk")
        out["peak_kw"], out["peak_ts"] = (pk[0] / 1000, pk[1]) if pk else (None, None)
    if "reset" in snap:
        out["reset"] = snap["reset"]
    return out


def forget(billing, ch):
    """Remove channel ch's statements and hour-of-week counters (its meter's billing is
    dropped: core/billing.py ``prune``)."""
    for path in (_tou_path(billing, ch), _st_path(billing, ch)):
        try:
            os.remove(path)
        except OSError:
            pass


def closed_list(billing, ch):
    return _load(_st_path(billing, str(ch)), [])


def open_snapshot(billing, ch, cfg=None):
    """The running month's statement so far, with today's prices (None before any read);
    ``cfg``: the billing configuration if the caller has it (else billing.config())."""
    ch = str(ch)
    om = billing.open_month(ch)
    if om is None:
        return None
    month, start, cur = om
    tou = _load(_tou_path(billing, ch), {})
    if cfg is None:
        cfg = billing.config() or {}
    snap = snapshot(billing, cfg, ch, month, start, cur, tou.get(month),
                    1 + sum(1 for s in closed_list(billing, ch) if s["month"] == month))
    return snap


def _snapshots(billing, ch, month):
    """[(snapshot, closed)] of meter ``ch``'s statements for ``month``, oldest first (its parts,
    a tenant reset making two, then the running one), not rendered."""
    ch = str(ch)
    out = [(s, True) for s in closed_list(billing, ch) if s["month"] == month]
    op = open_snapshot(billing, ch)
    if op is not None and op["month"] == month:
        out.append((op, False))
    return out


def meter_name(name, ch):
    """The name a statement carries: its meter's, "meter <id>" when none is known."""
    return name or "meter " + ch


def meter_order(ch):
    """Sort key of billing channels (meter ids): by number ("2" before "10"), others after."""
    return (0, int(ch)) if ch.isdigit() else (1, ch)


def has_month(billing, ch, month):
    """Has meter ``ch`` a statement for ``month`` (closed or running)?"""
    return bool(_snapshots(billing, ch, month))


def find(billing, ch, month, part=None):
    """The statement of meter ``ch`` for ``month``: the open month's, else a closed one (the
    last part unless ``part``); None if there is none."""
    found = None
    for snap, closed in _snapshots(billing, ch, month):
        if part is None or snap["part"] == part:
            found = (snap, closed)
    return render(*found) if found else None


def month_parts(billing, ch, month):
    """Every statement of meter ``ch`` for ``month``, rendered, oldest first."""
    return [render(s, closed) for s, closed in _snapshots(billing, ch, month)]


def listing(billing, ch):
    """[{"month", "part", "from", "to", "closed"}] newest first."""
    out = []
    for s in closed_list(billing, ch):
        e = {"month": s["month"], "part": s["part"], "from": s["from"], "to": s["to"],
             "closed": True}
        if "reset" in s:
            e["reset"] = s["reset"]
        out.append(e)
    op = open_snapshot(billing, ch)
    if op is not None:
        out.append({"month": op["month"], "part": op["part"], "from": op["from"],
                    "to": op["to"], "closed": False})
    out.reverse()
    return out


def _num(x, dec, nd=3):
    if x is None:
        return ""
    s = ("%%.%df" % nd) % x
    return s.replace(".", ",") if dec == "," else s


def _rows(sep):
    """A CSV line maker: row(cell, ...) -> text, cells quoted as the history export does."""
    from gateway.core.history import csv_cell

    def row(*cells):
        return sep.join([csv_cell(str(c), sep) for c in cells]) + "\r\n"

    return row


def csv_lines(st, sep=";", dec=",", location=""):
    """The statement as CSV text lines: a key/value block, then one line per price line."""
    row = _rows(sep)
    c = st["cost"]
    q = st.get("quantity") or "import_kwh"
    yield row("location", location)
    yield row("meter", st["meter"])
    yield row("tenant", st["tenant"])
    yield row("month", st["month"])
    yield row("part", st["part"])
    yield row("closed", "yes" if st["closed"] else "no")
    yield row(q + "_index_start", _num(st["index_start"][q], dec))
    yield row(q + "_index_end", _num(st["index_end"][q], dec))
    yield row(q + "_delta", _num(st[q], dec))
    if q == "import_kwh":
        yield row("export_kwh_delta", _num(st["export_kwh"], dec))
        yield row("peak_kw", _num(st.get("peak_kw"), dec))
        yield row("peak_ts", st.get("peak_ts") or "")
    yield row("currency", c["currency"])
    yield row("kind", "label", "quantity", "unit", "price", "amount")
    for ln in c["lines"]:
        yield row(ln["kind"], ln["label"], _num(ln["quantity"], dec), ln["unit"],
                  _num(ln["price"], dec, 5), _num(ln["amount"], dec, 2))
    yield row("subtotal", "", "", "", "", _num(c["subtotal"], dec, 2))
    yield row("vat", "", _num(c["vat_pct"], dec, 2), "%", "", _num(c["vat"], dec, 2))
    yield row("total", "", "", "", "", _num(c["total"], dec, 2))


SUMMARY = ("month", "part", "meter", "name", "tenant", "closed", "unit", "index_start",
           "index_end", "consumption", "export_kwh", "peak_kw", "subtotal", "vat_pct", "vat",
           "total", "currency")


def summary_lines(sts, sep=";", dec=","):
    """A month's statements as one table for the accounts: a header, then a line per statement
    (``name``: the meter's, set by the caller), the same figures as each statement's CSV."""
    row = _rows(sep)
    yield row(*SUMMARY)
    for st in sts:
        q = st.get("quantity") or "import_kwh"
        c = st["cost"]
        yield row(st["month"], st["part"], st["meter"], st.get("name") or "", st["tenant"] or "",
                  "yes" if st["closed"] else "no", st["unit"], _num(st["index_start"][q], dec),
                  _num(st["index_end"][q], dec), _num(st[q], dec), _num(st.get("export_kwh"), dec),
                  _num(st.get("peak_kw"), dec), _num(c["subtotal"], dec, 2), _num(c["vat_pct"], dec, 2), _num(c["vat"], dec, 2),
                  _num(c["total"], dec, 2), c["currency"])


def filename(location, meter_name, month, part, ext):
    from gateway.core.history import sanitize_location

    name = (sanitize_location(location) or "dingate") + "_" + (
        sanitize_location(meter_name, 16) or "meter") + "_" + month
    if part and part > 1:
        name += "_%d" % part
    return name + "." + ext
