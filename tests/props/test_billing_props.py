"""Property tests of billing (CPython + hypothesis): month-end readings, consumption and
statements from any sequence of billing reads (hourly, late, missing for weeks, on a month's
boundary, across DST changes), against an oracle that finds month boundaries with Python's own
zoneinfo (the system's tz database), not with the firmware's tz rules."""

import shutil
import tempfile
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core import demand, statement, tariff
from gateway.core.billing import KEEP_MONTHS, SHOW_MONTHS, Billing, next_billing_read

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# French and Belgian sites, their overseas departments, and Dublin (whose tz database rule has
# winter as the daylight-saving period)
ZONES = ["Europe/Paris", "Europe/Brussels", "Europe/Dublin", "Europe/London", "Pacific/Noumea",
         "America/Cayenne", "UTC"]
STARTS = [datetime(2026, 3, 20, 14, 2), datetime(2026, 10, 15, 0, 2),  # before DST changes
          datetime(2026, 12, 25, 9, 2), datetime(2028, 2, 20, 0, 2)]  # the year's end, a leap Feb
HC = {"name": "HC", "price": 0.1696, "windows": ["22:00-06:00"]}


def _month_after(zone, t):
    """UTC epoch of the local midnight starting the month after the one t (epoch s) is in."""
    d = datetime.fromtimestamp(t, zone)
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(datetime(y, m, 1, tzinfo=zone).timestamp())


def _month_key(zone, t):
    return datetime.fromtimestamp(t, zone).strftime("%Y-%m")


@st.composite
def reads(draw):
    """(zone name, [(ts, import Wh, export Wh)]): billing reads as a gateway makes them; some
    not newer than the last (ignored by Billing), some exactly on or next to a month's start."""
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    start = draw(st.sampled_from(STARTS)).replace(tzinfo=zone)
    t = int(start.timestamp()) + draw(st.integers(-1800, 1800))
    imp, exp = draw(st.integers(0, 10 ** 9)), draw(st.integers(0, 10 ** 8))
    out = [(t, imp, exp)]
    for _ in range(draw(st.integers(1, 60))):
        how = draw(st.sampled_from(["hour", "hour", "hour", "late", "off", "edge", "again"]))
        if how == "hour":
            t += 3600
        elif how == "late":
            t += draw(st.integers(1, 7200))
        elif how == "off":  # the device was off, or the meter silent
            t += draw(st.integers(1, 45)) * 86400 + draw(st.integers(0, 86399))
        elif how == "edge":  # around the next month's local midnight (ties included)
            t = _month_after(zone, t) + draw(st.sampled_from([-3600, -61, -1, 0, 1, 120, 3600]))
        else:  # a read not newer than the last one
            out.append((t - draw(st.integers(0, 600)), imp + 5, exp))
            continue
        if t <= out[-1][0]:
            t = out[-1][0] + 1
        imp += draw(st.one_of(st.integers(0, 3000), st.integers(0, 400000)))
        exp += draw(st.integers(0, 1500))
        out.append((t, imp, exp))
    return name, out


def _oracle(name, rs):
    """The month-ends the read sequence must give, oldest first: for each local month start B
    after the first read, of the last read before B and the first at or after it, the closer
    (the later one on a tie), as [month, ts, import, export]."""
    zone = ZoneInfo(name)
    kept = [rs[0]]
    for r in rs[1:]:
        if r[0] > kept[-1][0]:
            kept.append(r)
    ends = []
    b = _month_after(zone, kept[0][0])
    while b <= kept[-1][0]:
        after = next(r for r in kept if r[0] >= b)
        before = [r for r in kept if r[0] < b][-1]
        pick = before if b - before[0] < after[0] - b else after
        ends.append([_month_key(zone, b - 1), pick[0], pick[1], pick[2]])
        b = _month_after(zone, b)
    return kept, ends


def _off_peak_cells(name, kept):
    """{month: [off-peak Wh, other Wh]} of the import read between consecutive reads an hour
    or so apart, by the local hour of the span's middle (HC: 22:00-06:00); None for a month a
    longer span or a counter going back touched (spread or not counted: not predicted here)."""
    zone = ZoneInfo(name)
    out = {}
    for r0, r1 in zip(kept, kept[1:]):
        if r1[0] - r0[0] > 4200 or r1[1] < r0[1]:
            k, t = _month_key(zone, r0[0]), r0[0]
            while k <= _month_key(zone, r1[0]):
                out[k] = None
                t = _month_after(zone, t)
                k = _month_key(zone, t)
            continue
        mid = datetime.fromtimestamp((r0[0] + r1[0]) // 2, zone)
        c = out.setdefault(mid.strftime("%Y-%m"), [0, 0])
        if c is not None:
            c[0 if mid.hour >= 22 or mid.hour < 6 else 1] += r1[1] - r0[1]
    return out


def _billing(name, rs, config=None):
    root = tempfile.mkdtemp(prefix="bill-props-")
    b = Billing(root, zone=name)
    if config:
        b.config = lambda: config
    for t, imp, exp in rs:
        b.read_all(t, {"1": (imp, exp)})
    return b


@FAST
@given(reads())
def test_month_ends_and_consumption_follow_the_boundaries(case):
    """The month-ends are the oracle's; each month's consumption is its index difference, and
    they add up; a restart reads back the same billing from flash."""
    name, rs = case
    kept, ends = _oracle(name, rs)
    b = _billing(name, rs)
    try:
        g = b.get("1")
        assert g["first_init"] == kept[0][0]
        shown = [[m["month"], m["ts"], m["import_wh"], m["export_wh"]] for m in g["months"]]
        assert shown == ends[::-1][:SHOW_MONTHS]
        # each month's consumption is its reading minus the one before (the first read for the
        # oldest): they add up to the index difference over the months shown and the open one
        older = [[None, kept[0][0], kept[0][1], kept[0][2]]] + ends
        for i, m in enumerate(g["months"]):
            prev = older[len(older) - 2 - i]
            assert m["import_consumption_wh"] == m["import_wh"] - prev[2]
            assert m["export_consumption_wh"] == m["export_wh"] - prev[3]
        last = kept[-1]
        assert g["current"] == {"ts": last[0], "import_wh": last[1], "export_wh": last[2]}
        ref = older[-1]
        assert g["current_month"] == {"month": _month_key(ZoneInfo(name), last[0]),
                                      "import_wh": last[1] - ref[2], "export_wh": last[2] - ref[3]}
        first = older[max(0, len(older) - 1 - len(g["months"]))]
        total = sum(m["import_consumption_wh"] for m in g["months"])
        assert total + g["current_month"]["import_wh"] == last[1] - first[2]

        # what is on flash gives the same view after a restart
        again = Billing(b.root, zone=name)
        assert again.get("1") == g
        assert again.open_month("1") == b.open_month("1")
    finally:
        shutil.rmtree(b.root)


@FAST
@given(reads(), st.sampled_from([None, [HC]]),
       st.integers(0, 250).map(lambda x: x / 10), st.floats(0, 20))
def test_statements_chain_and_add_up(case, periods, vat, fee):
    """Every closed month has one statement, from the reading the previous one ended at; its
    periods add up to its consumption; its price lines to its subtotal, with the VAT on top."""
    name, rs = case
    kept, ends = _oracle(name, rs)
    tf = {"name": "T", "price": 0.2516, "export_price": 0.04, "monthly_fee": fee,
          "vat_pct": vat, "periods": periods or []}
    cfg = tariff.check_config({"currency": "EUR", "tariffs": [tf], "meters": {"1": {"tariff": "T"}}},
                              ["1"])
    b = _billing(name, rs, cfg)
    try:
        closed = statement.closed_list(b, "1")
        assert [s["month"] for s in closed] == [e[0] for e in ends][-statement.KEEP:]
        starts = [[kept[0][1], kept[0][2]]] + [[e[2], e[3]] for e in ends]
        for s in closed:
            i = [e[0] for e in ends].index(s["month"])
            assert s["part"] == 1
            assert s["e"] == [ends[i][2], ends[i][3]] and s["s"] == starts[i]
            assert sum(wh for _, wh in s["w"]) == s["e"][0] - s["s"][0]
            if periods and s["e"][0] >= s["s"][0]:
                assert all(wh >= 0 for _, wh in s["w"])
        op = statement.open_snapshot(b, "1")
        cells = _off_peak_cells(name, kept)
        for s in closed + [op] if periods else ():
            c, w, imp = cells.get(s["month"]), dict(s["w"]), s["e"][0] - s["s"][0]
            if c and sum(c):  # the month's index difference, split as its hours were read
                assert abs(w["HC"] - c[0] * imp / sum(c)) <= 1, (s["month"], w, c, imp)
        assert op["s"] == starts[-1] and op["e"] == [kept[-1][1], kept[-1][2]]
        for snap, is_closed in [(s, True) for s in closed] + [(op, False)]:
            r = statement.render(snap, is_closed)
            c = r["cost"]
            cents = round(sum(x["amount"] for x in c["lines"]) * 100)
            assert cents == round(c["subtotal"] * 100)
            assert abs(c["vat"] - c["subtotal"] * vat / 100) <= 0.005 + 1e-9
            assert round(c["total"] * 100) == round(c["subtotal"] * 100) + round(c["vat"] * 100)
            for x in c["lines"]:
                if x["kind"] == "energy":  # each period at its price, to the cent
                    assert abs(x["amount"] - x["quantity"] * x["price"]) <= 0.005 + 1e-9
    finally:
        shutil.rmtree(b.root)


@FAST
@given(reads(), st.lists(st.tuples(st.integers(0, 60), st.integers(0, 3599)), max_size=3),
       st.booleans())
def test_tenant_resets_and_a_deletion_keep_the_statements_chained(case, resets, delete):
    """Tenant resets between reads (and a deletion at the end) split months into parts; the
    statements still follow one another, each starting where the one before ended, so that
    they add up to the index difference, and a deleted meter's last statement is closed."""
    name, rs = case
    at = {}
    for i, dt in resets:
        at.setdefault(min(i, len(rs) - 1), dt)
    b = Billing(tempfile.mkdtemp(prefix="bill-props-"), zone=name)
    try:
        last = None
        for i, (t, imp, exp) in enumerate(rs):
            b.read_all(t, {"1": (imp, exp)})
            if last is None or t > last[0]:  # (an older read is ignored)
                last = (t, imp, exp)
            if i in at:
                b.reset("1", last[0] + at[i], confirm=True)
        if delete:
            b.end("1")
        closed = statement.closed_list(b, "1")
        op = statement.open_snapshot(b, "1")
        chain = closed + ([op] if op else [])
        assert (op is None) == delete
        if len(closed) < statement.KEEP:  # none dropped: the chain starts at the first read
            assert chain[0]["s"] == [rs[0][1], rs[0][2]] and chain[0]["from"] == rs[0][0]
        for a, c in zip(chain, chain[1:]):
            assert c["s"] == a["e"] and c["from"] == a["to"]
            assert c["month"] > a["month"] or c["month"] == a["month"] and c["part"] == a["part"] + 1
        assert chain[-1]["e"] == [last[1], last[2]] and chain[-1]["to"] == last[0]
        resets_made = [s["reset"] for s in closed if "reset" in s]
        # a reset's time never goes back, nor before the last read (the clock set back)
        assert resets_made == sorted(resets_made)
        assert all(s["reset"] >= s["to"] for s in closed if "reset" in s)
        if len(closed) < statement.KEEP:
            assert len(resets_made) == len(at)
        again = Billing(b.root, zone=name)  # the end and the resets are on flash
        assert again.get("1") == b.get("1") and again.ended("1") == b.ended("1")
    finally:
        shutil.rmtree(b.root)


@FAST
@given(st.sampled_from(ZONES), st.sampled_from([1774746000, 1792890000]),  # EU DST changes
       st.integers(-4 * 3600, 4 * 3600))
def test_the_billing_read_is_the_next_local_hh02(name, change, dt):
    """The hourly billing read is at hh:02 local time (MEGA): the first such instant after now,
    through DST changes too (checked minute by minute with zoneinfo)."""
    zone = ZoneInfo(name)
    now = change + dt
    t = next_billing_read(now, name)
    m = now - now % 60 + 60
    while True:
        d = datetime.fromtimestamp(m, zone)
        if d.minute == 2:
            break
        m += 60
    assert t == m, (datetime.fromtimestamp(t, zone), d)


@st.composite
def quarter_reads(draw):
    """(zone name, [("read", q, reading_ts, import Wh) | ("restart",)]): the recorder's quarter
    reads, some quarters missed (the device off), a meter swapped (its index back to zero)."""
    name = draw(st.sampled_from(ZONES))
    start = draw(st.sampled_from(STARTS)).replace(tzinfo=ZoneInfo(name))
    q = int(start.timestamp()) // 900 * 900 - draw(st.integers(0, 200)) * 900
    wh = draw(st.integers(0, 10 ** 8))
    out = []
    for _ in range(draw(st.integers(1, 120))):
        how = draw(st.sampled_from(["next"] * 6 + ["skip"] * 2 + ["swap", "restart"]))
        if how == "restart":
            out.append(("restart",))
            continue
        q += 900 if how != "skip" else 900 * draw(st.integers(2, 75 * 96))
        # equal quarters are common (a steady load): the first of a month's equal peaks is kept
        wh = 0 if how == "swap" else wh + draw(st.one_of(st.sampled_from([0, 250, 250, 1000]),
                                                        st.integers(0, 5000)))
        out.append(("read", q, q + draw(st.sampled_from([0, 0, 2, 45])), wh))
    return name, out


def _peaks_oracle(name, steps):
    """{month: (W, quarter start)} of the measured quarters, the first of equal peaks."""
    zone = ZoneInfo(name)
    peaks, prev = {}, None
    for s in steps:
        if s[0] == "restart":
            prev = None  # the quarter under way is lost
            continue
        _, q, t, wh = s
        if prev and prev[0] == q - 900 and t > prev[1] and wh >= prev[2]:
            w = (wh - prev[2]) * 3600 // (t - prev[1])
            k = _month_key(zone, q - 900)
            if k not in peaks or w > peaks[k][0]:
                peaks[k] = (w, q - 900)
        prev = (q, t, wh)
    return peaks


@FAST
@given(quarter_reads(), st.integers(-2, 14))
def test_quarter_hour_peaks_and_the_capacity_average(case, back):
    """Each month's peak is its highest whole quarter's average import, the latest month's kept
    open, a year of months before it on flash, through restarts; the capacity tariff bills the
    average of the 12 months to a statement's month, each at least 2.5 kW."""
    name, steps = case
    expected = _peaks_oracle(name, steps)
    b = Billing(tempfile.mkdtemp(prefix="bill-props-"), zone=name)
    try:
        for s in steps:
            if s[0] == "restart":
                b.qh = None  # what a boot starts from: peaks.json
            else:
                demand.read(b, s[1], {"1": (s[2], s[3])})
        cur, past = demand.view(b, "1")
        months = sorted(expected, reverse=True)
        got = ([cur] if cur else []) + past
        assert [(p["month"], p["w"], p["ts"]) for p in got] == [
            (k,) + expected[k] for k in months[:1 + demand.KEEP]]
        if months:  # a statement's month: the latest measured, or some months before or after it
            y, m = divmod(int(months[0][:4]) * 12 + int(months[0][5:]) - 1 - back, 12)
            month = "%04d-%02d" % (y, m + 1)
            window = [k for k in months[:1 + demand.KEEP]
                      if "%04d-%02d" % (y - 1, m + 1) < k <= month]
            ws = [max(expected[k][0], tariff.CAPACITY_FLOOR_W) for k in window]
            assert statement.capacity_w(b, "1", month) == (
                sum(ws) // len(ws) if ws else tariff.CAPACITY_FLOOR_W)
    finally:
        shutil.rmtree(b.root)


def _hhmm(text):
    return int(text[:2]) * 60 + int(text[3:])


times = st.integers(0, 96).map(lambda q: "%02d:%02d" % divmod(q * 15, 60)) | st.integers(
    0, 1440).map(lambda m: "%02d:%02d" % divmod(m, 60))
window = st.tuples(st.sampled_from(["", "weekday ", "weekend "]), times, times).filter(
    lambda w: w[1] != w[2]).map(lambda w: "%s%s-%s" % w)


@FAST
@given(st.lists(st.lists(window, min_size=1, max_size=3), min_size=1, max_size=4))
def test_time_windows_split_every_hour_minute_by_minute(periods):
    """The minutes of each hour of the week go to the first period whose windows hold them
    (windows may overlap, wrap midnight, cover weekdays or weekends only), the rest to the base
    price: counted here minute by minute."""
    tf = tariff.check_config({"currency": "EUR", "tariffs": [{
        "name": "T", "price": 0.2, "periods": [
            {"name": "P%d" % i, "price": 0.1, "windows": ws} for i, ws in enumerate(periods)]}]},
        [])["tariffs"][0]
    shares = tariff.period_shares(tf)
    for cell in range(48):
        weekend = cell >= 24
        expected = {}
        for m in range((cell % 24) * 60, (cell % 24) * 60 + 60):
            owner = 0
            for k, ws in enumerate(periods):
                for w in ws:
                    days, _, span = w.rpartition(" ")
                    if days == "weekday" and weekend or days == "weekend" and not weekend:
                        continue
                    a, b = _hhmm(span[:5]), _hhmm(span[6:])
                    if (a <= m < b) if a < b else (m >= a or m < b):
                        owner = owner or k + 1
            expected[owner] = expected.get(owner, 0) + 1
        assert dict(shares[cell]) == expected, (cell, shares[cell], expected)


def test_the_oracle_sees_a_month_boundary_in_local_time():
    """The oracle's own check: Paris' November starts at 23:00 UTC on 31 October."""
    paris = ZoneInfo("Europe/Paris")
    t = int(datetime(2026, 10, 20, tzinfo=timezone.utc).timestamp())
    b = _month_after(paris, t)
    assert datetime.fromtimestamp(b, timezone.utc) == datetime(2026, 10, 31, 23, tzinfo=timezone.utc)
    assert _month_key(paris, b - 1) == "2026-10" and _month_key(paris, b) == "2026-11"
    assert datetime.fromtimestamp(1774746000, timezone.utc) == datetime(2026, 3, 29, 1, tzinfo=timezone.utc)
    assert datetime.fromtimestamp(1792890000, timezone.utc) == datetime(2026, 10, 25, 1, tzinfo=timezone.utc)
    assert KEEP_MONTHS > SHOW_MONTHS  # the oldest month shown has its predecessor on flash
