"""Transactions per second of our RTU master and of umodbus' host, and their event-loop stalls.

Both run as standalone scripts on the MicroPython unix port (bench/mp_rtu.py) against the same
emulated line (bench/rtu_line.py): 4 meters, one of them silent (SDM630 at 1, SDM120 at 2 and 3,
a silent SDM630 at 4); the requests are those the gateway plans for these meters (10 reads, 2 of
them to the silent one), sent round robin for ``seconds``.

Timeout policy: umodbus' host has no timeout setting: it polls the UART 119 times, 3.5
character times apart (~477 ms at 9600 baud, ~0.51 s measured per unanswered request) and
never retries. Ours gets its default per-attempt timeout, 500 ms, and no retry (its default is
one retry; umodbus cannot). A finished transaction = answered or failed (timeout, bad frame).

Stall: the same scripts with an asyncio task that sleeps 5 ms at a time; the gaps between its
wake-ups show how long each master keeps the loop from every other task (web, Wi-Fi, watchdog).
"""
import asyncio

from . import wire
from .rtu_line import EmulatedLine, percentile, umodbus_available

DEVICES = [
    {"type": "sdm630", "address": 1, "name": "tps-1"},
    {"type": "sdm120", "address": 2, "name": "tps-2"},
    {"type": "sdm120", "address": 3, "name": "tps-3"},
    {"type": "sdm630", "address": 4, "name": "tps-4-silent", "silent": True},
]
TIMEOUT_MS = 500
MONITOR_MS = 5


def requests():
    return wire.cycle_requests(wire.scenario_meters(DEVICES))


def meters():
    return [(d["address"], d["type"]) for d in DEVICES]


async def _measure(seconds, stall_seconds, modes):
    out = {}
    async with EmulatedLine(DEVICES) as line:
        for mode in modes:
            r = await line.run_mp(mode, requests(), seconds, TIMEOUT_MS, 0, 0, meters())
            r["silences"] = line.silence_report()
            out[mode] = r
        for mode in modes:
            if stall_seconds:
                r = await line.run_mp(mode, requests(), stall_seconds, TIMEOUT_MS, 0, MONITOR_MS)
                line.silence_report()
                out[mode]["gaps_ms"] = r["gaps_ms"]
    return out


def _tps(r):
    return r["transactions"] / r["seconds"]


def run(seconds=15, stall_seconds=8):
    if not umodbus_available():
        raise RuntimeError("umodbus is not in .venv/mp-lib: run `make setup`")
    res = asyncio.run(_measure(seconds, stall_seconds, ("ours", "umodbus")))
    gw = asyncio.run(_measure(seconds, 0, ("gateway",)))["gateway"]
    ours, theirs = res["ours"], res["umodbus"]
    figures = {
        # the gateway as it polls (its Poller: the silent meter backs off) vs umodbus polling all
        "bus_tps_vs_umodbus": round(_tps(gw) / _tps(theirs), 3),
        "bus_tps_gateway": round(_tps(gw), 2),
        # the bare masters with the same timeout and no retry, round robin over every meter
        "bus_tps_master_vs_umodbus": round(_tps(ours) / _tps(theirs), 3),
        "bus_tps_ours": round(_tps(ours), 2),
        "bus_tps_umodbus": round(_tps(theirs), 2),
        "bus_tps_window_s": seconds,
        "bus_tps_ours_answered_ms": round(ours["answered_ms"], 1),
        "bus_tps_umodbus_answered_ms": round(theirs["answered_ms"], 1),
        "bus_tps_ours_timeout_ms": round(ours["failed_ms"] or 0, 1),
        "bus_tps_umodbus_timeout_ms": round(theirs["failed_ms"] or 0, 1),
        "bus_silences_short_ours": ours["silences"]["short"],
        "bus_silences_short_umodbus": theirs["silences"]["short"],
        "bus_silences_ours": ours["silences"]["silences"],
        "bus_silences_umodbus": theirs["silences"]["silences"],
        "bus_silence_min_ms_ours": ours["silences"]["min_ms"],
        "bus_silence_min_ms_umodbus": theirs["silences"]["min_ms"],
    }
    if stall_seconds:
        for name, r in (("ours", ours), ("umodbus", theirs)):
            gaps = r["gaps_ms"] or [0.0]
            figures["loop_stall_max_ms_" + name] = round(max(gaps), 1)
            figures["loop_stall_p95_ms_" + name] = round(percentile(gaps, 95), 1)
            figures["loop_stall_p50_ms_" + name] = round(percentile(gaps, 50), 1)
            figures["loop_wakeups_" + name] = len(gaps)
    return figures
