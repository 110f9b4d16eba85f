"""Property tests of the register codec and the read planner (CPython + hypothesis): values
decoded as pymodbus (an independent implementation) decodes them, in both word orders; and
plans that read every register asked for, within Modbus' 125 registers a request, in as few
requests as the gaps allow."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient

from gateway.core import registers as R

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PYMODBUS = {"u16": "UINT16", "s16": "INT16", "u32": "UINT32", "s32": "INT32", "f32": "FLOAT32",
            "u64": "UINT64"}
word = st.integers(0, 0xFFFF)


@FAST
@given(st.sampled_from(sorted(R.TYPES)), st.sampled_from(["big", "little"]),
       st.lists(word, min_size=4, max_size=4), st.integers(0, 3))
def test_decode_agrees_with_pymodbus(type_, order, regs, offset):
    n = R.TYPES[type_]
    offset = min(offset, 4 - n)
    got = R.decode(regs, type_, order, 1, offset)
    want = ModbusTcpClient.convert_from_registers(
        regs[offset:offset + n], getattr(ModbusTcpClient.DATATYPE, PYMODBUS[type_]), order)
    if isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want, (regs, got, want)
    if not (isinstance(got, float) and math.isnan(got)):  # and encodes back to its registers
        assert R.encode(got, type_, order) == regs[offset:offset + n]


spec = st.builds(lambda f, r, t: {"function": f, "register": r, "type": t,
                                  "quantity": "q%d_%d" % (f, r)},
                 st.sampled_from([3, 4]), st.integers(0, 0xFFFF - 4) | st.integers(0, 300),
                 st.sampled_from(sorted(R.TYPES)))


@FAST
@given(st.lists(spec, max_size=40, unique_by=lambda s: s["quantity"]), st.integers(0, 40),
       st.integers(1, 125))
def test_plans_read_everything_within_the_limits(specs, max_gap, max_count):
    blocks = R.plan(specs, max_gap, max_count)
    seen = []
    for fc, start, count, items in blocks:
        assert 1 <= count <= max_count or count == R.TYPES[items[0][1]["type"]] > max_count
        for off, s in items:
            assert s["function"] == fc and 0 <= off and off + R.TYPES[s["type"]] <= count
            assert s["register"] == start + off
            seen.append(s["quantity"])
        parts = R.split((fc, start, count, items))  # gap-free parts cover the same specs
        assert sorted(x["quantity"] for p in parts for _, x in p[3]) == sorted(
            x["quantity"] for _, x in items)
        for p in parts:  # every register of a part is one a spec asked for
            held = set(r for off, x in p[3] for r in range(off, off + R.TYPES[x["type"]]))
            assert held == set(range(p[2]))
    assert sorted(seen) == sorted(s["quantity"] for s in specs)
    # as few requests as the gaps allow: two blocks of one function next to each other are
    # apart by more than max_gap, or could not be one request
    for a, b in zip(blocks, blocks[1:]):
        if a[0] == b[0]:
            assert b[1] - (a[1] + a[2]) > max_gap or max(a[1] + a[2], b[1] + b[2]) - a[1] > max_count
