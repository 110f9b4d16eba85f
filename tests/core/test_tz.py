"""Time zones: civil-date math, POSIX rules, DST transitions, local day/month boundaries."""

from _assert import raises

from gateway.core import tz
from gateway.core.errors import ValidationError

H = 3600


def test_civil_known_dates():
    assert tz.days_from_civil(1970, 1, 1) == 0
    assert tz.days_from_civil(2000, 3, 1) == 11017
    assert tz.civil_from_days(0) == (1970, 1, 1)
    assert tz.civil_from_days(-1) == (1969, 12, 31)
    assert tz.civil_from_days(tz.days_from_civil(2024, 2, 29)) == (2024, 2, 29)
    assert tz.epoch(2023, 11, 14, 22, 13, 20) == 1700000000


def test_civil_round_trip_many_days():
    prev = None
    for n in range(-800, 80000, 37):
        y, m, d = tz.civil_from_days(n)
        assert tz.days_from_civil(y, m, d) == n
        assert 1 <= d <= tz.days_in_month(y, m)
        if prev is not None:
            assert (y, m, d) > prev
        prev = (y, m, d)


def test_utc_parts():
    assert tz.utc_parts(1700000000) == (2023, 11, 14, 22, 13, 20, 1, 318)
    assert tz.utc_parts(0) == (1970, 1, 1, 0, 0, 0, 3, 1)
    assert tz.utc_parts(951782400)[:3] == (2000, 2, 29)
    assert tz.is_leap(2000) and not tz.is_leap(1900) and tz.is_leap(2024) and not tz.is_leap(2025)


def test_paris_dst_2025():
    z = tz.get("Europe/Paris")
    start = tz.epoch(2025, 3, 30, 1)  # 02:00 CET -> 03:00 CEST
    end = tz.epoch(2025, 10, 26, 1)  # 03:00 CEST -> 02:00 CET
    assert z.transitions(2025) == (start, end)
    assert z.offset(start - 1) == H and z.offset(start) == 2 * H
    assert z.offset(end - 1) == 2 * H and z.offset(end) == H
    assert z.parts(start - 1)[3:6] == (1, 59, 59)
    assert z.parts(start)[3:6] == (3, 0, 0)
    assert z.format(end - 1, True) == "2025-10-26 02:59:59"
    assert z.format(end, True) == "2025-10-26 02:00:00"


def test_all_cet_names_agree():
    for name in ("Europe/Brussels", "Europe/Amsterdam", "Europe/Luxembourg", "Europe/Paris"):
        z = tz.get(name)
        assert z.offset(tz.epoch(2024, 7, 1)) == 2 * H
        assert z.offset(tz.epoch(2024, 1, 1)) == H


def test_london():
    z = tz.get("Europe/London")
    assert z.transitions(2024) == (tz.epoch(2024, 3, 31, 1), tz.epoch(2024, 10, 27, 1))
    assert z.offset(tz.epoch(2024, 6, 1)) == H
    assert z.offset(tz.epoch(2024, 12, 1)) == 0
    assert z.std_name == "GMT" and z.dst_name == "BST"


def test_utc_and_fixed_offsets():
    assert tz.get("UTC").offset(1700000000) == 0
    assert tz.get("UTC+2").offset(0) == 2 * H
    assert tz.get("UTC+05:30").offset(0) == 5 * H + 1800
    assert tz.get("UTC-3").offset(0) == -3 * H
    assert tz.get("GMT-03:30").offset(0) == -3 * H - 1800
    assert tz.get("+01:00").offset(0) == H
    assert tz.get("UTC+0").offset(0) == 0
    z = tz.get("UTC+05:30")
    assert z.start_of_day(tz.epoch(2024, 5, 5, 20)) == tz.epoch(2024, 5, 5, 18, 30)


def test_unknown_zones_rejected():
    for bad in ("Mars/Olympus", "", "UTC+x", "UTC+25", "abc", 5, None, "CET-1CEST,M3.5.0"):
        if bad is None:
            continue
        e = raises(ValidationError, tz.get, bad)
        assert e.field == "timezone"
        assert not tz.known(bad)
    assert tz.known("Europe/Paris") and tz.known("UTC") and tz.known("CET-1CEST,M3.5.0,M10.5.0/3")


def test_raw_posix_and_rule_kinds():
    z = tz.get("EST5EDT,M3.2.0,M11.1.0")
    assert z.transitions(2024) == (tz.epoch(2024, 3, 10, 7), tz.epoch(2024, 11, 3, 6))
    # Julian days without leap day: J60 is always March 1st
    z = tz.get("AAA0BBB,J60/0,J305/0")
    assert z.transitions(2024)[0] == tz.epoch(2024, 3, 1)
    assert z.transitions(2023)[0] == tz.epoch(2023, 3, 1)
    # zero-based day counting the leap day: 59 is Feb 29 in 2024
    z = tz.get("AAA0BBB,59/0,300/0")
    assert z.transitions(2024)[0] == tz.epoch(2024, 2, 29)
    # DST without rules: POSIX default (US rules)
    assert tz.get("EST5EDT").transitions(2024)[0] == tz.epoch(2024, 3, 10, 7)
    # <+04>-4 style names
    assert tz.get("Indian/Reunion").offset(0) == 4 * H
    assert tz.get("Pacific/Tahiti").offset(0) == -10 * H


def test_southern_hemisphere():
    z = tz.get("AEST-10AEDT,M10.1.0,M4.1.0/3")
    assert z.offset(tz.epoch(2024, 1, 15)) == 11 * H
    assert z.offset(tz.epoch(2024, 7, 15)) == 10 * H
    assert z.offset(tz.epoch(2024, 12, 31, 20)) == 11 * H


def test_start_of_day_and_dst_days():
    z = tz.get("Europe/Paris")
    t = tz.epoch(2025, 3, 30, 12)
    s = z.start_of_day(t)
    assert s == tz.epoch(2025, 3, 29, 23)
    assert z.next_day(t) - s == 23 * H
    t = tz.epoch(2025, 10, 26, 12)
    assert z.next_day(t) - z.start_of_day(t) == 25 * H
    t = tz.epoch(2025, 7, 1, 21, 59)  # 23:59 local
    assert z.date(t) == (2025, 7, 1)
    assert z.date(t + 60) == (2025, 7, 2)
    assert z.start_of_day(t) == tz.epoch(2025, 6, 30, 22)


def test_start_of_month_local():
    z = tz.get("Europe/Paris")
    assert z.start_of_month(tz.epoch(2025, 4, 15)) == tz.epoch(2025, 3, 31, 22)
    assert z.start_of_month(tz.epoch(2025, 1, 10)) == tz.epoch(2024, 12, 31, 23)
    # 2025-03-31 22:30 UTC is already April in Paris
    t = tz.epoch(2025, 3, 31, 22, 30)
    assert z.month_key(t) == "2025-04" and tz.get("UTC").month_key(t) == "2025-03"
    assert z.next_month(tz.epoch(2025, 10, 15)) == tz.epoch(2025, 10, 31, 23)
    assert z.next_month(tz.epoch(2025, 12, 15)) == tz.epoch(2025, 12, 31, 23)
    assert tz.get("UTC").next_month(tz.epoch(2024, 2, 10)) == tz.epoch(2024, 3, 1)


def test_from_local_gap_and_overlap():
    z = tz.get("Europe/Paris")
    assert z.from_local(2025, 7, 1, 12) == tz.epoch(2025, 7, 1, 10)
    # 02:30 does not exist on 2025-03-30: moved forward to 03:30 CEST
    t = z.from_local(2025, 3, 30, 2, 30)
    assert t == tz.epoch(2025, 3, 30, 1, 30) and z.parts(t)[3:5] == (3, 30)
    # 02:30 happens twice on 2025-10-26: the first (CEST) one
    assert z.from_local(2025, 10, 26, 2, 30) == tz.epoch(2025, 10, 26, 0, 30)


def test_names_table():
    ns = tz.names()
    for n in (
        "Europe/Paris",
        "Europe/Brussels",
        "Europe/Amsterdam",
        "Europe/Luxembourg",
        "Europe/London",
        "UTC",
    ):
        assert n in ns
    assert tz.get(None).name == tz.DEFAULT


def test_against_zoneinfo_when_available():
    try:
        import datetime
        import zoneinfo
    except ImportError:
        return  # MicroPython: nothing to compare with
    try:
        zoneinfo.ZoneInfo("Europe/Paris")
    except Exception:  # no tz database on this host
        return
    import random

    rnd = random.Random(7)
    for name in ("Europe/Paris", "Europe/London", "Europe/Lisbon", "Europe/Athens", "UTC"):
        zi = zoneinfo.ZoneInfo(name)
        z = tz.get(name)
        for _ in range(400):
            t = rnd.randrange(tz.epoch(2000, 1, 1), tz.epoch(2037, 1, 1))
            dt = datetime.datetime.fromtimestamp(t, zi)
            assert z.offset(t) == int(dt.utcoffset().total_seconds()), (name, t)
            assert z.parts(t)[:6] == (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
            assert z.parts(t)[6] == dt.weekday()
