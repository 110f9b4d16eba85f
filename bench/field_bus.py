"""Field bus figures (issue 18): what dead meters cost, and how long a bus scan takes.

``dead_meters``: `dingate emulate` with the 32 meters of scenarios/bench32.json (4 of them dead:
silent), 9600 8N1, default bus settings but ``interval_ms`` 100 (cycles back to back). Once the
dead meters have reached their longest back-off (3 probes after going offline), the mean cycle
time over ``window`` cycles (elapsed time ÷ cycles, probes included; the back-off cap is 32
cycles, so a 32-cycle window holds one probe of each dead meter) is measured. The same is measured
on a second emulator with only the 28 live meters. ``bus_dead_meter_cost`` = the first ÷ the
second (goal <= 1.05). The two runs see different host load, so the same run's own view is given
too: ``bus_dead_probe_time_share``, the line time of the dead meters' probes in the window
(requests counted by the gateway, each a whole 500 ms timeout) over the window's time.

``bus_scan``: 6 devices on the emulated line at 9600 8N1 (2 SDM630, 2 SDM120, a battery and a
generic device; the 4 meters configured and polled every second), then POST /api/bus/scan
1..247 and GET /api/bus/scan every 0.5 s until it is over: ``bus_scan_s`` (goal <= 60 s while
polling goes on), what it found, and the poll cycle time during the scan.
"""
import time

from dingate.testing.poll import wait_until
from gateway.core import profiles

from . import emulated as G
from . import wire

OFFLINE_AFTER = 3  # the poller's default


def _mean_cycle(gw, cycles, timeout):
    """(ms per cycle, cycles seen) over at least ``cycles`` cycles, from /api/bus."""
    first = gw.bus()["cycles"]
    wait_until(lambda: gw.bus()["cycles"] != first, timeout, "a cycle boundary")  # start on one
    t0 = time.monotonic()
    start = gw.bus()["cycles"]

    def done():
        now = gw.bus()["cycles"]
        return now >= start + cycles and ((time.monotonic() - t0) * 1000 / (now - start),
                                          now - start)

    return wait_until(done, timeout, "%d poller cycles" % cycles,
                      detail=lambda: "cycles: %d" % (gw.bus()["cycles"] - start))


def run_dead(window=32, heapsize=None, strict=True):
    world = G.load_scenario("bench32.json")
    dead = [d["address"] for d in world["devices"] if d.get("silent")]
    live_world = dict(world, devices=[d for d in world["devices"] if not d.get("silent")])
    with G.Gateway(live_world, heapsize, strict) as gw:  # the 28 live ones alone
        gw.login()
        gw.add_meters(wire.scenario_meters(live_world["devices"]))
        gw.api("PUT", "/api/bus", {"interval_ms": 100})
        G.wait_cycles(gw, 2, 60)
        live, n2 = _mean_cycle(gw, window, window * 10 + 60)
        gw.check_heap()
    with G.Gateway(world, heapsize, strict) as gw:
        gw.login()
        gw.add_meters(wire.scenario_meters(world["devices"]))
        gw.api("PUT", "/api/bus", {"interval_ms": 100})
        ids = [m["id"] for m in gw.api("GET", "/api/meters").json() if m["address"] in dead]
        t0 = time.monotonic()
        ms = []

        def backed_off():
            ms[:] = [gw.api("GET", "/api/meters/" + i).json() for i in ids]
            return _backed_off(ms)

        # warm-up: every dead meter at its longest back-off
        wait_until(backed_off, 900, "the dead meters backed off", 5, detail=lambda: str([
            (m["address"], m.get("status"), m.get("counters")) for m in ms]))
        warm_s = time.monotonic() - t0
        before = _dead_requests(gw, ids)
        with_dead, n1 = _mean_cycle(gw, window, window * 10 + 60)
        probes = _dead_requests(gw, ids) - before
        gw.check_heap()
    # the same run's own view, free of the load drifting between two runs: the line time the
    # dead meters' probes took (each a whole timeout) over the window's time
    share = probes * _probe_ms() / (with_dead * n1)
    return {
        "bus_dead_meter_cost": round(with_dead / live, 4),
        "bus_dead_cycle_ms_32_with_4_dead": round(with_dead, 1),
        "bus_dead_cycle_ms_28_live": round(live, 1),
        "bus_dead_window_cycles": n1,
        "bus_dead_live_window_cycles": n2,
        "bus_dead_probes_in_window": probes,
        "bus_dead_probe_time_share": round(share, 4),
        "bus_dead_warmup_s": round(warm_s, 1),
    }


def _dead_requests(gw, ids):
    return sum((gw.api("GET", "/api/meters/" + i).json().get("counters") or {}).get("requests", 0)
               for i in ids)


def _probe_ms():
    """Line time of one unanswered probe: the request on the wire, the bus timeout."""
    return 8 * 1000 * 10 / 9600 + 500


def _backed_off(dead_meters, attempts=2):
    """True once every dead meter is offline and was probed 3 times since (its back-off is then
    at the cap): ``attempts`` requests in each of the first OFFLINE_AFTER cycles, 1 a probe."""
    for m in dead_meters:
        sent = (m.get("counters") or {}).get("requests", 0)
        if m.get("status") != "offline" or sent < OFFLINE_AFTER * attempts + 3:
            return False
    return True


def run_scan(heapsize=None, strict=True):
    world = G.load_scenario("bench32.json")
    devs = [d for d in world["devices"] if d["type"] == "sdm630"][:2]
    devs += [d for d in world["devices"] if d["type"] == "sdm120"][:2]
    for d in devs:
        d["silent"] = False
    devs += [{"type": "battery", "address": 100, "name": "Battery"},
             {"type": "generic", "address": 200, "name": "Generic"}]
    world["devices"] = devs
    with G.Gateway(world, heapsize, strict) as gw:
        gw.login()
        gw.add_meters(wire.scenario_meters(devs))
        G.wait_cycles(gw, 2, 60)
        before = gw.bus()
        t0 = time.monotonic()
        r = gw.api("POST", "/api/bus/scan", {"from": 1, "to": 247})
        if r.status_code != 202:
            raise RuntimeError("POST /api/bus/scan: %d %s" % (r.status_code, r.text))

        def over():
            state = gw.api("GET", "/api/bus/scan").json()
            return not state["running"] and state

        state = wait_until(over, 600, "the end of the scan", 0.5)
        took = time.monotonic() - t0
        after = gw.bus()
        gw.check_heap()
    found = {f["address"]: f["profile"] for f in state["found"]}
    want = {d["address"] for d in devs}
    cycles = after["cycles"] - before["cycles"]
    return {
        "bus_scan_s": round(took, 1),
        "bus_scan_found": len(found),
        "bus_scan_missed": len(want - set(found)),
        "bus_scan_identified": sum(1 for d in devs if found.get(d["address"]) == d["type"]),
        # the emulated battery and generic device are no library device: nothing to name them by
        "bus_scan_identifiable": sum(1 for d in devs if profiles.exists(d["type"])
                                     and d["type"] not in profiles.BUILTIN),
        "bus_scan_poll_cycles_during": cycles,
        "bus_scan_poll_cycle_ms_during": round(took * 1000 / cycles, 1) if cycles else None,
    }
