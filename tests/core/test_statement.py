"""Tariffs, time-of-use costs and monthly statements (HP/HC across DST, tenant reset, frozen)."""

from _assert import raises, tempdir

from gateway.core import statement as S
from gateway.core import tariff as T
from gateway.core import tz
from gateway.core.billing import Billing, next_billing_read
from gateway.core.errors import ValidationError

PARIS = "Europe/Paris"
HPHC = {"name": "HPHC", "price": 0.25, "base_name": "HP", "monthly_fee": 15.65, "vat_pct": 20,
        "export_price": 0.1, "periods": [{"name": "HC", "price": 0.18, "windows": ["22:00-06:00"]}]}


def _cfg(tf=HPHC, **extra):
    m = {"tariff": "HPHC", "tenant": "Apt 1"}
    m.update(extra)
    return T.check_config({"currency": "EUR", "tariffs": [tf], "meters": {"1": m}})


def _hc(hour):
    return hour >= 22 or hour < 6


def _run(b, ch, start, end, imp, rate, zone=PARIS):
    """Hourly reads at hh:02 in (start, end]; between a read and the next one the meter counts
    rate(local hour of the read) Wh. Returns the last import counter."""
    z = tz.get(zone)
    t = next_billing_read(start - 1, zone)
    while t <= end:
        b.read(ch, t, imp, 0)
        imp += rate(z.parts(t)[3])
        t = next_billing_read(t, zone)
    b.flush()
    return imp


def test_tariff_validation():
    e = raises(ValidationError, T.check_config, {"currency": "euro"})
    assert e.field == "currency"
    e = raises(ValidationError, T.check_config, {"tariffs": [{"name": "a", "price": -1}]})
    assert e.field == "tariffs.0.price"
    bad = {"name": "x", "periods": [{"name": "HC", "price": 0.1, "windows": ["25:00-06:00"]}]}
    e = raises(ValidationError, T.check_config, {"tariffs": [bad]})
    assert e.field == "tariffs.0.periods.0.windows.0"
    e = raises(ValidationError, T.check_config, {"meters": {"9": {}}}, ["1"])
    assert e.field == "meters.9"
    e = raises(ValidationError, T.check_config, {"meters": {"1": {"tariff": "nope"}}})
    assert e.field == "meters.1.tariff"
    assert T.check_config({})["currency"] == "EUR"
    # French HP/HC: 8 off-peak hours a day, weekends all off-peak in a second window
    tf = T.check_tariff({"price": 0.2, "periods": [{"name": "HC", "price": 0.1, "windows": [
        "weekday 22:30-06:30", "weekend 00:00-24:00"]}]}, "t")
    sh = T.period_shares(tf)
    assert sum(m for c in range(24) for i, m in sh[c] if i == 1) == 8 * 60
    assert sh[22] == [(1, 30), (0, 30)] and sh[6] == [(1, 30), (0, 30)] and sh[12] == [(0, 60)]
    assert all(sh[c] == [(1, 60)] for c in range(24, 48))
    # overlapping windows: a period's minutes count once, and the first period's win
    tf = T.check_tariff({"price": 0.2, "periods": [
        {"name": "HC", "price": 0.1, "windows": ["22:00-22:30", "22:15-22:45"]},
        {"name": "X", "price": 0.3, "windows": ["22:40-23:10"]}]}, "t")
    sh = T.period_shares(tf)
    assert sh[22] == [(1, 45), (2, 15)] and sh[23] == [(2, 10), (0, 50)]  # was HC 60, X 0


def test_hphc_month_across_dst_exact_cost():
    with tempdir("dgt_stm_") as d:
        b = Billing(d, PARIS)
        b.config = lambda: _cfg()
        z = tz.get(PARIS)
        # from late February to the 00:02 read of April 1st; March 30th has no 02:00 hour
        _run(b, "1", z.from_local(2025, 2, 27, 12, 0), z.from_local(2025, 4, 1, 0, 30), 5000000,
             lambda h: 1000 if _hc(h) else 2000)
        st = S.find(b, "1", "2025-03")
        assert st["closed"] is True and st["part"] == 1
        assert S.has_month(b, "1", "2025-03") and not S.has_month(b, "1", "2025-05")
        assert not S.has_month(b, "2", "2025-03")
        assert st["from"] == z.from_local(2025, 3, 1, 0, 2)
        assert st["to"] == z.from_local(2025, 4, 1, 0, 2)
        # 31 days x 8 off-peak hours - the missing 02:00 = 247 h at 1 kWh; 31 x 16 h at 2 kWh
        assert st["periods"] == [{"name": "HP", "kwh": 992.0}, {"name": "HC", "kwh": 247.0}]
        assert st["import_kwh"] == 1239.0
        assert st["index_end"]["import_kwh"] - st["index_start"]["import_kwh"] == 1239.0
        c = st["cost"]
        assert c["currency"] == "EUR"
        assert [(ln["label"], ln["amount"]) for ln in c["lines"]] == [
            ("HP", 248.0), ("HC", 44.46), ("monthly fee", 15.65)]
        assert c["subtotal"] == 308.11 and c["vat"] == 61.62 and c["total"] == 369.73
        # October: the 02:00 hour happens twice (both off-peak): 31 x 8 + 1 = 249 h
        _run(b, "1", z.from_local(2025, 4, 1, 0, 30), z.from_local(2025, 11, 1, 0, 30),
             st["index_end"]["import_kwh"] * 1000 + 2000, lambda h: 1000 if _hc(h) else 2000)
        oc = S.find(b, "1", "2025-10")
        assert oc["periods"] == [{"name": "HP", "kwh": 992.0}, {"name": "HC", "kwh": 249.0}]
        assert oc["cost"]["total"] == round((248.0 + 44.82 + 15.65) * 1.2 + 1e-9, 2)


def test_tenant_reset_mid_month_closes_one_statement_opens_another():
    with tempdir("dgt_stm_") as d:
        b = Billing(d, "UTC")
        b.config = lambda: _cfg(tenant="Old tenant")
        imp = _run(b, "1", tz.epoch(2025, 1, 1), tz.epoch(2025, 1, 15, 12, 30), 0, lambda h: 100,
                   "UTC")
        now = tz.epoch(2025, 1, 15, 12, 40)
        b.reset("1", now, confirm=True)
        first = S.find(b, "1", "2025-01", 1)
        assert first["closed"] is True and first["reset"] == now
        assert first["to"] == tz.epoch(2025, 1, 15, 12, 2)
        assert first["tenant"] == "Old tenant"
        # the open statement is the new tenant's, starting at the reset's reading
        b.config = lambda: _cfg(tenant="New tenant")
        op = S.find(b, "1", "2025-01")
        assert op["closed"] is False and op["part"] == 2 and op["import_kwh"] == 0
        assert op["index_start"] == first["index_end"]
        _run(b, "1", tz.epoch(2025, 1, 15, 12, 30), tz.epoch(2025, 2, 1, 0, 30), imp,
             lambda h: 100, "UTC")
        second = S.find(b, "1", "2025-01")
        assert second["closed"] is True and second["part"] == 2
        assert second["tenant"] == "New tenant" and "reset" not in second
        assert second["from"] == first["to"]
        total = first["import_kwh"] + second["import_kwh"]
        assert round(total * 1000) == 31 * 24 * 100  # Jan 1 00:02 .. Feb 1 00:02
        # each pays the monthly fee pro rata of its share of the month
        fees = [ln["amount"] for s in (first, second) for ln in s["cost"]["lines"]
                if ln["kind"] == "fee"]
        assert len(fees) == 2 and abs(sum(fees) - 15.65) <= 0.02
        assert [(x["month"], x["part"], x["closed"]) for x in S.listing(b, "1")][:2] == [
            ("2025-02", 1, False), ("2025-01", 2, True)]


def test_closed_statements_frozen_when_tariff_changes():
    with tempdir("dgt_stm_") as d:
        b = Billing(d, PARIS)
        b.config = lambda: _cfg()
        z = tz.get(PARIS)
        _run(b, "1", z.from_local(2025, 5, 31, 20), z.from_local(2025, 7, 10, 0, 30), 0,
             lambda h: 500)
        june = S.find(b, "1", "2025-06")
        july = S.find(b, "1", "2025-07")
        dearer = dict(HPHC, price=0.5, vat_pct=5.5, monthly_fee=0)
        b.config = lambda: _cfg(dearer)
        assert S.find(b, "1", "2025-06") == june  # frozen
        assert Billing(d, PARIS) and S.find(Billing(d, PARIS), "1", "2025-06") == june
        july2 = S.find(b, "1", "2025-07")  # the open month follows the new prices
        assert july2["import_kwh"] == july["import_kwh"]
        assert july2["cost"]["vat_pct"] == 5.5 and july2["cost"]["total"] != july["cost"]["total"]
        # CSV of the same statement
        lines = list(S.csv_lines(june, ";", ",", "Les Pins"))
        assert lines[0] == "location;Les Pins\r\n"
        assert "total;;;;;%s\r\n" % ("%.2f" % june["cost"]["total"]).replace(".", ",") in lines
        assert S.filename("Résidence Les Pins", "Apt 1", "2025-06", 1, "csv") == \
            "Residence_Les_Pins_Apt_1_2025-06.csv"


def test_common_area_share_and_export_credit():
    with tempdir("dgt_stm_") as d:
        b = Billing(d, "UTC")
        cfg = T.check_config({"tariffs": [{"name": "t", "price": 0.2, "export_price": 0.1}],
                              "meters": {
            "1": {"tariff": "t", "common_share_pct": 25},
            "9": {"common": True, "exclude_from_totals": False}}})
        b.config = lambda: cfg
        for h in range(0, 48):
            t = tz.epoch(2025, 3, 1) + h * 3600 + 120
            b.read("1", t, 1000 * h, 200 * h)
            b.read("9", t, 400 * h, 0)
        b.flush()
        st = S.find(b, "1", "2025-03")
        kinds = [(ln["kind"], ln["quantity"], ln["amount"]) for ln in st["cost"]["lines"]]
        assert kinds == [("energy", 47.0, 9.4), ("common", 4.7, 0.94), ("export", 9.4, -0.94)]
        assert st["cost"]["total"] == 9.4


def test_gas_meter_billed_per_m3():
    with tempdir("dgt_stm_") as d:
        b = Billing(d, "UTC")
        b.config = lambda: T.check_config({"tariffs": [
            {"name": "gas", "kind": "gas", "price": 1.2, "monthly_fee": 3, "vat_pct": 5.5}],
            "meters": {"g": {"tariff": "gas"}}})
        # a volume counter in litres (gas_m3 with 3 decimals): 50 l an hour from 2025-02-01
        b.read_all(tz.epoch(2025, 1, 31, 23, 2), {"g": (1000000, None, "gas_m3")})
        t = tz.epoch(2025, 2, 1, 0, 2)
        for h in range(28 * 24 + 1):
            b.read("g", t + h * 3600, 1000000 + 50 * (h + 1), None, "gas_m3")
        b.flush()
        assert Billing(d, "UTC").quantity("g") == "gas_m3"  # persisted
        st = S.find(b, "g", "2025-02")
        assert st["quantity"] == "gas_m3" and st["unit"] == "m3" and st["import_kwh"] is None
        assert st["gas_m3"] == 28 * 24 * 50 / 1000 and st["index_end"]["gas_m3"] == 1033.65
        assert st["periods"] == [{"name": "base", "m3": 33.6}]
        lines = st["cost"]["lines"]
        assert [(ln["unit"], ln["amount"]) for ln in lines] == [("m3", 40.32), ("month", 3.0)]
        assert st["cost"]["total"] == round(43.32 * 1.055 + 1e-9, 2)
        text = "".join(S.csv_lines(st, ";", "."))
        assert "gas_m3_delta;33.600\r\n" in text and "export_kwh" not in text


def test_a_months_summary_has_a_line_per_statement_with_their_figures():
    """The accounts' table of a month: both tenants of a meter reset mid-month, a gas meter;
    each line carries the figures of its own statement."""
    with tempdir("dgt_stm_") as d:
        b = Billing(d, "UTC")
        b.config = lambda: _cfg(tenant="Old; \"tenant\"")
        imp = _run(b, "1", tz.epoch(2025, 1, 1), tz.epoch(2025, 1, 15, 12, 30), 0, lambda h: 100, "UTC")
        b.reset("1", tz.epoch(2025, 1, 15, 12, 40), confirm=True)
        b.config = lambda: _cfg(tenant="New tenant")
        _run(b, "1", tz.epoch(2025, 1, 15, 12, 30), tz.epoch(2025, 1, 20), imp, lambda h: 100, "UTC")
        sts = S.month_parts(b, "1", "2025-01")
        assert [(s["part"], s["closed"]) for s in sts] == [(1, True), (2, False)]
        assert S.month_parts(b, "1", "2024-12") == []
        for s in sts:
            s["name"] = "Apt 1"
        lines = list(S.summary_lines(sts, ";", ","))
        assert lines[0] == ";".join(S.SUMMARY) + "\r\n" and len(lines) == 3
        assert lines[1].startswith('2025-01;1;1;Apt 1;"Old; ""tenant""";yes;kWh;')  # quoted as CSV
        row = dict(zip(S.SUMMARY, lines[2].rstrip("\r\n").split(";")))
        c = sts[1]["cost"]
        assert row["tenant"] == "New tenant" and row["closed"] == "no"
        assert row["consumption"] == ("%.3f" % sts[1]["import_kwh"]).replace(".", ",")
        assert row["total"] == ("%.2f" % c["total"]).replace(".", ",") and row["currency"] == "EUR"


def test_meters_are_listed_in_id_order():
    ids = ["10", "2", "x", "1", "33"]
    assert sorted(ids, key=S.meter_order) == ["1", "2", "10", "33", "x"]


def _peak(b, ch, y, m, w, idx):
    """A quarter of ``w`` watts on the 10th of month ``m`` (core/demand.py reads); returns the
    index after it."""
    from gateway.core import demand

    t = tz.epoch(y, m, 10, 12, 0)
    demand.read(b, t, {ch: (t, idx)})
    idx += w // 4  # Wh in 15 minutes
    demand.read(b, t + 900, {ch: (t + 900, idx)})
    return idx


def test_a_capacity_tariff_bills_the_twelve_months_average_peak():
    """Flanders' capacity tariff: the average of the last 12 monthly quarter-hour peaks, each
    at least 2.5 kW, a twelfth of the yearly price per kW each month; frozen when the month
    closes."""
    e = raises(ValidationError, T.check_config, {"tariffs": [
        {"name": "gas", "kind": "gas", "price": 1, "capacity_price": 40}]})
    assert e.field == "tariffs.0.capacity_price"
    with tempdir("dgt_stm_") as d:
        b = Billing(d, "UTC")
        cfg = T.check_config({"currency": "EUR", "tariffs": [dict(HPHC, capacity_price=48.0)],
                              "meters": {"1": {"tariff": "HPHC"}, "2": {"tariff": "HPHC"}}})
        b.config = lambda: cfg
        # with no peak measured, the floor is billed
        _run(b, "2", tz.epoch(2025, 3, 1), tz.epoch(2025, 3, 2), 0, lambda h: 100, "UTC")
        cap = [x for x in S.find(b, "2", "2025-03")["cost"]["lines"] if x["kind"] == "capacity"]
        assert [x["quantity"] for x in cap] == [2.5]
        idx = _peak(b, "1", 2025, 1, 20000, 0)  # out of January 2026's 12 months
        for m in range(2, 13):
            idx = _peak(b, "1", 2025, m, 1000 if m < 7 else 4000, idx)  # 1 kW billed as 2.5
        idx = _peak(b, "1", 2026, 1, 6000, idx)
        _run(b, "1", tz.epoch(2026, 1, 1), tz.epoch(2026, 2, 1, 0, 30), 0, lambda h: 100, "UTC")
        st = S.find(b, "1", "2026-01")
        assert st["closed"] is True
        cap = [x for x in st["cost"]["lines"] if x["kind"] == "capacity"]
        avg = (5 * 2500 + 6 * 4000 + 6000) // 12
        assert [(x["quantity"], x["unit"], x["price"]) for x in cap] == [(avg / 1000, "kW", 48.0)]
        assert cap[0]["amount"] == round(avg / 1000 * 48 / 12, 2) == 14.16
        # frozen: a higher peak later changes nothing of the closed month
        _peak(b, "1", 2026, 2, 40000, idx)
        assert S.find(b, "1", "2026-01") == st
        # a tariff without a capacity price has no such line
        b.config = lambda: _cfg()
        assert "capacity" not in [x["kind"] for x in S.find(b, "1", "2026-02")["cost"]["lines"]]


def test_a_deleted_meter_s_last_statement_is_final_and_its_billing_goes_after_13_months():
    import os

    from gateway.core.billing import KEEP_ENDED_S

    with tempdir("dgt_stm_") as d:
        b = Billing(d, "UTC")
        cfg = _cfg()
        b.config = lambda: cfg
        for ch in ("1", "2"):
            _run(b, ch, tz.epoch(2025, 1, 1), tz.epoch(2025, 2, 10, 12, 30), 0, lambda h: 100,
                 "UTC")
        end = tz.epoch(2025, 2, 10, 12, 40)
        b.end("1", end)
        last = S.find(b, "1", "2025-02")
        assert last["closed"] is True and "reset" not in last
        assert last["to"] == tz.epoch(2025, 2, 10, 12, 2)
        assert round(last["import_kwh"] * 1000) == (9 * 24 + 12) * 100  # Feb 1 00:02 .. 10 12:02
        assert [(x["month"], x["closed"]) for x in S.listing(b, "1")] == [
            ("2025-02", True), ("2025-01", True)]
        # final: a price changed afterwards changes nothing; a later read (none comes) is ignored
        cfg = _cfg(tf=dict(HPHC, price=0.5))
        assert S.find(b, "1", "2025-02") == last
        assert b.read("1", end, 10 ** 6, 0) == [] and S.find(b, "1", "2025-02") == last
        assert Billing(d, "UTC").open_month("1") is None  # ended on flash too
        # kept for the accounts 13 months, then every file of it goes; the other meter stays
        assert b.prune(end + KEEP_ENDED_S) == []
        assert b.prune(end + KEEP_ENDED_S + 1) == ["1"]
        assert b.channels() == ["2"] and S.find(b, "1", "2025-02") is None
        assert [n for n in os.listdir(d) if n.endswith("_1.json")] == []
        b.flush()
        assert Billing(d, "UTC").channels() == ["2"]
        # a meter brought back (a restore) after its end starts its billing afresh
        b.end("2", end)
        back = tz.epoch(2025, 3, 1, 8, 2)
        assert b.read("2", back, 5000, 0) == []
        assert b.get("2")["first_init"] == back and b.open_month("2")[0] == "2025-03"
        assert S.find(b, "2", "2025-02")["closed"] is True


def test_meters_deleted_by_older_firmware_end_at_their_last_read():
    with tempdir("dgt_stm_") as d:
        b = Billing(d, "UTC")
        b.config = lambda: _cfg()
        for ch in ("1", "2"):
            _run(b, ch, tz.epoch(2025, 1, 1), tz.epoch(2025, 1, 5), 0, lambda h: 100, "UTC")
        b.end_others(["1"])  # "2" is no meter any more
        assert b.ended("1") is None
        assert b.ended("2") == b.get("2")["current"]["ts"] == tz.epoch(2025, 1, 4, 23, 2)
        assert S.find(b, "2", "2025-01")["closed"] is True
        assert S.find(b, "1", "2025-01")["closed"] is False
        b.end_others(["1"])  # at every boot: once only
        assert len(S.listing(b, "2")) == 1
