"""Value types, word orders, request planning (coalescing) and the built-in profiles."""
import struct

from _assert import approx, raises

from gateway.core import profiles, quantities, registers
from gateway.core.registers import decode, encode, extract, plan


def spec(q, reg, type_="u16", fc=3, order="big", scale=1):
    return {"quantity": q, "function": fc, "register": reg, "type": type_, "word_order": order,
            "scale": scale, "unit": ""}


# ---- types and word orders ----


def test_decode_16_bit():
    assert decode([0x1234], "u16") == 0x1234
    assert decode([0xFFFF], "u16") == 65535
    assert decode([0xFFFF], "s16") == -1
    assert decode([0x8000], "s16") == -32768
    assert decode([0x7FFF], "s16") == 32767
    assert decode([0xFFFF], "u16", "little") == 65535  # one word: order irrelevant


def test_decode_32_bit_both_word_orders():
    assert decode([0x0001, 0x0002], "u32") == 0x00010002
    assert decode([0x0002, 0x0001], "u32", "little") == 0x00010002
    assert decode([0xFFFF, 0xFFFE], "s32") == -2
    assert decode([0xFFFE, 0xFFFF], "s32", "little") == -2
    assert decode([0x8000, 0x0000], "s32") == -(2 ** 31)
    assert decode([0xFFFF, 0xFFFF], "u32") == 2 ** 32 - 1


def test_decode_f32_both_word_orders():
    hi, lo = struct.unpack(">2H", struct.pack(">f", 230.5))
    assert decode([hi, lo], "f32") == 230.5
    assert decode([lo, hi], "f32", "little") == 230.5
    assert decode([0x4366, 0x0000], "f32") == 230.0
    assert decode([0xC2C8, 0x0000], "f32") == -100.0


def test_decode_u64_both_word_orders():
    assert decode([0, 0, 0, 1], "u64") == 1
    assert decode([1, 0, 0, 0], "u64", "little") == 1
    assert decode([0x0102, 0x0304, 0x0506, 0x0708], "u64") == 0x0102030405060708
    assert decode([0x0708, 0x0506, 0x0304, 0x0102], "u64", "little") == 0x0102030405060708
    assert decode([0xFFFF] * 4, "u64") == 2 ** 64 - 1


def test_decode_with_offset_and_scale():
    regs = [9, 0x0000, 0x04D2, 7]
    assert decode(regs, "u32", "big", 1, 1) == 1234
    assert approx(decode(regs, "u32", "big", 0.01, 1), 12.34)
    assert decode(regs, "u16", "big", 10, 3) == 70
    assert decode(regs, "u16", "big", 1, 3) == 7 and isinstance(decode(regs, "u16", offset=3), int)
    assert approx(decode([0xFFF6], "s16", "big", 0.1), -1.0)


def test_decode_rejects_bad_input():
    raises(ValueError, decode, [1], "u32")
    raises(ValueError, decode, [1, 2, 3], "u64")
    raises(ValueError, decode, [1, 2], "u32", "big", 1, 1)
    raises(ValueError, decode, [1], "x16")
    raises(ValueError, decode, [1, 2], "u32", "middle")


def test_encode_decode_round_trip_every_type_and_order():
    samples = {
        "u16": (0, 1, 65535),
        "s16": (-32768, -1, 0, 32767),
        "u32": (0, 70000, 2 ** 32 - 1),
        "s32": (-(2 ** 31), -70000, 2 ** 31 - 1),
        "u64": (0, 2 ** 40 + 5, 2 ** 64 - 1),
        "f32": (0.0, -1.5, 49.75, 1e10),
    }
    for type_, values in samples.items():
        for order in registers.WORD_ORDERS:
            for v in values:
                ws = encode(v, type_, order)
                assert len(ws) == registers.words(type_)
                assert decode(ws, type_, order) == v
    assert encode(0x00010002, "u32", "little") == [2, 1]


# ---- planning ----


def test_plan_merges_contiguous_registers():
    specs = [spec("a", 0, "f32", 4), spec("b", 2, "f32", 4), spec("c", 4, "u16", 4)]
    blocks = plan(specs)
    assert len(blocks) == 1
    fc, start, count, items = blocks[0]
    assert (fc, start, count) == (4, 0, 5)
    assert [(o, s["quantity"]) for o, s in items] == [(0, "a"), (2, "b"), (4, "c")]


def test_plan_respects_max_gap():
    specs = [spec("a", 10), spec("b", 15)]  # 4 unused registers between (11..14)
    assert len(plan(specs, max_gap=3)) == 2
    blocks = plan(specs, max_gap=4)
    assert len(blocks) == 1 and blocks[0][1:3] == (10, 6)
    assert len(plan([spec("a", 10), spec("b", 11)], max_gap=0)) == 1


def test_plan_separates_functions_and_sorts():
    specs = [spec("h", 0, fc=3), spec("i", 1, fc=4), spec("h2", 1, fc=3)]
    blocks = plan(specs, max_gap=10)
    assert [(b[0], b[1], b[2]) for b in blocks] == [(3, 0, 2), (4, 1, 1)]


def test_plan_limits_request_size():
    specs = [spec("q%d" % i, 2 * i, "u32") for i in range(100)]  # 200 contiguous registers
    blocks = plan(specs)
    assert [b[2] for b in blocks] == [124, 76]  # a u32 is never split across requests
    assert max(b[2] for b in plan(specs, max_count=40)) <= 40
    assert sum(len(b[3]) for b in plan(specs, max_count=40)) == 100
    assert [b[2] for b in plan([spec("a", 0), spec("b", 124)], max_gap=200)] == [125]
    assert len(plan([spec("a", 0), spec("b", 125)], max_gap=200)) == 2
    assert [b[2] for b in plan([spec("a", 0), spec("b", 124)], 200, 500)] == [125]


def test_plan_overlapping_specs():
    specs = [spec("whole", 0, "u32"), spec("high", 0, "u16"), spec("low", 1, "u16")]
    blocks = plan(specs)
    assert len(blocks) == 1 and blocks[0][2] == 2
    out = extract(blocks[0], [1, 2], {})
    assert out == {"whole": 0x10002, "high": 1, "low": 2}


def test_plan_rejects_bad_specs():
    raises(ValueError, plan, [spec("a", 0, fc=1)])
    raises(ValueError, plan, [spec("a", 0xFFFF, "u32")])
    assert plan([]) == []


def test_extract_values_by_offset_and_skips_non_finite():
    specs = [spec("v", 0, "f32", 4), spec("nan", 2, "f32", 4), spec("n", 4, "s16", 4, scale=2)]
    block = plan(specs)[0]
    regs = encode(230.0, "f32") + [0x7FC0, 0] + [0xFFFF]
    assert extract(block, regs, {}) == {"v": 230.0, "n": -2}
    regs = encode(1.0, "f32") + [0x7F80, 0] + [1]  # +inf
    assert extract(block, regs, {}) == {"v": 1.0, "n": 2}
    raises(ValueError, extract, block, regs[:4], {})


# ---- profiles ----


def test_eastron_register_maps():
    sdm630 = dict((s["quantity"], s) for s in profiles.registers({"profile": "sdm630"}))
    expect = {"voltage_l1": 0x00, "voltage_l2": 0x02, "voltage_l3": 0x04, "current_l1": 0x06,
              "current_l2": 0x08, "current_l3": 0x0A, "power_l1": 0x0C, "power_l2": 0x0E,
              "power_l3": 0x10, "power_w": 0x34, "apparent_va": 0x38, "reactive_var": 0x3C,
              "power_factor": 0x3E, "frequency_hz": 0x46, "import_kwh": 0x48, "export_kwh": 0x4A}
    assert dict((q, s["register"]) for q, s in sdm630.items()) == expect
    sdm120 = dict((s["quantity"], s["register"]) for s in profiles.registers({"profile": "sdm120"}))
    assert sdm120 == {"voltage_l1": 0x00, "current_l1": 0x06, "power_w": 0x0C,
                      "power_factor": 0x1E, "frequency_hz": 0x46, "import_kwh": 0x48,
                      "export_kwh": 0x4A}
    for name in ("sdm120", "sdm630"):
        for s in profiles.registers({"profile": name}):
            assert s["function"] == 4 and s["type"] == "f32"
            assert s.get("word_order", "big") == "big" and s.get("scale", 1) == 1
            assert quantities.known(s["quantity"])


def test_eastron_plans_are_few_requests():
    m = {"profile": "sdm630"}
    blocks = plan(profiles.registers(m), 10, profiles.max_count(m))
    assert [(b[0], b[1], b[2]) for b in blocks] == [(4, 0, 18), (4, 0x34, 24)]
    m = {"profile": "sdm120"}
    blocks = plan(profiles.registers(m), 10, profiles.max_count(m))
    assert [(b[0], b[1], b[2]) for b in blocks] == [(4, 0, 14), (4, 0x1E, 2), (4, 0x46, 6)]
    assert len(plan(profiles.registers(m), 0, 40)) == 5


def test_generic_profile_uses_the_meters_registers():
    regs = [spec("x", 5)]
    assert profiles.registers({"profile": "generic", "registers": regs}) is regs
    assert profiles.max_count({"profile": "generic"}) == 125
    raises(ValueError, profiles.registers, {"profile": "nope"})
    names = profiles.names()
    assert names == sorted(names)
    for n in ("generic", "sdm120", "sdm630", "sunspec"):
        assert n in names
