"""The bus scan's results at their bound (docs/memory.md "Bounded resources"): one entry per
address answering, each detail text at most DETAIL_MAX characters, whatever a device says."""
import asyncio

from gateway.core import modbus
from gateway.services import scan


class _Line:
    """A master whose every address answers the presence probe (an exception reply)."""

    char_us = 1042

    async def read_registers(self, address, function, register, count, retries=None,
                             timeout_ms=None, pause_ms=0, tally=None):
        raise modbus.ModbusError("illegal address")


def test_scan_results_one_per_address_with_capped_details(monkeypatch):
    async def chatty(read):  # a device whose SunSpec strings fill every field, and more
        return "sunspec", "SunSpec at 40000: " + "x" * 1000

    monkeypatch.setattr(scan, "identify", chatty)
    bus = scan.BusScan(_Line(), probe_timeout_ms=1)
    bus.start(1, 247)

    async def run():
        while await bus.step():
            pass

    asyncio.run(run())
    found = bus.state()["found"]
    assert [f["address"] for f in found] == list(range(1, 248))
    assert all(len(f["detail"]) == scan.DETAIL_MAX for f in found)
    assert found[0]["detail"].startswith("SunSpec at 40000: xxx")
