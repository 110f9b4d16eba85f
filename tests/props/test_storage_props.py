"""Property tests of the storage core: record coding round-trips, ring order and bounds, torn
tails, aggregation totals, local-time conversions (CPython + hypothesis)."""

import os
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core import history as H
from gateway.core import records as R
from gateway.core import tz
from gateway.core.ring import Ring

T0 = 1735689600
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

METERS = ["1", "2", "3", "17", "garage", "pompe à chaleur", "x" * 31]
QUANTS = ["import_kwh", "export_kwh", "power_w", "voltage_l1", "soc_pct", "gas_m3", "custom_q"]


def _canon(samples):
    return sorted((s[0], s[1], sorted(s[2].items())) for s in samples)


@st.composite
def sample_series(draw, max_groups=40):
    """Groups of one timestamp (strictly increasing), distinct meters per group, counters
    that mostly grow by realistic amounts but sometimes jump or reset."""
    n = draw(st.integers(1, max_groups))
    ts = T0 + draw(st.integers(-(10**6), 10**6))
    prev = {}
    out = []
    for _ in range(n):
        ts += draw(st.sampled_from([1, 5, 300, 600, 900, 3600, 86400 * 3]))
        meters = draw(st.lists(st.sampled_from(METERS), min_size=1, max_size=5, unique=True))
        for m in meters:
            qs = draw(st.lists(st.sampled_from(QUANTS), min_size=0, max_size=4, unique=True))
            vals = {}
            for q in qs:
                p = prev.get((m, q), draw(st.integers(-(10**12), 10**12)))
                step = draw(
                    st.one_of(st.just(0), st.integers(0, 3000), st.integers(-(2**45), 2**45))
                )
                vals[q] = p + step
                prev[(m, q)] = vals[q]
            out.append((ts, m, vals))
    return out


@FAST
@given(sample_series(), st.sampled_from([64, 300, 4000, R.MAX_PAYLOAD - 1024]))
def test_encode_decode_roundtrip(samples, max_payload):
    st_enc = R.SegState(samples[0][0] - 7)
    payloads = R.encode(st_enc, samples, max_payload)
    st_dec = R.SegState(samples[0][0] - 7)
    out = []
    for p, n in payloads:
        assert len(p) <= R.MAX_PAYLOAD
        fr = R.frame(p)
        r = R.check_frame(fr, 0)
        got = R.decode(st_dec, fr[r[0] : r[1]])
        assert len(got) == n
        out.extend(got)
    assert _canon(out) == _canon(samples)
    # group order is kept: timestamps come back in the order they were written
    assert [s[0] for s in out] == sorted(s[0] for s in samples)


@FAST
@given(sample_series(max_groups=10), st.data())
def test_any_single_byte_damage_is_detected(samples, data):
    p = R.encode(R.SegState(T0), samples)[0][0]
    fr = bytearray(R.frame(p))
    k = data.draw(st.integers(0, len(fr) - 1))
    fr[k] ^= data.draw(st.integers(1, 255))
    assert R.check_frame(bytes(fr), 0) in (None, False)


def _tmp():
    return tempfile.mkdtemp(prefix="dgt_props_")


def _batches(draw, n):
    out = []
    ts = T0
    imp = {m: 1000 for m in METERS[:4]}
    for _ in range(n):
        b = []
        for _k in range(draw(st.integers(1, 3))):
            ts += 900
            for m in draw(
                st.lists(st.sampled_from(METERS[:4]), min_size=1, max_size=4, unique=True)
            ):
                imp[m] += draw(st.integers(0, 5000))
                b.append((ts, m, {"import_kwh": imp[m], "export_kwh": 0}))
        out.append(b)
    return out


@FAST
@given(st.data())
def test_ring_order_and_bounds(data):
    seg = data.draw(st.sampled_from([256, 512, 1024]))
    budget = seg * data.draw(st.integers(2, 6))
    batches = _batches(data.draw, data.draw(st.integers(1, 60)))
    d = _tmp()
    try:
        r = Ring(d, budget=budget, segment_bytes=seg)
        allin = []
        for b in batches:
            r.append(b)
            allin.extend(b)
            total = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
            assert total <= budget
        got = list(r.samples())
        assert got, "the newest batch is always kept"
        assert _canon(got) == _canon(allin[len(allin) - len(got) :])
        assert _canon(batches[-1]) == _canon(got[len(got) - len(batches[-1]) :])
        ents = list(r.entries())
        ids = [e[0] for e in ents]
        assert ids == sorted(set(ids))
        assert [e[1] for e in ents] == got
        k = data.draw(st.integers(0, len(ids) - 1))
        assert [e[0] for e in r.entries(after=ids[k])] == ids[k + 1 :]
        r2 = Ring(d, budget=budget, segment_bytes=seg)
        assert list(r2.samples()) == got and r2.recovery == []
        # time-range queries agree with filtering everything
        a = data.draw(st.integers(T0 - 1000, T0 + 900 * 200))
        b = a + data.draw(st.integers(0, 900 * 50))
        assert list(r2.samples(a, b)) == [s for s in got if a <= s[0] < b]
        m = data.draw(st.sampled_from(METERS[:4]))
        assert list(r2.samples(a, b, meter=m)) == [s for s in got if a <= s[0] < b and s[1] == m]
    finally:
        shutil.rmtree(d)


@FAST
@given(st.data())
def test_torn_or_garbled_tail_loses_only_the_tail(data):
    batches = _batches(data.draw, data.draw(st.integers(1, 25)))
    d = _tmp()
    try:
        r = Ring(d, budget=16384, segment_bytes=1024)
        ends = []  # (seq, end offset) of each batch
        for b in batches:
            r.append(b)
            ends.append((r.segs[-1][0], r.segs[-1][2]))
        last_seq, size = r.segs[-1][0], r.segs[-1][2]
        name = os.path.join(d, "%08d.seg" % last_seq)
        raw = bytearray(open(name, "rb").read())
        p = data.draw(st.integers(R.SEG_HEADER, size))
        if data.draw(st.booleans()):
            raw = raw[:p]  # truncated
        else:  # garbled from p on, maybe with extra junk
            for i in range(p, len(raw)):
                raw[i] = data.draw(st.integers(0, 255)) if data.draw(st.booleans()) else raw[i]
            raw += bytes(data.draw(st.binary(max_size=40)))
        open(name, "wb").write(bytes(raw))
        r2 = Ring(d, budget=16384, segment_bytes=1024)
        got = list(r2.samples())
        keep = []
        for b, (seq, end) in zip(batches, ends):
            if seq != last_seq or end <= p:
                keep.extend(b)
        # what was before the damage survives; nothing invented after it
        assert _canon(got[: len(keep)]) == _canon(keep)
        assert _canon(got) == _canon(sum(batches, [])[: len(got)])
        extra = [(T0 + 10**7, "1", {"import_kwh": 1})]
        r2.append(extra)
        assert list(Ring(d, budget=16384, segment_bytes=1024).samples())[-1] == extra[0]
    finally:
        shutil.rmtree(d)


@FAST
@given(st.data())
def test_aggregated_differences_sum_to_total(data):
    zone = data.draw(st.sampled_from(["Europe/Paris", "Europe/London", "UTC", "UTC+05:30"]))
    step = data.draw(st.sampled_from(["15m", "1h", "1d", "1mo"]))
    # a year around DST changes, samples every 5..90 min with gaps
    t = T0 + data.draw(st.integers(0, 365 * 86400))
    imp = data.draw(st.integers(0, 10**9))
    d = _tmp()
    try:
        r = Ring(d, budget=1 << 20, segment_bytes=8192)
        samples = []
        for _ in range(data.draw(st.integers(2, 120))):
            t += data.draw(st.sampled_from([300, 600, 900, 3600, 5400, 86400]))
            imp += data.draw(st.integers(0, 2000))
            samples.append(
                (t, "m", {"import_kwh": imp, "power_w": data.draw(st.integers(0, 9000))})
            )
        r.append(samples)
        z = tz.get(zone)
        t_from, t_to = samples[0][0], samples[-1][0] + 1
        rows = list(H.fixed_rows(r, "m", t_from, t_to, step, z))
        total = sum(v.get("import_kwh", 0) for _ts, v in rows)
        assert total == samples[-1][2]["import_kwh"] - samples[0][2]["import_kwh"]
        starts = [ts for ts, _v in rows]
        assert starts == sorted(set(starts))
        for ts in starts:
            lp = z.parts(ts)
            if step == "15m":
                assert lp[4] % 15 == 0 and lp[5] == 0
            elif step == "1h":
                assert lp[4] == 0 and lp[5] == 0
            elif step == "1d":
                assert lp[3:6] == (0, 0, 0)
            else:
                assert lp[2:6] == (1, 0, 0, 0)
        for _ts, v in rows:
            assert 0 <= v["power_w"] <= 9000
    finally:
        shutil.rmtree(d)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "Europe/Paris",
            "Europe/London",
            "Europe/Athens",
            "UTC",
            "UTC-03:30",
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
        ]
    ),
    st.integers(tz.epoch(1990, 1, 1), tz.epoch(2060, 1, 1)),
)
def test_local_time_round_trip(zone, t):
    z = tz.get(zone)
    lt = z.to_local(t)
    back = z.from_local_seconds(lt)
    assert z.to_local(back) == lt and back <= t  # ambiguous local times map to the first one
    s = z.start_of_day(t)
    assert s <= t < z.next_day(t)
    assert 82800 <= z.next_day(t) - s <= 90000
    m = z.start_of_month(t)
    assert m <= t < z.next_month(t)
    assert z.parts(m)[2:6] == (1, 0, 0, 0) and z.month_key(m) == z.month_key(t)


def _reference_rows(samples, t_from, t_to, step, z):
    """Straightforward aggregation (bucket of every sample through the zone, dicts per bucket):
    what history.fixed_rows must return."""
    if step in ("15m", "1h"):
        n = 900 if step == "15m" else 3600

        def bstart(t):
            return t - (t + z.offset(t)) % n

        def bnext(b):
            return b + n

    elif step == "1d":
        bstart, bnext = z.start_of_day, z.next_day
    else:
        bstart, bnext = z.start_of_month, z.next_month
    b_first = bstart(t_from)
    b_end = bnext(bstart(t_to - 1))
    out = []
    cur = None
    first, last, sums = {}, {}, {}

    def row(closing):
        r = {}
        for q in first:
            c = closing.get(q) if closing is not None else None
            r[q] = (last[q] if c is None else c) - first[q]
        for q in sums:
            r[q] = (2 * sums[q][0] + sums[q][1]) // (2 * sums[q][1])
        return r

    for ts, _m, vals in samples:
        if ts < b_first or (cur is not None and ts < cur):
            continue
        b = bstart(ts)
        if cur is not None and b != cur:
            if cur >= t_from or cur == b_first:
                r = row(vals)
                if r:
                    out.append((cur, r))
            cur = None
        if b >= b_end or ts >= b_end:
            return out
        if cur is None:
            cur, first, last, sums = b, {}, {}, {}
        for q in vals:
            if R.is_counter(q):
                first.setdefault(q, vals[q])
                last[q] = vals[q]
            else:
                s = sums.setdefault(q, [0, 0])
                s[0] += vals[q]
                s[1] += 1
    if cur is not None:
        r = row(None)
        if r:
            out.append((cur, r))
    return out


@FAST
@given(st.data())
def test_aggregation_matches_reference(data):
    zone = data.draw(st.sampled_from(["Europe/Paris", "Europe/London", "UTC", "UTC+05:30",
                                      "AEST-10AEDT,M10.1.0,M4.1.0/3"]))
    step = data.draw(st.sampled_from(["15m", "1h", "1d", "1mo"]))
    t = T0 + data.draw(st.integers(0, 365 * 86400))
    d = _tmp()
    try:
        r = Ring(d, budget=1 << 20, segment_bytes=4096, chunk=64)
        samples = []
        imp = data.draw(st.integers(0, 10**9))
        for _ in range(data.draw(st.integers(1, 150))):
            t += data.draw(st.sampled_from([0, 60, 300, 900, 3600, 5400, 86400, 40 * 86400]))
            imp += data.draw(st.integers(0, 2000))
            vals = {"import_kwh": imp, "voltage_l1": data.draw(st.integers(2000, 2500))}
            if data.draw(st.booleans()):
                vals["power_w"] = data.draw(st.integers(-500, 9000))
            samples.append((t, "m", vals))
            if data.draw(st.booleans()):
                samples.append((t, "other", {"import_kwh": 5}))
        for k in range(0, len(samples), 7):
            r.append(samples[k : k + 7])
        z = tz.get(zone)
        mine = [s for s in samples if s[1] == "m"]
        t_from = mine[0][0] + data.draw(st.integers(-86400, 86400))
        t_to = max(t_from + 1, mine[-1][0] + data.draw(st.integers(-86400, 86400)))
        got = list(H.fixed_rows(r, "m", t_from, t_to, step, z))
        assert got == _reference_rows(mine, t_from, t_to, step, z)
    finally:
        shutil.rmtree(d)
