"""`python -m bench [--only a,b] [--quick] [--out build/bench.json]` (see bench/__init__.py)."""
import argparse
import json
import os
import signal
import sys
import time
import traceback

from dingate import boards

from . import emulated as G

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FALLBACK_HEAP = "400k"
SECTIONS = ("bus_cycle", "bus_peer", "rtu_tps", "bus_dead", "bus_scan", "http_load", "heap_peak", "storage",
            "mqtt_fleet")
REQUIRED = ("bus_cycle_vs_wire", "bus_tps_vs_umodbus", "http_p95_ms_while_polling",
            "heap_peak_bytes", "storage_bytes_per_reading")


class Bench:
    def __init__(self, quick=False):
        self.quick = quick
        self.figures = {}
        self.notes = []
        self.failed = []
        self.times = {}
        board_arg, override = G.heap_settings()
        self.heap_override = override  # set by the user: used as it is, never replaced
        self.heap = override
        self.figures["emulator_heapsize"] = override or board_arg
        self.figures["emulator_heapsize_override"] = override

    def emulator_section(self, fn):
        """Run ``fn(heapsize, strict)``; out of heap at the board's cap -> once more with 400k
        (noted in bench.json), where a transient 503 "busy, try again" is retried and counted."""
        if self.heap_override or self.heap == FALLBACK_HEAP:
            return fn(self.heap, False)
        try:
            return fn(self.heap, True)
        except G.OutOfHeap as e:
            self.notes.append("the firmware ran out of heap at the board's cap (%s): %s; the "
                              "emulator sections ran with DINGATE_HEAPSIZE=%s"
                              % (self.figures["emulator_heapsize"], e, FALLBACK_HEAP))
            self.heap = FALLBACK_HEAP
            self.figures["emulator_heapsize"] = FALLBACK_HEAP
            self.figures["emulator_heapsize_override"] = FALLBACK_HEAP
            return fn(self.heap, False)

    def section(self, name, fn):
        t0 = time.monotonic()
        print("== %s ..." % name, flush=True)
        try:
            got = fn()
        except Exception as e:  # noqa: BLE001 - one broken section must not hide the others
            self.failed.append(name)
            self.notes.append("%s failed: %s" % (name, e))
            traceback.print_exc()
            got = {}
        dt = time.monotonic() - t0
        self.times[name] = dt
        self.figures["bench_%s_s" % name] = round(dt, 1)
        self.figures.update(got)
        print("   %s done in %.1f s" % (name, dt), flush=True)

    # --- sections
    def bus_cycle(self):
        from . import bus_cycle

        figs, extra = self.emulator_section(
            lambda heap, strict: bus_cycle.run_gateway(3 if self.quick else 5, heap, strict))
        samples = extra["heap_samples"]
        if samples:
            figs["heap_peak_bus_cycle_bytes"] = max(samples)
        return figs

    def bus_peer(self):
        from . import bus_cycle

        return bus_cycle.run_peer(2 if self.quick else 3)

    def rtu_tps(self):
        from . import rtu_tps

        return rtu_tps.run(*((6, 4) if self.quick else (15, 8)))

    def bus_dead(self):
        from . import field_bus

        return self.emulator_section(
            lambda heap, strict: field_bus.run_dead(16 if self.quick else 32, heap, strict))

    def bus_scan(self):
        from . import field_bus

        return self.emulator_section(lambda heap, strict: field_bus.run_scan(heap, strict))

    def heap_peak(self):
        """The true heap peak under the WROOM tier's load (64-bit), then in ESP32 bytes per board."""
        from . import heap, heap32

        secs = 10 if self.quick else 30
        figs = self.emulator_section(lambda h, strict: heap.run(secs, h, strict))
        tier = heap32.wroom()
        wroom = live = None
        if tier and boards.load(tier).get("features_left_out"):
            # the WROOM tier as its board file ships it (its features_left_out not built), with
            # the heap to measure it: its own cap is the budget this figure is checked against
            w = heap.run(secs, FALLBACK_HEAP, False, board=tier)
            wroom = figs["heap_peak_wroom_bytes"] = w["heap_peak_bytes"]
            figs["heap_peak_wroom_warm_bytes"] = w["heap_peak_warm_bytes"]
            live = figs["heap_live_wroom_bytes"] = w["heap_live_bytes"]
            figs["heap_wroom_load_requests_ok"] = w["heap_load_requests_ok"]
            figs["heap_wroom_load_memory_errors"] = w["heap_load_memory_errors"]
        figs.update(heap32.run(figs["heap_peak_bytes"], wroom, live))
        return figs

    def http_load(self):
        from . import http_load

        return self.emulator_section(
            lambda heap, strict: http_load.run(120 if self.quick else 300, heap, strict))

    def storage(self):
        from . import storage_bench

        return storage_bench.run()

    def mqtt_fleet(self):
        from dingate.testing.broker import MOSQUITTO

        from . import mqtt_fleet

        if not MOSQUITTO:
            raise RuntimeError("mosquitto is not installed (host/system-packages.txt)")
        if self.quick:
            return mqtt_fleet.run(gateways=5, burst=100, rate=10, seconds=2)
        return mqtt_fleet.run()


def _f(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        v = ("%.3f" % v) if abs(v) < 10 else ("%.1f" % v)
    return "%s%s" % (v, unit)


def _ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def table(f):
    """Rows: figure, dingate, peer, dingate/peer, goal."""
    g = f.get
    rows = [
        ("32-meter cycle ÷ wire limit", _f(g("bus_cycle_vs_wire")),
         "pymodbus " + _f(g("pymodbus_bus_cycle_vs_wire")),
         _f(_ratio(g("bus_cycle_vs_wire"), g("pymodbus_bus_cycle_vs_wire"))), "<= 1.15"),
        ("  cycle ms (limit %s ms + turnaround %s ms)" % (_f(g("bus_wire_limit_ms")),
                                                        _f(g("bus_device_turnaround_ms"))),
         _f(g("bus_cycle_ms")), "pymodbus " + _f(g("pymodbus_bus_cycle_ms")),
         _f(_ratio(g("bus_cycle_ms"), g("pymodbus_bus_cycle_ms"))), ""),
        ("  silences < 3.5 chars after a response", "%s/%s" % (
            _f(g("bus_silences_short_ours")), _f(g("bus_silences_ours"))),
         "umodbus %s/%s, pymodbus %s/%s" % (
             _f(g("bus_silences_short_umodbus")), _f(g("bus_silences_umodbus")),
             _f(g("pymodbus_silences_short")), _f(g("pymodbus_silences"))), "", "0"),
        ("transactions/s, 1 dead of 4 (gateway poller)", _f(g("bus_tps_gateway")),
         "umodbus " + _f(g("bus_tps_umodbus")), _f(g("bus_tps_vs_umodbus")), ">= 2"),
        ("  bare masters, same timeout, no back-off", _f(g("bus_tps_ours")),
         "umodbus " + _f(g("bus_tps_umodbus")), _f(g("bus_tps_master_vs_umodbus")), ""),
        ("  answered / unanswered transaction ms", "%s / %s" % (
            _f(g("bus_tps_ours_answered_ms")), _f(g("bus_tps_ours_timeout_ms"))),
         "umodbus %s / %s" % (_f(g("bus_tps_umodbus_answered_ms")),
                              _f(g("bus_tps_umodbus_timeout_ms"))), "", ""),
        ("event-loop stall max (5 ms ticker)", _f(g("loop_stall_max_ms_ours"), " ms"),
         "umodbus " + _f(g("loop_stall_max_ms_umodbus"), " ms"),
         _f(_ratio(g("loop_stall_max_ms_ours"), g("loop_stall_max_ms_umodbus"))), ""),
        ("event-loop stall p95", _f(g("loop_stall_p95_ms_ours"), " ms"),
         "umodbus " + _f(g("loop_stall_p95_ms_umodbus"), " ms"),
         _f(_ratio(g("loop_stall_p95_ms_ours"), g("loop_stall_p95_ms_umodbus"))), ""),
        ("32 meters with 4 dead ÷ the 28 live alone", _f(g("bus_dead_meter_cost")), "", "",
         "<= 1.05"),
        ("  cycle ms with dead / live only", "%s / %s" % (
            _f(g("bus_dead_cycle_ms_32_with_4_dead")), _f(g("bus_dead_cycle_ms_28_live"))),
         "", "", ""),
        ("  dead probes' share of the line (same run)", _f(g("bus_dead_probe_time_share")), "",
         "", ""),
        ("bus scan 1..247 at 9600, 6 devices, polling on", _f(g("bus_scan_s"), " s"),
         "found %s, identified %s of %s" % (_f(g("bus_scan_found")), _f(g("bus_scan_identified")),
                                            _f(g("bus_scan_identifiable"))),
         "", "<= 60 s"),
        ("API p95 while polling 32 (4 dead)", _f(g("http_p95_ms_while_polling"), " ms"),
         "", "", "<= 50 ms"),
        ("  p50 / max", "%s / %s ms" % (_f(g("http_p50_ms_while_polling")),
                                      _f(g("http_max_ms_while_polling"))), "", "", ""),
        ("heap peak ESP32 B, WROOM tier (32 meters, MQTT, API)", _f(g("heap_peak_bytes_esp32")),
         "budget %s" % _f(g("heap_budget_bytes_esp32-devkitc-max485")),
         _f(_ratio(g("heap_peak_bytes_esp32"), g("heap_budget_bytes_esp32-devkitc-max485"))),
         "<= 90000"),
        ("  live heap after the load (ESP32 B, same tier)", _f(g("heap_live_bytes_esp32")),
         "64-bit %s B" % _f(g("heap_live_wroom_bytes")), "", ""),
        ("  + left by on-demand code, every page used (qstrs)",
         _f(g("heap_ondemand_residue_esp32_bytes")),
         "64-bit %s B" % _f(g("heap32_ondemand_residue_romfs_64_bytes")), "", ""),
        ("heap peak (true high-water mark, 64-bit)", _f(g("heap_peak_bytes"), " B"),
         "cap %s B (board %s B)" % (_f(g("heap_cap_bytes")), _f(g("heap_board_cap_bytes"))),
         _f(_ratio(g("heap_peak_bytes"), g("heap_cap_bytes"))), "< cap"),
        ("storage bytes per reading", _f(g("storage_bytes_per_reading")), "", "", ""),
        ("  days per MiB (32 ch) / flash B per hour", "%s / %s" % (
            _f(g("storage_days_per_mib_32ch")), _f(g("flash_bytes_written_per_hour"))),
         "", "", ""),
        ("MQTT fleet msgs/s (%s gateways)" % _f(g("mqtt_fleet_gateways")),
         _f(g("mqtt_fleet_msgs_per_s")), "", "", ""),
        ("  latency p50 / p95", "%s / %s ms" % (_f(g("mqtt_fleet_latency_p50_ms")),
                                              _f(g("mqtt_fleet_latency_p95_ms"))), "", "", ""),
    ]
    head = ("figure", "dingate", "peer (same run)", "ratio", "goal")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _terminated(*_):
    raise KeyboardInterrupt


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--only", default="", help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--quick", action="store_true", help="shorter windows (a smoke run)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench.json"))
    a = ap.parse_args(argv)
    only = [s for s in a.only.split(",") if s] or list(SECTIONS)
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error("unknown section(s): " + ", ".join(sorted(unknown)))
    signal.signal(signal.SIGTERM, _terminated)  # stop the emulators we started, then go
    b = Bench(quick=a.quick)
    b.figures["host_cpus"] = os.cpu_count()
    b.figures["host_loadavg_1m_at_start"] = round(os.getloadavg()[0], 2)
    t0 = time.monotonic()
    for name in SECTIONS:
        if name in only:
            b.section(name, getattr(b, name))
    b.figures["bench_total_s"] = round(time.monotonic() - t0, 1)
    b.figures["host_loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    if b.notes:
        b.figures["bench_notes"] = "; ".join(b.notes)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(b.figures, f, indent=1, sort_keys=True)
        f.write("\n")
    print()
    print(table(b.figures))
    print()
    for n in b.notes:
        print("NOTE: " + n)
    print("wrote %s (%d figures, %.0f s)" % (a.out, len(b.figures), b.figures["bench_total_s"]))
    from . import readme

    if not a.quick and readme.update(b.figures):  # a --quick run's figures stay out of it
        print("README.md: memory figures updated")
    missing = [k for k in REQUIRED if b.figures.get(k) is None and not a.only]
    if missing:
        print("missing figures: " + ", ".join(missing))
    return 1 if b.failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
