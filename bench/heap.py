"""The firmware's true heap peak for the WROOM tier's load, 64-bit, and in ESP32 bytes per board.

The load (the "WROOM tier"): `dingate emulate` with scenarios/bench32.json (32 SDM630/SDM120,
4 of them silent), the 32 meters added through the API, MQTT on (a real mosquitto, Home
Assistant discovery on), and the API under load: two logged-in clients in turn ask for status,
readings, meters, events, a day of history and a streamed CSV export, for ``seconds``.

``heap_live_bytes``: the live heap after the load (GET /api/status "mem_live", the lowest of
four readings a second apart), what the gateway keeps under it.

``heap_peak_bytes`` is the firmware's own high-water mark (GET /api/status "mem_peak":
gc.mem_alloc() sampled in the loop and after every request, never after a forced collection,
gateway.services.heapmark) at the end of the run. ``heap_peak_warm_bytes`` is the mark after
the warm-up (meters polled, MQTT connected, one round of every request): a flat mark grows
little after it (``heap_peak_growth_after_warmup_bytes``).

``run(..., board=NAME)`` runs the same load on another board file (`dingate emulate --board`):
the WROOM tier as its board file ships it, its "features_left_out" not built
(``heap_peak_wroom_bytes`` in bench/__main__.py).

ESP32 bytes: bench/heap32.py (resident code and data measured on a 32-bit MicroPython).
"""
import threading
import time

from . import emulated as G
from . import wire

PATHS = ("/api/status", "/api/readings", "/api/meters", "/api/events?limit=50",
         "/api/history?meter=1&from={day}&to={now}", "/api/export.csv?meter=1&from={day}&to={now}")


def _client(session, url, deadline, counts, errors):
    i = 0
    while time.monotonic() < deadline:
        now = int(time.time())
        path = PATHS[i % len(PATHS)].format(day=now - 86400, now=now)
        i += 1
        try:
            with session.get(url + path, timeout=20, stream=True) as r:
                for _chunk in r.iter_content(1024):
                    pass
                counts[r.status_code] = counts.get(r.status_code, 0) + 1
        except Exception as e:  # noqa: BLE001 - counted, reported
            errors.append(repr(e))


def _load(gw, seconds, clients=2):
    import requests

    cookies = gw.emu.session.cookies.get_dict()
    headers = dict(gw.emu.session.headers)
    counts, errors = {}, []
    deadline = time.monotonic() + seconds
    threads = []
    for _ in range(clients):
        s = requests.Session()
        s.cookies.update(cookies)
        s.headers.update(headers)
        threads.append(threading.Thread(target=_client, args=(s, gw.emu.url, deadline, counts,
                                                              errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts, errors


def run(seconds=30, heapsize=None, strict=True, board=None):
    from dingate.testing.broker import MOSQUITTO, Broker

    if not MOSQUITTO:
        raise RuntimeError("mosquitto is not installed (host/system-packages.txt)")
    world = G.load_scenario("bench32.json")
    meters = wire.scenario_meters(world["devices"])
    import tempfile

    tmp = tempfile.mkdtemp(prefix="dingate-bench-broker-")
    broker = Broker(tmp)
    broker.start()
    try:
        with G.Gateway(world, heapsize, strict, board) as gw:
            try:
                return _measure(gw, meters, broker, seconds)
            except G.OutOfHeap:
                raise
            except Exception as e:
                # the device dropped the connection on a MemoryError, or reset itself (its
                # watchdog) when its tasks starved: out of heap either way
                if gw.out_of_heap() or gw.reboots() > 1:
                    raise G.OutOfHeap("%s; %s (boots: %d)" % (
                        e, gw.memory_error_context(), gw.reboots())) from e
                raise RuntimeError("%s\n-- device console (end):\n%s" % (
                    e, gw.console()[-3000:])) from e
    finally:
        broker.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _live(gw, samples=4):
    """The live heap once the clients stopped: the lowest of a few ``mem_live`` readings (the
    heap right after the firmware's periodic collection, once a second), so a recorder flush
    or an MQTT publish caught in one of them does not count. Steadier than the peak, which is
    the largest coincidence of transients: it shows a cut in what the gateway keeps."""
    readings = []
    for _ in range(samples):
        time.sleep(1.1)  # a reading a second: the firmware's periodic collection
        readings.append(gw.status()["mem_live"])
    return min(readings)


def _measure(gw, meters, broker, seconds):
    gw.login()
    gw.add_meters(meters)
    gw.emu.record_often()  # the ring's coding state on the heap, as on a gateway that records
    mqtt = "mqtt" not in (gw.status().get("features_left_out") or ())  # a board without it
    if mqtt:
        r = gw.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": broker.port,
                                        "base_topic": "bench/gw", "discovery": True})
        if r.status_code != 200:
            raise RuntimeError("PUT /api/mqtt: %d %s" % (r.status_code, r.text))
    G.wait_cycles(gw, 2, 120)
    deadline = time.monotonic() + 30
    while mqtt and not gw.api("GET", "/api/mqtt").json().get("state", {}).get("connected"):
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway did not connect to the broker")
        time.sleep(0.3)
    G.wait_until(gw.emu.recorded_since_boot, 60, "the recorder's first flush")
    _load(gw, min(6, seconds), clients=1)  # warm-up: one round of every request
    warm = gw.status()["mem_peak"]
    counts, errors = _load(gw, seconds)
    st = gw.status()
    live = _live(gw)
    gw.check_heap()
    mem_errors = gw.memory_errors()
    restarts = {n: t["restarts"] for n, t in gw.api("GET", "/api/system/tasks").json().items()
                if t.get("restarts")}
    ok = counts.get(200, 0)
    return {
        "heap_peak_bytes": st["mem_peak"],
        "heap_peak_warm_bytes": warm,
        "heap_peak_growth_after_warmup_bytes": st["mem_peak"] - warm,
        "heap_live_bytes": live,
        "heap_cap_bytes": st["mem_alloc"] + st["mem_free"],
        "heap_board_cap_bytes": G.kib(G.heap_settings()[0]),
        "heap_load_requests_ok": ok,
        "heap_load_requests_other": sum(counts.values()) - ok,
        "heap_load_client_errors": len(errors),
        "heap_load_memory_errors": mem_errors,
        "heap_load_task_restarts": sum(restarts.values()),
        "heap_load_s": seconds,
        "heap_load_mqtt": mqtt,
    }
