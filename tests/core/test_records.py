"""Sample records: varints, fixed point, segment coding, frames and checksums."""

from _assert import raises

from gateway.core import records as R

T0 = 1735689600  # 2025-01-01 00:00 UTC


def _roundtrip(samples, base=T0):
    st = R.SegState(base)
    payloads = R.encode(st, samples)
    st2 = R.SegState(base)
    out = []
    for p, n in payloads:
        got = R.decode(st2, p)
        assert len(got) == n
        out.extend(got)
    return out, payloads


def _norm(samples):
    """Comparable form: samples of one timestamp come back ordered by channel, not input."""
    return sorted([(s[0], s[1], sorted(s[2].items())) for s in samples])


def test_zigzag_and_varint():
    for n in (0, 1, -1, 2, -2, 63, -64, 64, 1 << 40, -(1 << 40), 123456789):
        assert R.unzz(R.zz(n)) == n
        b = bytearray()
        R.put_varint(b, R.zz(n))
        u, i = R.get_varint(b, 0)
        assert i == len(b) and R.unzz(u) == n
    assert R.zz(0) == 0 and R.zz(-1) == 1 and R.zz(1) == 2
    b = bytearray()
    R.put_varint(b, 127)
    assert len(b) == 1
    R.put_varint(b, 128)
    assert len(b) == 3
    raises(IndexError, R.get_varint, b"\x80\x80", 0)


def test_fixed_point_and_text():
    assert R.decimals("import_kwh") == 3 and R.decimals("power_w") == 0
    assert R.decimals("voltage_l1") == 1 and R.decimals("gas_m3") == 3
    assert R.fixed("import_kwh", 12.3456) == 12346
    assert R.fixed("import_kwh", 7) == 7000
    assert R.fixed("power_w", -1234.6) == -1235
    assert R.fixed("import_kwh", float("nan")) is None
    assert R.fixed("import_kwh", float("inf")) is None
    assert R.fixed("import_kwh", "12") is None
    assert R.fixed("import_kwh", True) is None
    assert R.text("import_kwh", 12345) == "12.345"
    assert R.text("import_kwh", 12340, ",") == "12,34"
    assert R.text("import_kwh", 12000) == "12"
    assert R.text("import_kwh", -3) == "-0.003"
    assert R.text("power_w", -42) == "-42"
    assert R.text("voltage_l1", 2301) == "230.1"
    assert R.number("import_kwh", 1500) == 1.5
    assert R.number("power_w", 17) == 17
    assert R.is_counter("import_kwh") and R.is_counter("gas_m3") and not R.is_counter("power_w")


def test_sample_from_reading():
    s = R.sample(
        T0 + 0.7, 3, {"import_kwh": 1.5, "power_w": 20.4, "name": "x", "bad": float("nan")}
    )
    assert s == (T0, "3", {"import_kwh": 1500, "power_w": 20})
    s = R.sample(T0, "3", {"import_kwh": 1.5, "power_w": 2}, quantities=("import_kwh",))
    assert s[2] == {"import_kwh": 1500}


def test_sample_json_is_exact():
    s = (T0, "3", {"import_kwh": 123456789, "power_w": -5, "voltage_l1": 2300})
    txt = R.sample_json(s)
    assert (
        txt == '{"meter":"3","ts":1735689600,"import_kwh":123456.789,"power_w":-5,"voltage_l1":230}'
    )
    import json

    assert json.loads(txt)["import_kwh"] == 123456.789
    assert R.sample_json((T0, 'a"b', {}), {"k": "v"}) == '{"meter":"a\\"b","ts":1735689600,"k":"v"}'


def test_roundtrip_many_groups():
    samples = []
    imp = {"1": 1000000, "2": 5, "3": 0}
    for k in range(50):
        ts = T0 + k * 900
        for m in ("1", "2", "3"):
            imp[m] += (k * 37 + len(m)) % 300
            samples.append((ts, m, {"import_kwh": imp[m], "export_kwh": 0 if m != "2" else k}))
    out, payloads = _roundtrip(samples)
    assert _norm(out) == _norm(samples)
    assert len(payloads) == 1


def test_roundtrip_irregular_channels():
    samples = [
        (T0, "a", {"import_kwh": 10, "power_w": 5}),
        (T0, "b", {"import_kwh": -7}),
        (T0 + 10, "a", {"import_kwh": 10}),  # power missing: masked
        (T0 + 10, "b", {"import_kwh": -7, "gas_m3": 123456}),  # new quantity: redefinition
        (T0 + 20, "c", {"weird_q": 1, "soc_pct": 555}),  # new channel, unknown quantity
        (T0 + 20, "a", {"import_kwh": 11, "power_w": -5}),
        (T0 + 20, "a", {"import_kwh": 12, "power_w": -6}),  # same ts, same meter: new group
        (T0 - 5000, "b", {"import_kwh": 1 << 45}),  # time going back, huge value
        (T0 + 30, "b", {}),  # no values at all
    ]
    out, _ = _roundtrip(samples)
    assert _norm(out) == _norm(samples)
    assert [x[0] for x in out] == [x[0] for x in samples[:5]] + [T0 + 20] * 2 + [T0 - 5000, T0 + 30]


def test_decode_filtered_by_meter():
    samples = [(T0 + k, m, {"import_kwh": k * 10 + len(m)}) for k in range(20) for m in ("x", "yy")]
    st = R.SegState(T0)
    p = R.encode(st, samples)[0][0]
    got = R.decode(R.SegState(T0), p, meter="yy")
    assert got == [s for s in samples if s[1] == "yy"]


def test_zero_map_saves_bytes():
    # 32 channels, export always 0 and half the imports unchanged: a zero bitmap is used
    samples = []
    for k in range(20):
        for m in range(32):
            samples.append(
                (
                    T0 + k * 900,
                    str(m),
                    {"import_kwh": 1000 + (k * 200 if m % 2 else 0), "export_kwh": 0},
                )
            )
    out, payloads = _roundtrip(samples)
    assert _norm(out) == _norm(samples)
    size = sum(len(p) for p, _ in payloads)
    # first group: 32 definitions + absolute values; then steady groups of 16 two-byte deltas,
    # an 8-byte bitmap and 3 bytes of group head (no per-value byte for the 48 unchanged ones)
    assert size < 360 + 19 * (16 * 2 + 8 + 3), size


def test_compact_realistic_size():
    # 32 channels x 96 quarter hours of import/export counters with realistic increments
    seed = [12345]

    def rnd(n):
        seed[0] = (seed[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return seed[0] % n

    imp = [rnd(10000000) for _ in range(32)]
    exp = [rnd(1000000) if m < 6 else 0 for m in range(32)]
    st = R.SegState(T0)
    total = 0
    readings = 0
    for k in range(96):
        batch = []
        day = 28 <= k < 72
        for m in range(32):
            if m < 6 and day:
                exp[m] += rnd(1200)
            else:
                imp[m] += rnd(400) if m < 30 else rnd(4000)
            batch.append((T0 + k * 900, str(m), {"import_kwh": imp[m], "export_kwh": exp[m]}))
        for p, _n in R.encode(st, batch):
            total += len(R.frame(p))
        readings += 64
    per = total / readings
    assert per < 1.9, per  # 90 days x 32 channels x 2 counters in 1 MiB


def test_frames_and_checksums():
    p = b"\x01\x00hello"
    f = R.frame(p)
    assert len(f) == len(p) + R.FRAME_OVERHEAD
    r = R.check_frame(f, 0)
    assert f[r[0] : r[1]] == p and r[2] == len(f)
    assert R.check_frame(f[:-1], 0) is None  # incomplete
    assert R.check_frame(f[:2], 0) is None
    for k in range(len(f)):
        bad = bytearray(f)
        bad[k] ^= 0x10
        assert R.check_frame(bytes(bad), 0) in (False, None), k
    two = f + f
    assert R.check_frame(two, len(f))[2] == 2 * len(f)
    raises(ValueError, R.frame, b"x" * 70000)


def test_segment_header():
    h = R.seg_header(7, T0)
    assert len(h) == R.SEG_HEADER
    assert R.parse_seg_header(h) == (7, T0)
    bad = bytearray(h)
    bad[5] ^= 1
    assert R.parse_seg_header(bytes(bad)) is None
    assert R.parse_seg_header(h[:10]) is None
    assert R.parse_seg_header(b"XXXX" + h[4:]) is None


def test_crc32_standard():
    assert R.crc32(b"123456789") == 0xCBF43926
    assert R.crc32(b"6789", R.crc32(b"12345")) == 0xCBF43926


def test_decode_rejects_garbage():
    st = R.SegState(T0)
    p = R.encode(st, [(T0, "m", {"import_kwh": 5})])[0][0]
    raises(ValueError, R.decode, R.SegState(T0), b"\x09" + p[1:])
    raises(ValueError, R.decode, R.SegState(T0), p + b"\x00")
    for cut in range(1, len(p)):
        try:
            R.decode(R.SegState(T0), p[:cut])
            ok = False
        except (ValueError, IndexError):
            ok = True
        assert ok, cut


def test_meters_of_one_profile_share_their_channel_shape():
    """The active segment's state stays on the heap between flushes: 28 meters of a few
    profiles keep one tuple of quantities and decimals per profile, on both sides."""
    same = {"import_kwh": 1500, "power_w": 20}
    other = {"import_kwh": 2000, "voltage_v": 2301}
    samples = [(T0 + 60, "m%d" % i, dict(same if i % 2 else other)) for i in range(6)]
    st = R.SegState(T0)
    payloads = R.encode(st, samples)
    st2 = R.SegState(T0)
    for p, _n in payloads:
        R.decode(st2, p)
    for s in (st, st2):
        assert len(s.meter) == 6 and len(s._shapes) == 2
        assert s.qs[1] is s.qs[3] is s.qs[5] and s.dec[0] is s.dec[2] is s.dec[4]
        assert s.qs[0] is not s.qs[1] and s.prev[1] is not s.prev[3]
    got, _ = _roundtrip(samples)
    assert _norm(got) == _norm(samples)
