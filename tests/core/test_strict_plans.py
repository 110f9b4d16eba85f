"""Plans for strict devices (registers.split / ranges / assign) and round_value (issue 18)."""
import struct

from gateway.core import profiles, registers
from gateway.core.quantities import round_value


def spec(q, reg, type_="f32", fc=4):
    return {"quantity": q, "function": fc, "register": reg, "type": type_, "word_order": "big",
            "scale": 1, "unit": ""}


def f32(x):
    return struct.unpack(">f", struct.pack(">f", x))[0]


def test_split_gives_gap_free_blocks_with_the_same_specs():
    specs = [spec("a", 0), spec("b", 2), spec("c", 6), spec("d", 7, "u16"), spec("e", 12)]
    (block,) = registers.plan(specs, max_gap=10)
    assert block[1:3] == (0, 14)
    parts = registers.split(block)
    assert [(p[0], p[1], p[2]) for p in parts] == [(4, 0, 4), (4, 6, 2), (4, 12, 2)]
    assert [[(o, s["quantity"]) for o, s in p[3]] for p in parts] == [
        [(0, "a"), (2, "b")], [(0, "c"), (1, "d")], [(0, "e")]]
    assert registers.split(parts[0]) == [parts[0]]  # already gap-free: itself


def test_split_keeps_overlapping_values_together():
    specs = [spec("a", 0), spec("b", 1, "u16"), spec("c", 5, "u16")]
    parts = registers.split(registers.plan(specs, max_gap=10)[0])
    assert [(p[1], p[2]) for p in parts] == [(0, 2), (5, 1)]


def test_ranges_and_assign_rebuild_a_learned_plan():
    specs = profiles.registers({"profile": "sdm120"})
    learned = []
    for b in registers.plan(specs, 10, 40):
        learned.extend(registers.split(b))
    kept = registers.ranges(learned)
    rebuilt = registers.assign(specs, kept)
    assert registers.ranges(rebuilt) == kept
    assert sorted(s["quantity"] for b in rebuilt for _o, s in b[3]) == sorted(
        s["quantity"] for s in specs)
    # a spec no stored range holds gets a gap-free block of its own; empty ranges go
    more = specs + [spec("extra", 0x200)]
    rebuilt = registers.assign(more, kept + [[3, 0x500, 2]])
    assert registers.ranges(rebuilt) == kept + [[4, 0x200, 2]]


def test_extract_rounds_to_the_device_resolution():
    words = []
    for v in (0.97, 12873.4):
        words += list(struct.unpack(">2H", struct.pack(">f", v)))
    words += [2301]
    block = registers.plan([spec("pf", 0), spec("kwh", 2),
                            {"quantity": "v", "function": 4, "register": 4, "type": "u16",
                             "word_order": "big", "scale": 0.1, "unit": "V"}])[0]
    out = registers.extract(block, words, {})
    assert out == {"pf": 0.97, "kwh": 12873.4, "v": 230.1}
    assert repr(out["pf"]) == "0.97" and repr(out["kwh"]) == "12873.4"


def test_round_value():
    assert round_value(f32(49.98)) == 49.98
    assert round_value(f32(-850.25)) == -850.25
    assert round_value(0.0) == 0.0
    assert round_value(7, "u16", 1) == 7 and isinstance(round_value(7, "u16", 1), int)
    assert round_value(123456 * 0.001, "s32", 0.001) == 123.456
    nan = float("nan")
    assert round_value(nan) != round_value(nan)
