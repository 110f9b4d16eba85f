"""`make bench`'s harness, briefly: the wire-time limit against hand-computed cases, and one short
window of our RTU master and umodbus' host on the emulated line (bench/rtu_line.py, mp_rtu.py),
so a broken harness fails `make test` rather than `make bench`."""
import asyncio
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import rtu_line, wire  # noqa: E402
from bench.__main__ import table  # noqa: E402

C = 10 / 9600  # one 8N1 character at 9600 baud


def test_wire_limit_by_hand():
    # FC4 read of 2 registers: request 8 bytes, response 5 + 4 = 9, two 3.5-char silences
    assert wire.transaction_limit(4, 2) == pytest.approx((8 + 9 + 7) * C)  # 24 chars = 25 ms
    assert wire.transaction_limit(4, 2) == pytest.approx(0.025)
    # above 19200 baud each silence is 1.75 ms
    assert wire.transaction_limit(3, 1, baud=38400) == pytest.approx(15 * 10 / 38400 + 0.0035)
    # 8E1: 11 bits a character
    assert wire.char_time(9600, "E") == pytest.approx(11 / 9600)


def test_requests_are_the_pollers_plan():
    # SDM120: 0x00..0x0D (voltage, current, power; gaps <= max_gap 10 merged), 0x1E (PF),
    # 0x46..0x4B (frequency, import, export)
    reqs = wire.meter_requests({"address": 7, "profile": "sdm120"})
    assert reqs == [(7, 4, 0x00, 14), (7, 4, 0x1E, 2), (7, 4, 0x46, 6)]
    b = wire.breakdown(reqs, turnaround_s=0.003)
    assert b["request_bytes"] == 24 and b["response_bytes"] == 33 + 9 + 17
    assert b["limit_s"] == pytest.approx((24 + 59 + 3 * 7) * C)
    assert b["turnaround_s"] == pytest.approx(0.009)
    sdm630 = wire.meter_requests({"address": 1, "profile": "sdm630"})
    assert sdm630 == [(1, 4, 0x00, 18), (1, 4, 0x34, 24)]


@pytest.mark.skipif(not rtu_line.umodbus_available(), reason="umodbus not in .venv/mp-lib")
def test_short_window_ours_and_umodbus():
    devices = [{"type": "sdm120", "address": 1}, {"type": "sdm120", "address": 2, "silent": True}]
    requests = [(1, 4, 0, 14), (2, 4, 0, 14)]  # one answered, one unanswered, in turn

    async def go():
        async with rtu_line.EmulatedLine(devices) as line:
            ours = await line.run_mp("ours", requests, 1.5, 300, 0, 5)
            theirs = await line.run_mp("umodbus", requests, 1.5, 300, 0, 5)
            return ours, theirs

    ours, theirs = asyncio.run(go())
    for r in (ours, theirs):
        assert r["answered"] >= 1 and r["failed"] >= 1, r
        assert r["transactions"] == r["answered"] + r["failed"]
        assert r["gaps_ms"], r
    # umodbus blocks the loop for a whole unanswered request; ours never for long
    assert max(theirs["gaps_ms"]) > 250
    assert max(ours["gaps_ms"]) < max(theirs["gaps_ms"])
    text = table({"bus_tps_ours": 1.0, "bus_tps_umodbus": 2.0, "bus_tps_vs_umodbus": 0.5})
    assert "umodbus 2.000" in text and "0.500" in text
