"""Poll-cycle time of 32 meters against the wire-time limit of the same requests.

Ours: `dingate emulate` with the 32 meters of scenarios/bench32.json, all of them alive (its
"silent" flags removed), 9600 8N1; the meters are created through POST /api/meters as an
installer would; after two settling cycles, GET /api/bus "cycle_ms" (the poller's own
ticks_ms around one pass over every meter) is read every 1.5 s until ``cycles`` distinct cycles
are seen, and averaged. Nothing else talks to the gateway meanwhile. The limit is bench/wire.py's (requests planned by the firmware's
own core). The peer: pymodbus' async serial client sending the same requests on the same kind of
emulated line (bench/pymodbus_peer.py), ``peer_cycles`` cycles.
"""
import asyncio
import time

from . import emulated as G
from . import wire
from .rtu_line import EmulatedLine


def world_all_alive():
    world = G.load_scenario("bench32.json")
    world["devices"] = [dict(d, silent=False) for d in world["devices"]]
    return world


def limits():
    world = world_all_alive()
    meters = wire.scenario_meters(world["devices"])
    requests = wire.cycle_requests(meters)
    return world, meters, requests, wire.breakdown(requests)


def run_gateway(cycles=5, heapsize=None, strict=True):
    world, meters, requests, lim = limits()
    samples = {}
    heap = []
    t0 = time.monotonic()
    with G.Gateway(world, heapsize, strict) as gw:
        gw.login()
        gw.add_meters(meters)
        configured = time.monotonic() - t0
        G.wait_cycles(gw, 2, 60)  # the cycle running while meters were added is partial
        deadline = time.monotonic() + cycles * 10 + 20
        while len(samples) < cycles and time.monotonic() < deadline:
            # one light request every ~1.5 s (/api/bus keeps only the last cycle's time)
            b = gw.bus()
            if b["cycles"] not in samples and b["cycle_ms"]:
                samples[b["cycles"]] = b["cycle_ms"]
            time.sleep(1.5)
        heap.append(gw.status()["mem_peak"])
        line = gw.line_stats()
        boot = gw.boot_mem()
        gw.check_heap()
        mem_errors, busy = gw.memory_errors(), gw.busy_retries
    if len(samples) < cycles:
        raise RuntimeError("only %d poll cycles observed" % len(samples))
    # the first sample may be a cycle that was already running: keep the last `cycles`
    vals = [samples[k] for k in sorted(samples)][-cycles:]
    mean_ms = sum(vals) / len(vals)
    limit_ms = lim["limit_s"] * 1000
    turn_ms = lim["turnaround_s"] * 1000
    return {
        "bus_cycle_vs_wire": round(mean_ms / limit_ms, 4),
        "bus_cycle_ms": round(mean_ms, 1),
        "bus_cycle_ms_min": min(vals),
        "bus_cycle_ms_max": max(vals),
        "bus_cycle_samples": len(vals),
        "bus_wire_limit_ms": round(limit_ms, 1),
        "bus_cycle_requests": lim["requests"],
        "bus_cycle_bytes": lim["request_bytes"] + lim["response_bytes"],
        "bus_device_turnaround_ms": round(turn_ms, 1),
        "bus_cycle_vs_wire_plus_turnaround": round(mean_ms / (limit_ms + turn_ms), 4),
        "bus_cycle_late_responses": line.get("late_responses"),
        "bus_cycle_collisions": line.get("collisions"),
        "bus_cycle_setup_s": round(configured, 1),
        "bus_cycle_memory_errors": mem_errors,
        "bus_cycle_api_busy_retries": busy,
    }, {"heap_samples": heap, "boot_mem": boot}


def run_peer(cycles=3):
    world, _meters, requests, lim = limits()

    async def go():
        async with EmulatedLine(world["devices"], world.get("line")) as line:
            res = await line.pymodbus_cycle(requests, cycles)
            return res, line.silence_report()

    res, sil = asyncio.run(go())
    vals = res["cycles_s"]
    mean_s = sum(vals) / len(vals)
    return {
        "pymodbus_bus_cycle_vs_wire": round(mean_s / lim["limit_s"], 4),
        "pymodbus_bus_cycle_ms": round(mean_s * 1000, 1),
        "pymodbus_bus_cycle_failed": res["failed"],
        "pymodbus_silences_short": sil["short"],
        "pymodbus_silences": sil["silences"],
        "pymodbus_silence_min_ms": sil["min_ms"],
        "pymodbus_version": res["client"].split()[-1],
    }
