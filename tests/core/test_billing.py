"""Billing: hourly read schedule, local month-ends (DST), consumption DIFF, reset, persistence."""


from _assert import raises, tmpdir
from _assert import rmtree as _rmtree

from gateway.core import tz
from gateway.core.billing import Billing, next_billing_read
from gateway.core.errors import ValidationError

PARIS = "Europe/Paris"


def _tmpdir():
    return tmpdir("dgt_bill_")




def test_next_billing_read_schedule():
    t = tz.epoch(2025, 1, 10, 13, 0)
    assert next_billing_read(t) == tz.epoch(2025, 1, 10, 13, 2)
    assert next_billing_read(tz.epoch(2025, 1, 10, 13, 2)) == tz.epoch(2025, 1, 10, 14, 2)
    assert next_billing_read(tz.epoch(2025, 1, 10, 13, 1, 59)) == tz.epoch(2025, 1, 10, 13, 2)
    assert next_billing_read(tz.epoch(2025, 1, 10, 23, 30)) == tz.epoch(2025, 1, 11, 0, 2)
    assert next_billing_read(t, PARIS) == tz.epoch(2025, 1, 10, 13, 2)
    # half-hour offset: hh:02 local is hh:32 UTC
    assert next_billing_read(t, "UTC+05:30") == tz.epoch(2025, 1, 10, 13, 32)
    # across the spring DST change in Paris, every read is at :02 local, an hour apart
    z = tz.get(PARIS)
    t = tz.epoch(2025, 3, 29, 22)
    seen = []
    for _ in range(6):
        t = next_billing_read(t, PARIS)
        seen.append(z.parts(t)[3:6])
    assert seen == [(23, 2, 0), (0, 2, 0), (1, 2, 0), (3, 2, 0), (4, 2, 0), (5, 2, 0)]
    # autumn: 02:02 happens twice and both are read (hourly in real time)
    t = tz.epoch(2025, 10, 25, 23, 30)
    reads = []
    for _ in range(4):
        t = next_billing_read(t, PARIS)
        reads.append(t)
    assert [b - a for a, b in zip(reads, reads[1:])] == [3600, 3600, 3600]
    assert [z.parts(x)[3] for x in reads] == [2, 2, 3, 4]


def _hourly(b, ch, start, end, imp0, wh_per_hour, zone=PARIS, exp_per_hour=0):
    """Billing reads every hour at :02 from start to end; returns the last counters."""
    t = next_billing_read(start - 1, zone)
    imp = imp0
    exp = 0
    while t < end:
        b.read(ch, t, imp, exp)
        imp += wh_per_hour
        exp += exp_per_hour
        t = next_billing_read(t, zone)
    return imp, exp


def test_month_end_in_local_time():
    d = _tmpdir()
    try:
        b = Billing(d, PARIS)
        z = tz.get(PARIS)
        # 2025-03-31 22:02 UTC = 2025-04-01 00:02 Paris: closes March in Paris
        b.read("1", tz.epoch(2025, 3, 31, 20, 2), 1000, 0)
        b.read("1", tz.epoch(2025, 3, 31, 21, 2), 1100, 0)
        closed = b.read("1", tz.epoch(2025, 3, 31, 22, 2), 1200, 7)
        assert closed == ["2025-03"]
        g = b.get("1")
        assert g["months"][0]["month"] == "2025-03"
        assert g["months"][0]["ts"] == z.from_local(2025, 4, 1, 0, 2)
        assert g["months"][0]["import_wh"] == 1200 and g["months"][0]["export_wh"] == 7
        # the same reads in UTC close nothing yet
        d2 = _tmpdir()
        try:
            u = Billing(d2, "UTC")
            for k, t in enumerate((20, 21, 22)):
                assert u.read("1", tz.epoch(2025, 3, 31, t, 2), 1000 + k, 0) == []
            assert u.read("1", tz.epoch(2025, 4, 1, 0, 2), 1100, 0) == ["2025-03"]
        finally:
            _rmtree(d2)
    finally:
        _rmtree(d)


def test_month_end_dst_autumn_boundary():
    d = _tmpdir()
    try:
        b = Billing(d, PARIS)
        # November 1st 00:00 Paris (CET) = October 31st 23:00 UTC
        _hourly(b, "7", tz.epoch(2025, 10, 31, 12), tz.epoch(2025, 11, 1, 3), 5000, 10)
        g = b.get("7")
        assert [m["month"] for m in g["months"]] == ["2025-10"]
        assert g["months"][0]["ts"] == tz.epoch(2025, 10, 31, 23, 2)
    finally:
        _rmtree(d)


def test_twelve_months_diff_and_current():
    d = _tmpdir()
    try:
        b = Billing(d, PARIS)
        z = tz.get(PARIS)
        # one read a day at 00:02 local from 2024-01-15 to 2025-03-10; 1 kWh import a day,
        # 250 Wh export a day
        t = z.from_local(2024, 1, 15, 0, 2)
        end = z.from_local(2025, 3, 10, 0, 3)
        day = 0
        while t < end:
            b.read("3", t, 100000 + 1000 * day, 250 * day)
            day += 1
            y, m, dd = z.date(t)
            t = z.from_local(*tz.civil_from_days(tz.days_from_civil(y, m, dd) + 1), hh=0, mm=2)
        g = b.get("3")
        months = g["months"]
        assert len(months) == 11
        assert [m["month"] for m in months][:3] == ["2025-02", "2025-01", "2024-12"]
        assert months[-1]["month"] == "2024-04"
        feb = months[0]
        assert feb["ts"] == z.from_local(2025, 3, 1, 0, 2)
        assert feb["import_consumption_wh"] == 28 * 1000  # February 2025: 28 days
        assert feb["export_consumption_wh"] == 28 * 250
        assert months[1]["import_consumption_wh"] == 31 * 1000  # January
        assert months[10]["import_consumption_wh"] == 30 * 1000  # April 2024
        # consumption = reading - previous month's reading, for every month shown
        for i in range(10):
            assert (
                months[i]["import_consumption_wh"]
                == months[i]["import_wh"] - months[i + 1]["import_wh"]
            )
        cur = g["current"]
        assert cur["ts"] == z.from_local(2025, 3, 10, 0, 2)
        assert g["current_month"]["month"] == "2025-03"
        assert g["current_month"]["import_wh"] == 9 * 1000
        assert g["first_init"] == z.from_local(2024, 1, 15, 0, 2)
        # the heap holds the last month-end only; the others are read from flash when shown
        assert b._ch["3"]["last"] == ["2025-02", feb["ts"], feb["import_wh"], feb["export_wh"]]
        assert all(not isinstance(v, list) or len(v) <= 4 for v in b._ch["3"].values())
        b.flush()
        assert Billing(d, PARIS).get("3") == g  # and again after a restart
    finally:
        _rmtree(d)


def test_first_month_uses_init_reading_and_closest_read():
    d = _tmpdir()
    try:
        b = Billing(d, "UTC")
        b.read("1", tz.epoch(2025, 5, 20), 500, None)
        b.read("1", tz.epoch(2025, 5, 31, 23, 30), 800, None)  # 30 min before the boundary
        b.read("1", tz.epoch(2025, 6, 1, 5), 900, None)  # 5 h after: the earlier read is closer
        g = b.get("1")
        m = g["months"][0]
        assert m["month"] == "2025-05" and m["import_wh"] == 800
        assert m["import_consumption_wh"] == 300  # from the reading at first init
        assert m["export_wh"] is None and m["export_consumption_wh"] is None
        assert g["current_month"]["import_wh"] == 100
        # older / duplicate reads are ignored
        b.read("1", tz.epoch(2025, 6, 1, 4), 1, 1)
        assert b.get("1")["current"]["import_wh"] == 900
    finally:
        _rmtree(d)


def test_months_skipped_while_off():
    d = _tmpdir()
    try:
        b = Billing(d, "UTC")
        b.read("1", tz.epoch(2025, 1, 31, 23, 2), 100, 0)
        closed = b.read("1", tz.epoch(2025, 4, 3, 10, 2), 400, 0)
        assert closed == ["2025-01", "2025-02", "2025-03"]
        ms = b.get("1")["months"]
        # each boundary takes the nearer of the two reads around it: Feb 1st and Mar 1st are
        # nearer to the January read, Apr 1st to the April one
        assert [m["import_wh"] for m in ms] == [400, 100, 100]
        assert [m["import_consumption_wh"] for m in ms[:2]] == [300, 0]
    finally:
        _rmtree(d)


def test_persistence_and_reload():
    d = _tmpdir()
    try:
        b = Billing(d, PARIS)
        _hourly(b, "1", tz.epoch(2025, 1, 30), tz.epoch(2025, 2, 2), 1000, 100)
        _hourly(b, "a b/é", tz.epoch(2025, 1, 30), tz.epoch(2025, 2, 2), 0, 5)
        b.flush()
        b2 = Billing(d, PARIS)
        assert b2.channels() == ["1", "a b/é"]
        assert b2.get("1") == b.get("1") and b2.get("a b/é") == b.get("a b/é")
        assert b2.problems == []
        # a read not yet flushed: the month-end file still holds what matters
        b2.read("1", tz.epoch(2025, 2, 2, 10, 2), 999999, 0)
        b3 = Billing(d, PARIS)
        assert b3.get("1")["months"] == b.get("1")["months"]
        assert b.bytes_written > 0
        # read_all persists at once
        b3.read_all(tz.epoch(2025, 2, 2, 11, 2), {"1": (123456, 0)})
        assert Billing(d, PARIS).get("1")["current"]["import_wh"] == 123456
    finally:
        _rmtree(d)


def test_a_reset_with_the_clock_set_back_is_not_before_what_is_recorded():
    """The clock set back (from a phone, NTP) between a read and a tenant reset, or between two
    resets: the reset is taken at the last read or reset, so a tenant's billing never starts
    before the previous one's ends."""
    d = _tmpdir()
    try:
        b = Billing(d, "UTC")
        last = tz.epoch(2025, 3, 5, 12, 2)
        b.read("1", last, 1000, 0)
        assert b.reset("1", last - 3600, confirm=True)["first_init"] == last
        assert b.reset("1", last - 10, confirm=True)["first_init"] == last
        later = last + 600
        assert b.reset("1", later, confirm=True)["first_init"] == later
        assert b.reset("1", later - 1, confirm=True)["first_init"] == later
        b.end("1", last)  # the meter deleted with the clock set back: ended at the reset
        assert b.ended("1") == later
    finally:
        _rmtree(d)


def test_reset_needs_confirmation_and_keeps_reading():
    d = _tmpdir()
    try:
        b = Billing(d, "UTC")
        _hourly(b, "1", tz.epoch(2025, 1, 20), tz.epoch(2025, 3, 5), 1000, 10, "UTC")
        before = b.get("1")
        assert len(before["months"]) == 2
        e = raises(ValidationError, b.reset, "1", tz.epoch(2025, 3, 5, 12))
        assert e.field == "confirm"
        raises(ValidationError, b.reset, "1", tz.epoch(2025, 3, 5, 12), "yes")
        assert b.get("1") == before
        now = tz.epoch(2025, 3, 5, 12)
        g = b.reset("1", now, confirm=True)
        assert g["first_init"] == now and g["months"] == []
        assert g["current"] == before["current"]
        assert g["current_month"]["import_wh"] == 0
        b.read("1", tz.epoch(2025, 3, 31, 23, 50), before["current"]["import_wh"] + 500, 0)
        b.read("1", tz.epoch(2025, 4, 1, 0, 2), before["current"]["import_wh"] + 510, 0)
        g = b.get("1")
        assert [m["month"] for m in g["months"]] == ["2025-03"]
        assert g["months"][0]["import_consumption_wh"] == 510  # since the reset only
        assert Billing(d, "UTC").get("1") == g  # persisted
        # reset of a channel never read: becomes known with its init time
        g = b.reset("new", now, confirm=True)
        assert g["first_init"] == now and g["current"] is None
        b.read("new", now + 60, 5, 0)
        assert b.get("new")["current_month"]["import_wh"] == 0
    finally:
        _rmtree(d)


def test_unreadable_channel_file_reported():
    d = _tmpdir()
    try:
        b = Billing(d, "UTC")
        b.read("1", tz.epoch(2025, 1, 1), 1, 0)
        b.read("2", tz.epoch(2025, 1, 1), 1, 0)
        f = open(d + "/ch_2.json", "wb")
        f.write(b'{"ch": "2", "ini')
        f.close()
        b2 = Billing(d, "UTC")
        assert b2.channels() == ["1"]
        assert b2.problems and b2.problems[0][0] == "ch_2.json"
        assert b2.get("2") is None
    finally:
        _rmtree(d)
