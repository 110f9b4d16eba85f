"""Flash ring: append, rotation within budget, time-range reads, torn tails, ids."""

import os

from _assert import raises, tmpdir
from _assert import rmtree as _rmtree

from gateway.core import records as R
from gateway.core.ring import Ring, id_parts

T0 = 1735689600


def _tmpdir():
    return tmpdir("dgt_ring_")




def _batches(n, meters=("1", "2", "3"), start=0, step=900):
    out = []
    for k in range(start, start + n):
        b = []
        for m in meters:
            b.append(
                (
                    T0 + k * step,
                    m,
                    {"import_kwh": 100000 + k * (50 + int(m)), "export_kwh": k if m == "3" else 0},
                )
            )
        out.append(b)
    return out


def _flat(batches):
    out = []
    for b in batches:
        out.extend(b)
    return out


def _size(path):
    return os.stat(path)[6]


def test_append_and_read_back():
    d = _tmpdir()
    try:
        r = Ring(d + "/ring")
        bs = _batches(30)
        for b in bs:
            r.append(b)
        got = list(r.samples())
        assert got == _flat(bs)
        assert list(r.samples(meter="2")) == [s for s in _flat(bs) if s[1] == "2"]
        got = list(r.samples(T0 + 5 * 900, T0 + 8 * 900))
        assert [s[0] for s in got] == [T0 + k * 900 for k in (5, 6, 7) for _ in range(3)]
        assert r.stats()["bytes_written"] == r.stats()["bytes"] == _size(d + "/ring/00000001.seg")
        assert r.writes == 30
        assert r.last_sample() == bs[-1][-1]
        assert r.last_sample("1") == bs[-1][0]
        assert r.append([]) is None
    finally:
        _rmtree(d)


def test_unsorted_batch_is_ordered():
    d = _tmpdir()
    try:
        r = Ring(d)
        b = [(T0 + 20, "a", {"power_w": 1}), (T0, "a", {"power_w": 2}), (T0 + 10, "b", {})]
        r.append(b)
        assert [s[0] for s in r.samples()] == [T0, T0 + 10, T0 + 20]
    finally:
        _rmtree(d)


def test_rotation_keeps_budget_and_newest():
    d = _tmpdir()
    try:
        r = Ring(d, budget=4096, segment_bytes=1024)
        bs = _batches(400)
        for b in bs:
            r.append(b)
            total = sum(_size(d + "/" + n) for n in os.listdir(d))
            assert total <= 4096
            assert r.stats()["bytes"] == total
        got = list(r.samples())
        flat = _flat(bs)
        assert got == flat[len(flat) - len(got) :]  # a suffix: the newest data
        assert len(got) > 300
        assert r.deleted > 0 and len(os.listdir(d)) == len(r.segs) <= 4
        # a fresh object over the same directory sees the same thing
        r2 = Ring(d, budget=4096, segment_bytes=1024)
        assert list(r2.samples()) == got and r2.recovery == []
        # time range that starts in a deleted part
        assert list(r2.samples(T0, T0 + 400 * 900)) == got
    finally:
        _rmtree(d)


def test_time_range_skips_segments():
    d = _tmpdir()
    try:
        r = Ring(d, budget=64 << 10, segment_bytes=512)
        bs = _batches(300)
        for b in bs:
            r.append(b)
        assert len(r.segs) > 10
        got = list(r.samples(T0 + 150 * 900, T0 + 151 * 900, meter="3"))
        assert got == [bs[150][2]]
        assert list(r.samples(T0 + 10**6 * 900, None)) == []
        assert list(r.samples(None, T0)) == []
    finally:
        _rmtree(d)


def test_torn_tail_is_ignored_and_append_continues():
    d = _tmpdir()
    try:
        r = Ring(d)
        bs = _batches(10)
        for b in bs:
            r.append(b)
        name = d + "/00000001.seg"
        good = _size(name)
        # a flush cut short: the first half of a frame
        extra = R.frame(b"\x01" + b"\x00" * 40)
        f = open(name, "ab")
        f.write(extra[:20])
        f.close()
        r2 = Ring(d)
        assert list(r2.samples()) == _flat(bs)
        assert r2.recovery and "torn" in r2.recovery[0]
        more = _batches(5, start=10)
        for b in more:
            r2.append(b)
        assert len(r2.segs) == 2  # continued in a fresh segment
        assert _size(name) == good + 20
        r3 = Ring(d)
        assert list(r3.samples()) == _flat(bs + more)
        assert r3.recovery == []
    finally:
        _rmtree(d)


def test_garbled_last_frame_is_ignored():
    d = _tmpdir()
    try:
        r = Ring(d)
        bs = _batches(6)
        for b in bs:
            r.append(b)
        name = d + "/00000001.seg"
        data = bytearray(open(name, "rb").read())
        data[-3] ^= 0xFF  # inside the last frame's checksum
        f = open(name, "wb")
        f.write(data)
        f.close()
        r2 = Ring(d)
        assert list(r2.samples()) == _flat(bs[:-1])
        r2.append(bs[-1])
        assert list(Ring(d).samples()) == _flat(bs)
    finally:
        _rmtree(d)


def test_garbage_and_zero_fill_tails():
    for tail in (b"\x00" * 300, b"\xff" * 300, b"\xb7\xff\xff", b"\xb7\x05\x00abc"):
        d = _tmpdir()
        try:
            r = Ring(d)
            bs = _batches(3)
            for b in bs:
                r.append(b)
            f = open(d + "/00000001.seg", "ab")
            f.write(tail)
            f.close()
            r2 = Ring(d)
            assert list(r2.samples()) == _flat(bs)
            r2.append(_batches(1, start=3)[0])
            assert list(Ring(d).samples()) == _flat(bs + _batches(1, start=3))
        finally:
            _rmtree(d)


def test_unreadable_segment_removed():
    d = _tmpdir()
    try:
        r = Ring(d, budget=8192, segment_bytes=512)
        for b in _batches(60):
            r.append(b)
        n = len(r.segs)
        last = r.segs[-1][0]
        # a torn segment creation: header incomplete
        f = open(d + "/%08d.seg" % (last + 1), "wb")
        f.write(b"DGS1\x00")
        f.close()
        r2 = Ring(d, budget=8192, segment_bytes=512)
        assert len(r2.segs) == n and "removed" in r2.recovery[0]
        assert ("%08d.seg" % (last + 1)) not in os.listdir(d)
        assert list(r2.samples()) == list(r.samples())
        os.remove(d + "/%08d.seg" % r2.segs[0][0])  # losing one segment loses only its data
        r3 = Ring(d, budget=8192, segment_bytes=512)
        got = list(r3.samples())
        assert got and got == list(r.samples())[len(list(r.samples())) - len(got) :]
    finally:
        _rmtree(d)


def test_entries_ids_are_stable_and_ordered():
    d = _tmpdir()
    try:
        r = Ring(d, budget=16384, segment_bytes=600)
        last_ids = []
        for b in _batches(40):
            last_ids.append(r.append(b))
        ents = list(r.entries())
        ids = [e[0] for e in ents]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert [e[1] for e in ents] == list(r.samples())
        assert ids[-1] == last_ids[-1]
        assert last_ids[-1] in ids and last_ids[5] in ids
        seq, off, idx = id_parts(ids[7])
        assert seq >= 1 and off >= R.SEG_HEADER and idx < 1000
        # after= an id: exactly what follows, also across segment boundaries
        for k in range(len(ids)):  # inside a frame, at its end, at a segment's end
            assert [e[0] for e in r.entries(after=ids[k])] == ids[k + 1 :]
        assert [e[0] for e in Ring(d, budget=16384, segment_bytes=600).entries()] == ids
    finally:
        _rmtree(d)


def test_bad_parameters_and_clear():
    d = _tmpdir()
    try:
        raises(ValueError, Ring, d, 1000, 1024)
        raises(ValueError, Ring, d, 1 << 20, 100)
        r = Ring(d)
        for b in _batches(3):
            r.append(b)
        r.clear()
        assert list(r.samples()) == [] and os.listdir(d) == []
        r.append(_batches(1)[0])
        assert len(list(Ring(d).samples())) == 3
    finally:
        _rmtree(d)


def test_write_failure_starts_new_segment():
    d = _tmpdir()
    try:
        r = Ring(d)
        for b in _batches(3):
            r.append(b)
        good = list(r.samples())
        r.path = d + "/missing"  # simulate a failing write
        raises(OSError, r.append, _batches(1, start=3)[0])
        r.path = d
        r.append(_batches(1, start=4)[0])
        assert list(r.samples()) == good + _batches(1, start=4)[0]
    finally:
        _rmtree(d)


def test_interleaved_scans_share_the_read_buffer():
    # readers interleave (an export streaming while the MQTT outbox reads): each gets its data
    d = _tmpdir()
    try:
        r = Ring(d, budget=1 << 16, segment_bytes=2048, chunk=64)
        bs = _batches(120)
        for b in bs:
            r.append(b)
        want = _flat(bs)
        a = r.samples()
        b = r.entries()
        c = r.samples(meter="2")
        got_a, got_b, got_c = [], [], []
        for k in range(len(want)):
            got_a.append(next(a))
            if k % 3 == 0:
                got_c.append(next(c))
            got_b.append(next(b)[1])
            if k % 7 == 0:
                assert r.last_sample() == want[-1]  # a full scan in between
        got_c.extend(c)
        assert got_a == want and got_b == want
        assert got_c == [s for s in want if s[1] == "2"]
        assert list(a) == [] and list(b) == []
    finally:
        _rmtree(d)


def test_frames_larger_than_the_read_buffer():
    d = _tmpdir()
    try:
        r = Ring(d, budget=1 << 18, segment_bytes=8192, chunk=64)
        big = _flat(_batches(40))  # one append: a frame of several hundred bytes
        small = _batches(5, start=40)
        r.append(small[0])
        size = r.segs[-1][2]
        r.append([(T0 + 41 * 900 + k, s[1], s[2]) for k, s in enumerate(big)])
        assert r.segs[-1][2] - size > 4 * 64
        for b in small[1:]:
            r.append([(s[0] + 100 * 900, s[1], s[2]) for s in b])
        got = list(r.samples())
        assert len(got) == len(small[0]) + len(big) + 4 * 3
        assert got == list(Ring(d, budget=1 << 18, segment_bytes=8192).samples())  # 1 KiB buffer
        # interleaved with another reader while inside the large frame
        a = r.samples()
        b = r.samples()
        for _ in range(len(got)):
            assert next(a) == next(b)
        # a large frame torn at the end of the file is ignored
        name = d + "/%08d.seg" % r.segs[-1][0]
        f = open(name, "ab")
        f.write(R.frame(b"\x01" + b"\x00" * 300)[:200])
        f.close()
        assert list(Ring(d, budget=1 << 18, segment_bytes=8192, chunk=64).samples()) == got
    finally:
        _rmtree(d)


def test_append_and_rotation_while_scanning():
    d = _tmpdir()
    try:
        r = Ring(d, budget=4096, segment_bytes=1024, chunk=64)
        bs = _batches(30)
        for b in bs:
            r.append(b)
        before = list(r.samples())
        it = r.samples()
        head = [next(it) for _ in range(5)]
        more = _batches(200, start=30)
        for b in more:
            r.append(b)  # rotates the segments the scan is reading away
        rest = list(it)
        allv = _flat(bs + more)
        assert head == before[:5]
        # whatever the scan still saw is stored data, in order, and nothing is invented
        pos = [allv.index(s) for s in head + rest]
        assert pos == sorted(pos)
        # a scan of the newest segment sees what is appended after it started
        last = r.segs[-1][0]
        it = r.entries(after=(last << 32) - 1)
        first = next(it)
        r.append(_batches(1, start=230)[0])
        tail = [first] + list(it)
        assert tail[-1][1] == _batches(1, start=230)[0][-1]
    finally:
        _rmtree(d)
