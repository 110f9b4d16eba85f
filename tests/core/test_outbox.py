"""Outbox cursors over the ring, and the recorder service that feeds them."""

import sys

from _assert import raises, tmpdir
from _assert import rmtree as _rmtree

if sys.implementation.name == "micropython" and ".frozen" not in sys.path:
    sys.path.append(".frozen")  # asyncio is frozen in the unix port; MICROPYPATH hides it

from gateway.core import records as R
from gateway.core import tz
from gateway.core.billing import Billing
from gateway.core.outbox import Outbox
from gateway.core.ring import Ring
from gateway.services.recorder import Recorder

T0 = 1735689600  # 2025-01-01 00:00 UTC


def _tmpdir():
    return tmpdir("dgt_ob_")




def _fill(ring, n, start=0):
    out = []
    for k in range(start, start + n):
        b = [(T0 + k * 600, m, {"import_kwh": 1000 + k * 10, "export_kwh": 0}) for m in ("1", "2")]
        ring.append(b)
        out.extend(b)
    return out


def _raw(ob, limit=None):
    return [s for _i, s in ob.iter_pending(limit)]


def test_pending_ack_and_resume_after_reboot():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        ob = Outbox(ring, d + "/ob", "mqtt")
        assert ob.pending() == [] and _raw(ob) == []  # empty ring
        sent = _fill(ring, 5)
        got = list(ob.iter_pending())
        assert [s for _i, s in got] == sent
        # nothing acked: a "reboot" sends everything again
        assert _raw(Outbox(ring, d + "/ob", "mqtt")) == sent
        ob.ack(got[3][0])
        assert _raw(ob) == sent[4:]
        assert not ob.ack(got[1][0])  # acks are cumulative: an older id changes nothing
        ring2 = Ring(d + "/ring")
        ob2 = Outbox(ring2, d + "/ob", "mqtt")
        assert _raw(ob2) == sent[4:]
        more = _fill(ring2, 2, start=5)
        assert _raw(ob2, limit=3) == (sent[4:] + more)[:3]
        assert ob2.backlog() == 6 + 4
        ob2.ack(list(ob2.iter_pending())[-1][0])
        assert _raw(ob2) == [] and ob2.gap is None
    finally:
        _rmtree(d)


def test_pending_dicts_for_the_uplink():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        ob = Outbox(ring, d + "/ob", "mqtt", start="begin")
        sent = _fill(ring, 30)  # 60 samples
        first = ob.pending(8)
        assert len(first) == 8
        sid, smp = first[0]
        assert smp == {"meter": "1", "ts": T0, "import_kwh": 1.0, "export_kwh": 0}
        assert [x[1]["ts"] for x in first] == [s[0] for s in sent[:8]]
        # handed out but not acked: still pending, in the same order (the uplink skips in-flight)
        assert ob.pending(8) == first
        for sid, _smp in first[:5]:
            ob.ack(sid)  # in order, one by one, as PUBACKs come in
        nxt = ob.pending(8)
        assert nxt[:3] == first[5:] and len(nxt) == 8
        # drain everything in windows, then new flushes show up again
        seen = [x[0] for x in first[:5]]
        while True:
            win = ob.pending(8)
            if not win:
                break
            for sid, _smp in win:
                seen.append(sid)
                ob.ack(sid)
        assert len(seen) == 60 and seen == sorted(seen)
        more = _fill(ring, 1, start=30)
        assert [x[1]["ts"] for x in ob.pending(8)] == [s[0] for s in more]
        assert Outbox(ring, d + "/ob", "mqtt").cursor == ob.cursor  # persisted
    finally:
        _rmtree(d)


def test_pending_after_the_newest_in_flight():
    # the uplink asks for one sample after the newest it has in flight, after every PUBACK:
    # the outbox keeps only what it has not handed out, and reads again what is asked again
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        ob = Outbox(ring, d + "/ob", "mqtt", start="begin")
        _fill(ring, 10)  # 20 samples, 2 per frame
        ids = [i for i, _s in ob.iter_pending()]
        got = []
        while len(got) < 5:
            (sid, smp), = ob.pending(1, got[-1] if got else None)
            got.append(sid)
            assert [x[0] for x in ob._buf] == [sid]  # one sample dict held, not the window
        assert got == ids[:5]
        assert [x[0] for x in ob.pending(3, got[-1])] == ids[5:8]
        ob.ack(got[1])
        assert [x[0] for x in ob.pending(4, got[3])] == ids[4:8]  # after the cursor and `after`
        # a consumer that lost its window (a restarted task) gets everything after the cursor
        assert [x[0] for x in ob.pending(4)] == ids[2:6]
        assert ob.pending(1, ids[-1]) == [] and ob.pending(1, ids[-2])[0][0] == ids[-1]
        for sid in ids[2:]:
            ob.ack(sid)
        assert ob.pending(8) == []
        more = _fill(ring, 1, start=10)
        assert [x[1]["ts"] for x in ob.pending(8, ids[-1])] == [s[0] for s in more]
    finally:
        _rmtree(d)


def test_notify_sets_changed():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        ob = Outbox(ring, d + "/ob", "mqtt")
        if ob.changed is None:
            return  # no asyncio available
        assert not ob.changed.is_set()
        ob.notify(123)
        assert ob.changed.is_set()
    finally:
        _rmtree(d)


def test_new_consumer_starts_at_end_or_begin():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        old = _fill(ring, 3)
        late = Outbox(ring, d + "/ob", "late")
        assert _raw(late) == [] and late.pending() == []
        full = Outbox(ring, d + "/ob", "full", start="begin")
        assert _raw(full) == old
        new = _fill(ring, 1, start=3)
        assert _raw(late) == new
        assert [x[1]["ts"] for x in late.pending()] == [s[0] for s in new]
        raises(ValueError, Outbox, ring, d + "/ob", "x", "middle")
    finally:
        _rmtree(d)


def test_gap_when_consumer_fell_behind_rotation():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring", budget=2048, segment_bytes=512)
        ob = Outbox(ring, d + "/ob", "mqtt")
        first = _fill(ring, 3)
        ids = [x[0] for x in ob.pending()]
        ob.ack(ids[1])
        allsent = first + _fill(ring, 200, start=3)
        assert ring.deleted > 0
        got = ob.pending(1000)
        assert ob.gap is not None and "behind" in ob.gap["reason"]
        assert ob.gap["resumed_at"] == got[0][0]
        kept = list(ring.samples())
        assert [x[1]["ts"] for x in got] == [s[0] for s in kept]
        assert kept == allsent[len(allsent) - len(kept) :]
        ob.ack(got[-1][0])
        assert ob.pending() == []
    finally:
        _rmtree(d)


def test_cleared_ring_is_a_gap_not_a_stall():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring", budget=4096, segment_bytes=512)
        ob = Outbox(ring, d + "/ob", "mqtt", start="begin")
        _fill(ring, 60)
        ob.ack(list(ob.iter_pending())[-1][0])
        ring.clear()
        fresh = _fill(ring, 2, start=100)
        assert _raw(ob) == fresh and "cleared" in ob.gap["reason"]
        assert [x[1]["ts"] for x in ob.pending()] == [s[0] for s in fresh]
    finally:
        _rmtree(d)


def test_persist_throttled_with_clock_and_commit():
    d = _tmpdir()
    try:
        now = [1000]
        ring = Ring(d + "/ring")
        ob = Outbox(ring, d + "/ob", "mqtt", start="begin", clock=lambda: now[0], min_persist_s=30)
        _fill(ring, 4)
        ids = [x[0] for x in ob.pending()]
        ob.ack(ids[0])  # the cursor was saved at creation, 0 s ago: RAM only
        w = ob.bytes_written
        now[0] += 40
        ob.ack(ids[1])
        assert ob.bytes_written > w
        ob.ack(ids[2])  # within 30 s: RAM only
        assert len(_raw(Outbox(ring, d + "/ob", "mqtt"))) == 6
        ob.commit()
        assert len(_raw(Outbox(ring, d + "/ob", "mqtt"))) == 5
    finally:
        _rmtree(d)


# ---- recorder ------------------------------------------------------------------------------


class _Meters:
    def __init__(self):
        self.imp = {"1": 1000.0, "2": 50.0}
        self.offline = set()
        self.now = T0

    def readings(self):
        out = {}
        for m in self.imp:
            st = "offline" if m in self.offline else "ok"
            out[m] = {
                "status": st,
                "ts": self.now - 3,
                "values": {"import_kwh": self.imp[m], "export_kwh": 0.0, "power_w": 500.0},
            }
        out["3"] = {"status": "disabled", "ts": None, "values": {}}
        return out


def test_recorder_samples_flushes_and_notifies():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        meters = _Meters()
        flushed = []
        settings = {"sample_interval_s": 300, "flush_interval_s": 900, "timezone": "UTC"}
        rec = Recorder(
            ring, meters.readings, settings, clock=lambda: meters.now, on_flush=flushed.append
        )
        t = T0 + 7
        for _ in range(12):  # one hour in 5-min steps
            meters.now = t
            meters.imp["1"] += 0.125
            rec.step(t)
            t += 300
        # samples at every 5-min tick, flushed at most every 15 min
        assert rec.samples_taken == 24
        assert ring.writes == 4 and len(flushed) == 4
        assert rec.flushed.is_set()
        got = list(ring.samples())
        assert [s[0] for s in got if s[1] == "1"] == [T0 + k * 300 for k in range(12)][
            : len(got) // 2
        ]
        assert got[0][2] == {"import_kwh": 1000125, "export_kwh": 0, "power_w": 500}
        # offline meters are skipped; flush() writes what is pending at once
        meters.offline.add("2")
        meters.now = t
        rec.step(t)  # 15 min since the last flush: written now
        assert rec.pending == [] and ring.writes == 5
        assert [s[1] for s in ring.samples(T0 + 3600)] == ["1"]
        meters.now = t + 300
        rec.step(t + 300)
        assert len(rec.pending) == 1
        assert rec.flush() == 1 and rec.pending == [] and ring.writes == 6
        # the same tick is never recorded twice (restart: continues after the ring's last ts)
        rec2 = Recorder(Ring(d + "/ring"), meters.readings, settings, clock=lambda: meters.now)
        assert rec2.sample(t + 10) == 0
    finally:
        _rmtree(d)


def test_recorder_billing_read_at_plus_two_minutes():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        bill = Billing(d + "/bill", "Europe/Paris")
        meters = _Meters()
        settings = {"sample_interval_s": 600, "flush_interval_s": 3600, "timezone": "Europe/Paris"}
        rec = Recorder(ring, meters.readings, settings, billing=bill, clock=lambda: meters.now)
        t = tz.epoch(2025, 1, 31, 21, 50)  # 22:50 Paris
        wakes = []
        while t < tz.epoch(2025, 1, 31, 23, 30):
            meters.now = t
            meters.imp["1"] += 0.1
            nxt = rec.step(t)
            wakes.append(nxt)
            t = nxt
        assert tz.epoch(2025, 1, 31, 22, 2) in wakes and tz.epoch(2025, 1, 31, 23, 2) in wakes
        g = bill.get("1")
        # the 00:02 Paris read (23:02 UTC) closed January
        assert g["months"][0]["month"] == "2025-01"
        assert g["months"][0]["ts"] == tz.epoch(2025, 1, 31, 23, 2)
        assert g["current"]["ts"] == tz.epoch(2025, 1, 31, 23, 2)
        assert bill.get("3") is None  # disabled meter
        # billing reads flush the pending samples at once despite the 1 h flush interval
        assert ring.writes == 3  # first sample, 23:02 and 00:02 Paris
        assert [s[0] for s in rec.pending] == [tz.epoch(2025, 1, 31, 23, 10)] * 2 + [
            tz.epoch(2025, 1, 31, 23, 20)
        ] * 2
        assert list(ring.samples())[-1][0] == tz.epoch(2025, 1, 31, 23, 0)
        assert Billing(d + "/bill", "Europe/Paris").get("1") == g
    finally:
        _rmtree(d)


def test_recorder_waits_for_valid_clock_and_bounds_ram():
    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        meters = _Meters()
        rec = Recorder(
            ring,
            meters.readings,
            {"sample_interval_s": 5, "flush_interval_s": 3600},
            clock=lambda: meters.now,
            max_pending=8,
        )
        assert rec.step(1000) == 1005 and rec.samples_taken == 0  # RTC not set yet
        t = T0
        for _ in range(10):
            meters.now = t
            rec.step(t)
            t += 5
        assert len(rec.pending) < 8 and ring.writes >= 2  # flushed when the buffer filled
    finally:
        _rmtree(d)


def test_recorder_run_loop_with_fake_sleep():
    import asyncio

    d = _tmpdir()
    try:
        ring = Ring(d + "/ring")
        meters = _Meters()
        meters.now = T0 + 1
        rec = Recorder(
            ring,
            meters.readings,
            {"sample_interval_s": 60, "flush_interval_s": 60},
            clock=lambda: meters.now,
        )
        outbox = Outbox(ring, d + "/ob", "mqtt", start="begin")
        published = []

        async def fake_sleep(s):
            meters.now += s
            if meters.now > T0 + 600:
                rec.stop()
            await asyncio.sleep(0)

        async def uplink():
            while True:
                await rec.flushed.wait()
                rec.flushed.clear()
                last = None
                for sid, s in outbox.iter_pending():
                    published.append(R.sample_json(s))
                    last = sid
                outbox.ack(last)

        rec.sleep = fake_sleep

        async def main():
            task = asyncio.create_task(uplink())
            await rec.run()
            for _ in range(3):
                await asyncio.sleep(0)
            task.cancel()

        asyncio.run(main())
        assert len(published) >= 18
        assert published[0] == (
            '{"meter":"1","ts":%d,"export_kwh":0,"import_kwh":1000,"power_w":500}' % T0
        )
        assert outbox.pending() == []
    finally:
        _rmtree(d)
