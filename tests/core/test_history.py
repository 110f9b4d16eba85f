"""History: raw rows, aggregation by 15m/1h/1d (DIFF of counters, mean of the rest), CSV, JSON."""

import json

from _assert import approx, raises, tmpdir
from _assert import rmtree as _rmtree

from gateway.core import history as H
from gateway.core import tz
from gateway.core.errors import ValidationError
from gateway.core.ring import Ring

PARIS = "Europe/Paris"


def _tmpdir():
    return tmpdir("dgt_hist_")




def _ring(d, t0, n, step, wh_per_step=100, other=None):
    """Meter "1": import grows by wh_per_step per sample, power = 400 + k % 4 * 100;
    meter "2" is noise that must not leak into meter 1's rows."""
    r = Ring(d, budget=1 << 20, segment_bytes=4096)
    imp = 1000000
    for k in range(n):
        ts = t0 + k * step
        imp += wh_per_step
        r.append(
            [
                (ts, "1", {"import_kwh": imp, "export_kwh": 5, "power_w": 400 + (k % 4) * 100}),
                (ts, "2", {"import_kwh": 7 * k}),
            ]
        )
    return r


def test_raw_rows():
    d = _tmpdir()
    try:
        t0 = tz.epoch(2025, 1, 10)
        r = _ring(d, t0, 10, 600)
        rows = list(H.rows(r, "1", t0 + 600, t0 + 1800))
        assert rows == [
            {"ts": t0 + 600, "import_kwh": 1000.2, "export_kwh": 0.005, "power_w": 500},
            {"ts": t0 + 1200, "import_kwh": 1000.3, "export_kwh": 0.005, "power_w": 600},
        ]
        rows = list(H.rows(r, 1, t0, t0 + 6000, quantities=("power_w",)))
        assert rows[0] == {"ts": t0, "power_w": 400} and len(rows) == 10
        assert list(H.rows(r, "9", t0, t0 + 6000)) == []
    finally:
        _rmtree(d)


def test_15m_from_5min_samples():
    d = _tmpdir()
    try:
        t0 = tz.epoch(2025, 1, 10)
        r = _ring(d, t0, 12 * 3, 300)  # 3 hours of 5-min samples, +100 Wh each
        rows = list(H.fixed_rows(r, "1", t0, t0 + 3600, step="15m", zone=PARIS))
        assert [x[0] for x in rows] == [t0, t0 + 900, t0 + 1800, t0 + 2700]
        for _ts, v in rows:
            assert v["import_kwh"] == 300  # 3 samples per bucket: telescoping differences
            assert v["export_kwh"] == 0
        # mean of power: k%4 cycles 400..700 -> bucket means
        assert rows[0][1]["power_w"] == 500  # (400+500+600)/3
        assert rows[1][1]["power_w"] == 533  # (700+400+500)/3 = 533.3
    finally:
        _rmtree(d)


def test_hourly_sum_equals_total():
    d = _tmpdir()
    try:
        t0 = tz.epoch(2025, 1, 10, 0, 7)  # samples not aligned to the hour
        r = _ring(d, t0, 6 * 10, 600, wh_per_step=37)
        rows = list(H.rows(r, "1", tz.epoch(2025, 1, 10), tz.epoch(2025, 1, 10, 10), "1h", PARIS))
        assert len(rows) == 10
        total = sum(x["import_kwh_delta"] for x in rows)  # a consumption, not an index
        assert "import_kwh" not in rows[0] and "power_w" in rows[0]
        assert approx(total, (60 - 1) * 0.037)  # first to last sample
        assert rows[0]["ts"] == tz.epoch(2025, 1, 10)
    finally:
        _rmtree(d)


def test_daily_diff_across_dst_day():
    d = _tmpdir()
    try:
        z = tz.get(PARIS)
        t0 = z.from_local(2025, 3, 29)  # Saturday before the spring change
        r = _ring(d, t0, 3 * 96, 900)  # 3 days of quarter hours, 100 Wh each
        rows = list(H.rows(r, "1", t0, z.from_local(2025, 4, 1), "1d", PARIS))
        assert [x["ts"] for x in rows] == [
            z.from_local(2025, 3, 29),
            z.from_local(2025, 3, 30),
            z.from_local(2025, 3, 31),
        ]
        # the 30th has 23 hours: 92 quarter hours; the 31st closes on the April 1st 00:00 sample
        assert [round(x["import_kwh_delta"] * 1000) for x in rows] == [9600, 9200, 9600]
        # the 31st alone gives the same difference (the closing sample is looked up past "to")
        rows = list(
            H.rows(r, "1", z.from_local(2025, 3, 31), z.from_local(2025, 4, 1), "1d", PARIS)
        )
        assert len(rows) == 1 and round(rows[0]["import_kwh_delta"] * 1000) == 9600
    finally:
        _rmtree(d)


def test_monthly_step_local_months():
    d = _tmpdir()
    try:
        z = tz.get(PARIS)
        t0 = z.from_local(2025, 1, 31, 22)
        r = _ring(d, t0, 12, 1800)  # 22:00 .. 03:30 local, +100 Wh per half hour
        rows = list(
            H.rows(r, "1", z.from_local(2025, 1, 1), z.from_local(2025, 3, 1), "1mo", PARIS)
        )
        assert [x["ts"] for x in rows] == [z.from_local(2025, 1, 1), z.from_local(2025, 2, 1)]
        assert round(rows[0]["import_kwh_delta"] * 1000) == 400  # 22:00 -> first Feb sample
        assert round(rows[1]["import_kwh_delta"] * 1000) == 700
    finally:
        _rmtree(d)


def test_gap_goes_to_last_bucket_with_data():
    d = _tmpdir()
    try:
        t0 = tz.epoch(2025, 1, 10)
        r = Ring(d)
        r.append([(t0, "1", {"import_kwh": 1000})])
        r.append([(t0 + 900, "1", {"import_kwh": 1100})])
        r.append([(t0 + 4 * 3600, "1", {"import_kwh": 2100})])  # device off 3 hours
        rows = list(H.fixed_rows(r, "1", t0, t0 + 5 * 3600, "1h", "UTC"))
        assert rows == [(t0, {"import_kwh": 1100}), (t0 + 4 * 3600, {"import_kwh": 0})]
        # the newest bucket, still open: its own last sample closes it
        r.append([(t0 + 4 * 3600 + 900, "1", {"import_kwh": 2150})])
        rows = list(H.fixed_rows(r, "1", t0 + 4 * 3600, t0 + 5 * 3600, "1h", "UTC"))
        assert rows == [(t0 + 4 * 3600, {"import_kwh": 50})]
    finally:
        _rmtree(d)


def test_csv_french_excel_and_english():
    d = _tmpdir()
    try:
        t0 = tz.epoch(2025, 7, 1, 10)
        r = _ring(d, t0, 3, 900)
        lines = list(H.csv_lines(r, "1", t0, t0 + 2700, zone=PARIS))
        assert lines[0] == "ts;time;export_kwh;import_kwh;power_w\r\n"
        assert lines[1] == "%d;2025-07-01 12:00;0,005;1000,1;400\r\n" % t0
        assert len(lines) == 4
        lines = list(
            H.csv_lines(
                r, "1", t0, t0 + 2700, "15m", PARIS, ",", ".", quantities=["import_kwh", "power_w"]
            )
        )
        assert lines[0] == "ts,time,import_kwh_delta,power_w\r\n"  # 15-min consumption
        assert lines[1] == "%d,2025-07-01 12:00,0.1,400\r\n" % t0
        # "," as separator and as decimal: numbers are quoted
        lines = list(H.csv_lines(r, "1", t0, t0 + 900, sep=",", decimal=",", zone=PARIS))
        assert lines[1] == '%d,2025-07-01 12:00,"0,005","1000,1",400\r\n' % t0
        e = raises(ValidationError, lambda: list(H.csv_lines(r, "1", t0, t0 + 1, sep="|")))
        assert e.field == "csv_separator"
        e = raises(ValidationError, lambda: list(H.csv_lines(r, "1", t0, t0 + 1, decimal=";")))
        assert e.field == "csv_decimal"
    finally:
        _rmtree(d)


def test_json_stream_parses():
    d = _tmpdir()
    try:
        t0 = tz.epoch(2025, 7, 1, 10)
        r = _ring(d, t0, 8, 900)
        text = "".join(H.json_chunks(r, "1", t0, t0 + 8 * 900, "1h", PARIS))
        rows = json.loads(text)
        assert [x["ts"] for x in rows] == [t0, t0 + 3600]
        assert rows[0]["import_kwh_delta"] == 0.4 and rows[1]["import_kwh_delta"] == 0.3
        assert json.loads("".join(H.json_chunks(r, "1", 0, 10))) == []
        assert H.row_json(5, {"import_kwh": 123456789}) == '{"ts":5,"import_kwh":123456.789}'
    finally:
        _rmtree(d)


def test_steps_and_ranges_validated():
    assert H.check_step(None) is None and H.check_step("") is None and H.check_step("1h") == "1h"
    assert raises(ValidationError, H.check_step, "5m").field == "step"
    assert H.check_range("10", 20) == (10, 20)
    assert raises(ValidationError, H.check_range, 20, 10).field == "to"
    assert raises(ValidationError, H.check_range, "x", 10).field == "from"
    assert raises(ValidationError, H.check_range, 0, 10**9, 86400).field == "to"


def test_export_filename():
    z = tz.get(PARIS)
    a = z.from_local(2025, 3, 1)
    b = z.from_local(2025, 4, 1)
    assert (
        H.export_filename("Résidence Les Pins", a, b, PARIS, "1h")
        == "Residence_Les_Pins_20250301-20250331_1h.csv"
    )
    assert H.export_filename("", a, b, PARIS) == "dingate_20250301-20250331.csv"
    name = H.export_filename("x" * 50 + "/..", a, a + 86400, PARIS, meter="3", ext="json")
    assert name == "x" * 31 + "_3_20250301-20250301.json"
    assert H.sanitize_location("  Bâtiment  A / étage 2 ") == "Batiment_A_etage_2"
    assert len(H.sanitize_location("é" * 40)) == 31
