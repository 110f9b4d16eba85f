"""Billing configuration and prices: currency, per-meter tariffs, groups, common-area shares.

Configuration-time and statement-time code, loaded on demand (gateway.core.ondemand).

    cfg = check_config({"currency": "EUR",
        "tariffs": [{"name": "HPHC", "price": 0.2516, "base_name": "HP",
                     "periods": [{"name": "HC", "price": 0.1828, "windows": ["22:00-06:00"]}],
                     "export_price": 0.1, "monthly_fee": 15.65, "vat_pct": 20}],
        "meters": {"3": {"tenant": "Apt 3", "tariff": "HPHC", "group": "Floor 1"}}})
    tariff_of(cfg, "3")                # the meter's tariff (None: no prices)
    shares = period_shares(tariff)     # 48 hour-of-week cells -> [(period index, minutes), ...]
    cost(tariff, currency, [("HP", wh), ("HC", wh)], export_wh, fee_fraction)

A window is "HH:MM-HH:MM" (every day), or "weekday HH:MM-HH:MM" / "weekend HH:MM-HH:MM"; it may
wrap midnight. Windows may overlap: a period's count once, and a minute in the windows of two
periods is the first one's. Tariffs are named and shared by meters (a building has one or two).

Prices are in currency units per kWh (gas, water: per m3); ``vat_pct`` applies to the whole
statement. Hours outside every window are the base period (``price``, named ``base_name``).
``capacity_price`` (electricity, currency units per kW and year; 0: none) prices a capacity
tariff as Flanders bills it: the average of the last 12 months' highest quarter-hour peaks,
each at least CAPACITY_FLOOR_W, a twelfth a month (pro rata of the month covered).
Hour-of-week cells: 0-23 = weekday hours (Mon-Fri), 24-47 = weekend hours (Sat, Sun), local
time. A window's minutes split its first/last hour (a read is hourly: exact on whole hours).
Money is computed in integer hundred-thousandths of the currency and rounded to cents per line.
"""

from gateway.core import check
from gateway.core.errors import ValidationError

KINDS = ("electricity", "gas", "water")
DAYS = ("all", "weekday", "weekend")
MAX_METERS = 64
MAX_TARIFFS = 8
MAX_PERIODS = 4
MAX_WINDOWS = 6
MAX_GROUPS = 16
CAPACITY_FLOOR_W = 2500  # Fluvius bills a monthly peak below 2.5 kW as 2.5 kW
_FIELD = "meters"


def _num(v, field, lo=0.0, hi=1e6):
    return check.number(field, v, lo, hi)


def _text(v, field, maxlen=31, empty=True):
    return check.text(field, v, maxlen, 0 if empty else 1, none_ok=True)


def hhmm(v, field):
    """"HH:MM" (00:00-24:00) -> minutes of the day."""
    if not isinstance(v, str) or len(v) != 5 or v[2] != ":" or not (v[:2] + v[3:]).isdigit():
        raise ValidationError(field, 'time must be "HH:MM"', "time")
    m = int(v[:2]) * 60 + int(v[3:])
    if int(v[3:]) > 59 or m > 1440:
        raise ValidationError(field, 'time must be "HH:MM" from 00:00 to 24:00', "time")
    return m


def window(w, field):
    """"[all|weekday|weekend ]HH:MM-HH:MM" -> (days, start minute, end minute)."""
    if not isinstance(w, str) or len(w) > 24:
        raise ValidationError(field, 'a window is "[weekday |weekend ]HH:MM-HH:MM"', "window")
    days, _, span = w.rpartition(" ")
    days = days.strip() or "all"
    if days not in DAYS or len(span) != 11 or span[5] != "-":
        raise ValidationError(field, 'a window is "[weekday |weekend ]HH:MM-HH:MM"', "window")
    a, b = hhmm(span[:5], field), hhmm(span[6:], field)
    if a == b:
        raise ValidationError(field, "a window must not be empty", "window")
    return days, a, b


def check_currency(v):
    if v is None:
        return "EUR"
    if not isinstance(v, str) or len(v) != 3 or not ("A" <= v[0] <= "Z" and "A" <= v[1] <= "Z"
                                                     and "A" <= v[2] <= "Z"):
        raise ValidationError("currency", "an ISO 4217 code (three capital letters, e.g. EUR)",
                              "currency")
    return v


def check_tariff(t, f):
    if not isinstance(t, dict):
        raise ValidationError(f, "object expected", "format")
    kind = check.choice(f + ".kind", t.get("kind", "electricity"), KINDS)
    out = {"kind": kind, "price": _num(t.get("price", 0), f + ".price"),
           "base_name": _text(t.get("base_name") or "base", f + ".base_name", 15),
           "export_price": _num(t.get("export_price", 0), f + ".export_price"),
           "monthly_fee": _num(t.get("monthly_fee", 0), f + ".monthly_fee"),
           "capacity_price": _num(t.get("capacity_price", 0), f + ".capacity_price"),
           "vat_pct": _num(t.get("vat_pct", 0), f + ".vat_pct", 0, 100), "periods": []}
    if out["capacity_price"] and kind != "electricity":
        raise ValidationError(f + ".capacity_price", "a capacity price is for electricity",
                              "invalid")
    ps = t.get("periods") or []
    if not isinstance(ps, list) or len(ps) > MAX_PERIODS:
        raise ValidationError(f + ".periods", "at most %d periods" % MAX_PERIODS, "max",
                              {"max": MAX_PERIODS})
    names = [out["base_name"]]
    for i, p in enumerate(ps):
        pf = "%s.periods.%d" % (f, i)
        if not isinstance(p, dict):
            raise ValidationError(pf, "object expected", "format")
        name = _text(p.get("name"), pf + ".name", 15, False)
        if name in names:
            raise ValidationError(pf + ".name", "period names must differ", "unique")
        names.append(name)
        ws = p.get("windows")
        if not isinstance(ws, list) or not 0 < len(ws) <= MAX_WINDOWS:
            raise ValidationError(pf + ".windows", "1-%d time windows" % MAX_WINDOWS,
                                  "range", {"min": 1, "max": MAX_WINDOWS})
        wins = []
        for k, w in enumerate(ws):
            window(w, "%s.windows.%d" % (pf, k))
            wins.append(w)
        out["periods"].append({"name": name, "price": _num(p.get("price"), pf + ".price"),
                               "windows": wins})
    return out


def check_config(data, meter_ids=None):
    """Validate the billing configuration; returns it normalized:
    {"currency", "tariffs": [tariff], "meters": {id: {"tenant", "group", "exclude_from_totals",
    "common", "common_share_pct", "tariff": name | ""}}}; ``meter_ids``: the known meters."""
    if not isinstance(data, dict):
        raise ValidationError(None, "a JSON object is expected", "format")
    out = {"currency": check_currency(data.get("currency")), "tariffs": [], "meters": {}}
    ts = data.get("tariffs") or []
    if not isinstance(ts, list) or len(ts) > MAX_TARIFFS:
        raise ValidationError("tariffs", "at most %d tariffs" % MAX_TARIFFS, "max",
                              {"max": MAX_TARIFFS})
    names = []
    for i, t in enumerate(ts):
        f = "tariffs.%d" % i
        tf = check_tariff(t, f)
        tf["name"] = _text(t.get("name"), f + ".name", 31, False)
        if tf["name"] in names:
            raise ValidationError(f + ".name", "tariff names must differ", "unique")
        names.append(tf["name"])
        out["tariffs"].append(tf)
    ms = data.get("meters") or {}
    if not isinstance(ms, dict) or len(ms) > MAX_METERS:
        raise ValidationError(_FIELD, "an object of meter id -> billing settings", "format")
    groups = []
    share = 0
    for mid in ms:
        f = "meters." + mid
        if meter_ids is not None and mid not in meter_ids:
            raise ValidationError(f, "unknown meter", "unknown")
        m = ms[mid]
        if not isinstance(m, dict):
            raise ValidationError(f, "object expected", "format")
        e = {"tenant": _text(m.get("tenant"), f + ".tenant", 63),
             "group": _text(m.get("group"), f + ".group", 31),
             "exclude_from_totals": m.get("exclude_from_totals") is True,
             "common": m.get("common") is True,
             "common_share_pct": _num(m.get("common_share_pct", 0), f + ".common_share_pct", 0, 100),
             "tariff": _text(m.get("tariff"), f + ".tariff", 31)}
        if e["tariff"] and e["tariff"] not in names:
            raise ValidationError(f + ".tariff", "no tariff of that name", "unknown")
        if e["group"] and e["group"] not in groups:
            groups.append(e["group"])
        share += e["common_share_pct"]
        if e["common"] and e["common_share_pct"]:
            raise ValidationError(f + ".common_share_pct", "a common-area meter has no share",
                                  "common_share")
        out["meters"][mid] = e
    if len(groups) > MAX_GROUPS:
        raise ValidationError(_FIELD, "at most %d groups" % MAX_GROUPS, "max_groups",
                              {"max": MAX_GROUPS})
    if share > 100.0001:
        raise ValidationError(_FIELD, "the common-area shares add up to more than 100 %", "shares")
    return out


def tariff_of(cfg, mid):
    """The tariff of meter ``mid`` in a checked configuration, or None."""
    name = ((cfg.get("meters") or {}).get(mid) or {}).get("tariff")
    for t in cfg.get("tariffs") or ():
        if t["name"] == name:
            return t
    return None


def period_names(tariff):
    return [tariff["base_name"]] + [p["name"] for p in tariff["periods"]]


def _covers(win, weekend, m):
    """Does window ``win`` (days, start, end minute) hold minute ``m`` of a (weekend) day?"""
    days, a, b = win
    if days != "all" and (days == "weekend") != weekend:
        return False
    return a <= m < b if a < b else m >= a or m < b


def period_shares(tariff):
    """For each of the 48 hour-of-week cells, [(period index, minutes of the hour)] (0 = base).
    A minute in the windows of several periods is the first one's; a period's windows may
    overlap (their minutes count once)."""
    wins = [[window(w, "") for w in p["windows"]] for p in tariff["periods"]]
    out = []
    for cell in range(48):
        weekend = cell >= 24
        lo = (cell % 24) * 60
        cuts = [lo, lo + 60]  # the hour cut where a window starts or ends: one owner per piece
        for ws in wins:
            for w in ws:
                for x in w[1:]:
                    if lo < x < lo + 60 and x not in cuts:
                        cuts.append(x)
        cuts.sort()
        mins = [0] * (len(wins) + 1)
        for i in range(len(cuts) - 1):
            owner = 0
            for k in range(len(wins)):
                if any(_covers(w, weekend, cuts[i]) for w in wins[k]):
                    owner = k + 1
                    break
            mins[owner] += cuts[i + 1] - cuts[i]
        out.append([(k, mins[k]) for k in list(range(1, len(mins))) + [0] if mins[k]])
    return out


def split(tariff, cells, total):
    """Wh per period name from the 48 hour-of-week counters, scaled so they add up to ``total``
    (the month's index difference, which is what is billed)."""
    names = period_names(tariff) if tariff else ["base"]
    per = [0] * len(names)
    if tariff and cells:
        shares = period_shares(tariff)
        for c in range(48):
            v = cells[c]
            if v:
                for i, mins in shares[c]:
                    per[i] += v * mins
        per = [x // 60 for x in per]  # exact for whole-hour windows
    s = sum(per)
    if total is None:
        total = s
    if s != total:
        if s <= 0:
            per = [total] + [0] * (len(names) - 1)
        else:
            scaled = [x * total // s for x in per]
            scaled[0] += total - sum(scaled)
            per = scaled
    return [(names[i], per[i]) for i in range(len(names))]


def _units(price):
    return int(round(price * 100000))  # hundred-thousandths of the currency


def _cents(amount_e8):
    """Round amount (1e-8 currency units, maybe negative) half away from zero to cents."""
    n = abs(amount_e8)
    c = (n + 500000) // 1000000
    return -c if amount_e8 < 0 else c


def _money(c):
    return c / 100


def cost(tariff, currency, periods, export_wh, fee_fraction, common=None, unit=None,
         capacity_w=None):
    """The statement's price lines, VAT and total.
    periods: [(name, Wh or litres)]; export_wh: Wh injected (None/0: no line); fee_fraction:
    share of the month covered (monthly fee and capacity pro rata); common: (label, Wh) share of
    common areas priced at the base price; unit: "kWh" or "m3" (default: from the tariff's
    kind); capacity_w: the 12 months' average peak (W) a capacity price applies to. Returns
    {"currency", "lines", "subtotal", "vat_pct", "vat", "total"}."""
    lines = []
    sub = 0
    if tariff is None:
        return {"currency": currency, "lines": [], "subtotal": 0, "vat_pct": 0, "vat": 0,
                "total": 0, "tariff": False}
    if unit is None:
        unit = "kWh" if tariff["kind"] == "electricity" else "m3"
    prices = [tariff["price"]] + [p["price"] for p in tariff["periods"]]
    for i, (name, wh) in enumerate(periods):
        c = _cents(wh * _units(prices[i]))  # Wh x 1e-5/kWh = 1e-8 units
        sub += c
        lines.append({"kind": "energy", "label": name, "quantity": wh / 1000, "unit": unit,
                      "price": prices[i], "amount": _money(c)})
    if common and common[1]:
        c = _cents(common[1] * _units(tariff["price"]))
        sub += c
        lines.append({"kind": "common", "label": common[0], "quantity": common[1] / 1000,
                      "unit": unit, "price": tariff["price"], "amount": _money(c)})
    if export_wh and tariff["export_price"]:
        c = -_cents(export_wh * _units(tariff["export_price"]))
        sub += c
        lines.append({"kind": "export", "label": "export", "quantity": export_wh / 1000,
                      "unit": unit, "price": -tariff["export_price"], "amount": _money(c)})
    frac = min(1.0, max(0.0, fee_fraction))
    if tariff["monthly_fee"]:
        c = _cents(int(round(_units(tariff["monthly_fee"]) * frac * 1000)))
        sub += c
        lines.append({"kind": "fee", "label": "monthly fee", "quantity": round(frac, 4),
                      "unit": "month", "price": tariff["monthly_fee"], "amount": _money(c)})
    cp = tariff.get("capacity_price")  # a statement frozen before it existed has none
    if cp and capacity_w:
        c = _cents(int(round(capacity_w * _units(cp) * frac / 12)))  # W x 1e-5/kW = 1e-8
        sub += c
        lines.append({"kind": "capacity", "label": "capacity", "quantity": capacity_w / 1000,
                      "unit": "kW", "price": cp, "amount": _money(c)})
    vat = _cents(sub * int(round(tariff["vat_pct"] * 1000)) * 10)
    return {"currency": currency, "lines": lines, "subtotal": _money(sub),
            "vat_pct": tariff["vat_pct"], "vat": _money(vat), "total": _money(sub + vat),
            "tariff": True}
