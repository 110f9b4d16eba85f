"""Property test of the exact decimal text of readings (CPython + hypothesis): what CSV and
JSON exports and the API write is the stored fixed-point value exactly, checked with Python's
decimal module, never in exponent notation (French Excel reads "1e-05" as text)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gateway.core import quantities as Q

QUANTS = sorted(set(Q.MODBUS_TCP_ORDER) | {"soc_pct", "gas_m3", "custom_q", "battery_v"})


@given(st.sampled_from(QUANTS), st.integers(-(10 ** 18), 10 ** 18), st.sampled_from([".", ","]))
def test_text_is_the_fixed_point_value_exactly(q, i, point):
    s = Q.text(q, i, point)
    assert "e" not in s.lower() and (point == "." or "." not in s)
    assert Decimal(s.replace(",", ".")) == Decimal(i).scaleb(-Q.decimals(q))
    assert Q.fixed(q, Q.number(q, i)) == i or abs(i) > 2 ** 52  # back through a float


@given(st.sampled_from(QUANTS), st.floats(-1e12, 1e12))
def test_a_reading_is_rounded_to_its_quantity_s_resolution(q, v):
    i = Q.fixed(q, v)
    d = Q.decimals(q)
    assert abs(Decimal(Q.text(q, i)) - Decimal(v)) <= Decimal(1).scaleb(-d) / 2 + Decimal(
        abs(v)) * Decimal(2) ** -50
