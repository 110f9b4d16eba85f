"""API latency while 32 meters (4 of them dead) are polled, and the firmware's heap under that load.

`dingate emulate` with scenarios/bench32.json (32 SDM630/SDM120, addresses 8, 16, 24 and 32
silent); the 32 meters are created through the API; once the poller has finished its first
cycles with all of them, one client on loopback sends ``requests`` requests, one every
``interval_s`` (50 ms: 20 requests/s, one in flight; a slow answer delays the next), in turn
GET /api/status, /api/readings, /api/meters (logged in as admin), and times each from send to
the last byte of the body: 300 requests span 15 s, several poll cycles with their timeouts. The poll loop keeps running meanwhile (its cycle
count is checked).

Heap: /api/status reports "mem_peak", the firmware's own high-water mark since boot
(gateway.services.heapmark: never after a forced collection); its last value is
``heap_peak_http_load_bytes``. ``heap_peak_bytes`` itself comes from bench/heap.py (the WROOM
tier's load: 32 meters, MQTT, API). ``heap_cap_bytes`` is the heap the
firmware ran with (mem_alloc + mem_free), ``heap_board_cap_bytes`` the board file's
(boards/emulator.json: heap + emulated hardware, the `-X heapsize`).
"""
import time

from . import emulated as G
from . import wire
from .rtu_line import percentile

PATHS = ("/api/status", "/api/readings", "/api/meters")


def run(requests=300, heapsize=None, strict=True, interval_s=0.05):
    world = G.load_scenario("bench32.json")
    meters = wire.scenario_meters(world["devices"])
    lat = {p: [] for p in PATHS}
    heap = []
    with G.Gateway(world, heapsize, strict) as gw:
        gw.login()
        gw.add_meters(meters)
        G.wait_cycles(gw, 2, 120)  # every meter polled at least once
        c0 = gw.bus()["cycles"]
        session = gw.emu.session
        url = gw.emu.url
        deadline = time.monotonic() + 120
        errors = 0
        t_load = time.monotonic()
        for i in range(requests):
            if time.monotonic() > deadline:
                break
            path = PATHS[i % len(PATHS)]
            pause = t_load + i * interval_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            t0 = time.perf_counter()
            r = session.get(url + path, timeout=15)
            body = r.content
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                errors += 1
                if r.status_code == 503 and strict:
                    raise G.OutOfHeap("%s -> 503 %s" % (path, body[:100]))
                continue
            lat[path].append(dt * 1000)
            if path == "/api/status":
                s = r.json()
                heap.append(s["mem_peak"])
                total = s["mem_alloc"] + s["mem_free"]
        load_s = time.monotonic() - t_load
        c1 = gw.bus()["cycles"]
        boot = gw.boot_mem()
        gw.check_heap()
        mem_errors, busy = gw.memory_errors(), gw.busy_retries
        reboots = gw.reboots()
        readings = gw.api("GET", "/api/readings").json()
    all_ms = [x for p in PATHS for x in lat[p]]
    if not all_ms:
        raise RuntimeError("no successful request")
    board_arg, _override = G.heap_settings()
    boot_peak = max((u for _s, u, _f in boot), default=0)
    out = {
        "http_p95_ms_while_polling": round(percentile(all_ms, 95), 1),
        "http_p50_ms_while_polling": round(percentile(all_ms, 50), 1),
        "http_max_ms_while_polling": round(max(all_ms), 1),
        "http_requests": len(all_ms),
        "http_errors": errors,
        "http_load_s": round(load_s, 1),
        "http_poll_cycles_during_load": c1 - c0,
        "http_meters_offline": sum(1 for v in readings.values() if v.get("status") == "offline"),
        "heap_peak_http_load_bytes": max(heap) if heap else None,
        "heap_boot_peak_bytes": boot_peak,
        "heap_cap_bytes": total if heap else None,
        "heap_board_cap_bytes": G.kib(board_arg),
        "heap_boots_seen": reboots,
        "http_memory_errors": mem_errors,
        "http_api_busy_retries": busy,
    }
    for p in PATHS:
        if lat[p]:
            out["http_p95_ms_" + p.rsplit("/", 1)[1]] = round(percentile(lat[p], 95), 1)
    for stage, used, _free in boot:
        out["heap_boot_%s_bytes" % stage] = used  # the last boot's line of each stage wins
    return out
