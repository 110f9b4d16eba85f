"""Quarter-hour demand (core/demand.py): monthly peaks of the quarter-hour average import power,
and the recorder's quarter reads that feed them."""

import sys

from _assert import tempdir

if sys.implementation.name == "micropython" and ".frozen" not in sys.path:
    sys.path.append(".frozen")  # asyncio is frozen in the unix port; MICROPYPATH hides it

from gateway.core import demand, tz
from gateway.core.billing import Billing
from gateway.core.ring import Ring
from gateway.services.recorder import Recorder

ZONE = "Europe/Brussels"
Q0 = tz.epoch(2026, 1, 31, 21, 0)  # 22:00 in Brussels


def test_the_peak_is_the_highest_quarter_seen_whole():
    with tempdir("dgt_dm_") as d:
        b = Billing(d, ZONE)
        # reads a few seconds before each boundary (the last poll): their own times count
        assert demand.read(b, Q0, {"1": (Q0 - 2, 1000000)}) == {}
        assert demand.read(b, Q0 + 900, {"1": (Q0 + 898, 1000250)}) == {"1": 1000}  # 250 Wh / 15 min
        rev = b.peaks_rev
        assert demand.read(b, Q0 + 1800, {"1": (Q0 + 1799, 1001000)}) == {"1": 2996}  # 750 Wh / 901 s
        assert b.peaks_rev == rev + 1
        rev = b.peaks_rev
        assert demand.read(b, Q0 + 2700, {"1": (Q0 + 2698, 1001100)}) == {"1": 400}
        assert b.peaks_rev == rev  # no new peak: nothing for the MQTT uplink to look at
        assert demand.view(b, "1") == ({"month": "2026-01", "w": 2996, "ts": Q0 + 900}, [])
        assert b.peak("1") == (202601, 2996, Q0 + 900) and b.peak("2") is None
        # a quarter not seen whole is left out: a missed read, then a first read again
        assert demand.read(b, Q0 + 4500, {"1": (Q0 + 4498, 1009000)}) == {}
        # an index gone backwards (a meter swapped) is no power, and starts a new chain
        assert demand.read(b, Q0 + 5400, {"1": (Q0 + 5398, 5)}) == {}
        assert demand.read(b, Q0 + 6300, {"1": (Q0 + 6298, 255)}) == {"1": 1000}
        # the same reading at both ends (the meter was not polled meanwhile): nothing
        assert demand.read(b, Q0 + 7200, {"1": (Q0 + 6298, 255)}) == {}
        assert demand.view(b, "1")[0]["w"] == 2996


def test_a_month_closes_with_its_peak_in_the_site_time_zone():
    with tempdir("dgt_dm_") as d:
        b = Billing(d, ZONE)
        q = tz.epoch(2026, 1, 31, 22, 30)  # 23:30 in Brussels
        wh = 0
        for k in range(4):  # 23:30-23:45 (1 kW) and 23:45-00:00 (2 kW) are January's
            wh += (0, 250, 500, 100)[k]
            demand.read(b, q + k * 900, {"7": (q + k * 900, wh)})
        # 00:00-00:15 Brussels is February's (400 W): January closes with its 2 kW at 23:45
        cur, past = demand.view(b, "7")
        assert cur == {"month": "2026-02", "w": 400, "ts": tz.epoch(2026, 1, 31, 23, 0)}
        assert past == [{"month": "2026-01", "w": 2000, "ts": tz.epoch(2026, 1, 31, 22, 45)}]
        # on flash: a restart finds the open month and the past; the quarter under way is lost
        b2 = Billing(d, ZONE)
        assert demand.view(b2, "7") == (cur, past)
        assert demand.read(b2, q + 4 * 900, {"7": (q + 4 * 900, wh + 1000)}) == {}
        # a year and more of months: the last KEEP stay
        for m in range(14):
            start = tz.epoch(2026, 3 + m, 1, 0, 0) if m < 10 else tz.epoch(2027, m - 9, 1, 0, 0)
            start -= 3600  # local midnight in Brussels (winter or summer: the next quarter counts)
            demand.read(b2, start, {"7": (start, 0)})
            demand.read(b2, start + 7200, {"7": (start + 7200, 10)})
            demand.read(b2, start + 8100, {"7": (start + 8100, 10 + m)})
        past = demand.view(b2, "7")[1]
        assert len(past) == demand.KEEP and past[0]["month"] == "2027-03"


def test_a_new_tenant_starts_without_peaks():
    with tempdir("dgt_dm_") as d:
        b = Billing(d, ZONE)
        b.read("2", Q0, 1000, 0)
        demand.read(b, Q0, {"2": (Q0, 1000), "3": (Q0, 0)})
        demand.read(b, Q0 + 900, {"2": (Q0 + 900, 1500), "3": (Q0 + 900, 100)})
        b.reset("2", Q0 + 1000, confirm=True)
        assert demand.view(b, "2") == (None, [])
        assert demand.view(b, "3")[0]["w"] == 400  # the other meters keep theirs
        assert demand.view(Billing(d, ZONE), "2") == (None, [])


class _Meter:
    def __init__(self):
        self.now = 0
        self.kwh = 100.0
        self.kw = 1.0
        self.deleted = ()

    def readings(self):
        rd = {"1": {"status": "ok", "ts": self.now - 1, "values": {"import_kwh": self.kwh}},
              "9": {"status": "ok", "ts": self.now - 1, "values": {"gas_m3": 3.5}}}
        return {k: rd[k] for k in rd if k not in self.deleted}


def test_the_recorder_reads_every_quarter_hour():
    with tempdir("dgt_dm_") as d:
        b = Billing(d + "/bill", ZONE)
        m = _Meter()
        settings = {"sample_interval_s": 600, "flush_interval_s": 3600, "timezone": ZONE}
        rec = Recorder(Ring(d + "/ring"), m.readings, settings, billing=b, clock=lambda: m.now)
        t = Q0 + 7
        wakes = []
        while t < Q0 + 6400:  # until 23:46 in Brussels
            dt = max(t - m.now, 0) if m.now else 0
            m.kwh += m.kw * dt / 3600
            m.now = t
            m.kw = 5.0 if Q0 + 4500 <= t < Q0 + 5400 else 1.0  # one quarter at 5 kW
            t = rec.step(t)
            wakes.append(t)
        assert [Q0 + k * 900 for k in range(1, 8)] == [w for w in wakes if w % 900 == 0]
        cur, past = demand.view(b, "1")
        assert cur["month"] == "2026-01" and cur["ts"] == Q0 + 4500 and 4900 <= cur["w"] <= 5100, cur
        assert demand.view(b, "9") == (None, [])  # a gas meter has no electric demand


def test_the_hourly_read_drops_a_deleted_meter_s_billing_after_its_keeping():
    """A deleted meter's billing (core/billing.py ``end``) stays KEEP_ENDED_S for the accounts;
    the recorder's hourly billing read then drops it, peaks included."""
    from gateway.core.billing import KEEP_ENDED_S

    with tempdir("dgt_dm_") as d:
        b = Billing(d + "/bill", ZONE)
        m = _Meter()
        events = []
        rec = Recorder(Ring(d + "/ring"), m.readings, {"timezone": ZONE}, billing=b,
                       clock=lambda: m.now, log=lambda t, code, params: events.append((code, params)))
        for k in range(3):  # three quarters read, two billing reads: "1" and "9" billed
            m.now = Q0 + k * 900
            m.kwh += 0.5
            rec.quarter_read(m.now, m.now)
        rec.billing_read(Q0 + 120, Q0 + 120)
        rec.billing_read(Q0 + 3720, Q0 + 3720)
        assert b.channels() == ["1", "9"] and demand.view(b, "1")[0] is not None
        m.deleted = ("9",)  # as the device deletes a meter: no reading, its billing ended
        b.end("9", Q0 + 3800)
        m.now = Q0 + 3800 + KEEP_ENDED_S
        rec.billing_read(m.now, m.now)
        assert b.channels() == ["1", "9"]  # kept its time
        m.now += 3600
        rec.billing_read(m.now, m.now)
        assert b.channels() == ["1"] and ("bill.dropped", {"meter": "9"}) in events
        m.deleted = ("1", "9")
        b.end("1", m.now)
        m.now += KEEP_ENDED_S + 3600
        rec.billing_read(m.now, m.now)
        assert b.channels() == [] and demand.view(b, "1") == (None, [])


def test_a_damaged_peaks_file_is_dropped_not_fatal():
    with tempdir("dgt_dm_") as d:
        b = Billing(d, ZONE)
        for bad in (b"{", b'{"v":1,"open":{"1":["2026",5,0],"2":"x","3":["2026-01",1000,%d]}}' % Q0):
            with open(d + "/peaks.json", "wb") as f:
                f.write(bad)
            b.qh = None  # as after a restart
            assert demand.view(b, "1") == (None, [])
        assert demand.view(b, "3")[0] == {"month": "2026-01", "w": 1000, "ts": Q0}
        # readings' times may be floats (the poller's clock)
        demand.read(b, Q0 + 900, {"3": (Q0 + 899.6, 10)})
        assert demand.read(b, Q0 + 1800, {"3": (Q0 + 1799.6, 1010)}) == {"3": 4000}
        assert demand.view(b, "3")[0]["w"] == 4000


def test_a_closing_statement_keeps_its_month_s_peak():
    """The month's last quarter is read at 00:00, its statement closes at the 00:02 billing read:
    the statement freezes that month's peak (core/statement.py snapshot)."""
    from gateway.core import statement

    with tempdir("dgt_dm_") as d:
        b = Billing(d, ZONE)
        q = tz.epoch(2026, 1, 31, 22, 30)  # 23:30 in Brussels
        b.read("5", q - 1680, 1000, 0)  # 23:02
        for k, wh in enumerate((1000, 1500, 1750)):  # 2 kW, then 1 kW: the 00:00 read is January's
            demand.read(b, q + k * 900, {"5": (q + k * 900, wh)})
        b.read("5", q + 1920, 1760, 0)  # 00:02 February: January closes
        b.flush()
        jan = statement.find(b, "5", "2026-01")
        assert jan["closed"] is True
        assert (jan["peak_kw"], jan["peak_ts"]) == (2.0, q)
