"""Soak: a gateway's life compressed — 32 meters (4 of them silent: dropped out), MQTT with
Home Assistant discovery and broker outages, API clients with CSV exports, a firmware update
and a power cut — inside the emulator board's heap cap.

Fails on the first MemoryError on the device console, on a 5xx answer, on a task restarted by
its supervisor, and on a leak: after the warm-up of the last boot, the floor of the live heap
(the lowest GET /api/status "mem_live", the heap right after the watchdog's collection, over
a stretch of samples) must not rise by more than one collection threshold
(gateway.app.GC_EVERY_BYTES) from the first third of the rest of the run to its last third.

Why the floor and not the high-water mark ("mem_peak"): the peak is the largest coincidence of
transients (a discovery announcement after a reconnect, ~42 KB at 64-bit, beside two clients'
requests) and such a coincidence may come at any time, warm-up or not (a CI run saw the peak
move from 331 to 390 KB long after the warm-up with a flat live heap); a leak raises the floor.
The peak is bounded by the cap itself: going over it is the MemoryError above.

Duration: DINGATE_SOAK_S seconds (default 180, the `make test` version; `make soak` runs 1800).

The emulator board plays the PSRAM tier (boards/emulator.json: 448 KB of 64-bit heap); the
full load needs ~325 KB (make bench: heap_peak_bytes), ~390 KB at the worst coincidence above.
The WROOM tier does not fit this load (docs/memory.md).
"""
import json
import os
import tempfile
import threading
import time

import pytest
import requests

from dingate.testing.broker import MOSQUITTO, Broker
from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.fw_bundle import version_bundle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(ROOT, "host", "dingate", "emulator", "scenarios", "bench32.json")
SECONDS = int(os.environ.get("DINGATE_SOAK_S", "180"))
FLAT_BYTES = 8192  # gateway.app.GC_EVERY_BYTES
PATHS = ("/api/status", "/api/readings", "/api/meters", "/api/events?limit=50",
         "/api/export.csv?meter=1&from={day}&to={now}")


class MemoryErrorSeen(AssertionError):
    pass


def _check_console(emu):
    log = emu.log()
    if "MemoryError" in log:
        lines = log.splitlines()
        i = next(k for k, ln in enumerate(lines) if "MemoryError" in ln)
        raise MemoryErrorSeen("MemoryError on the device console:\n" +
                              "\n".join(lines[max(0, i - 12):i + 3]))


def _ok(emu, r, code=200):
    """A refused request on a device out of heap is the MemoryError it logged."""
    if r.status_code != code:
        _check_console(emu)
    assert r.status_code == code, "%s -> %d %s" % (r.request.path_url, r.status_code, r.text)
    return r


def _meters():
    with open(SCENARIO) as f:
        devices = json.load(f)["devices"]
    return [{"name": "meter-%03d" % d["address"], "address": d["address"],
             "profile": d.get("type", "sdm630")} for d in devices][:32]


def _client(emu, stop, errors):
    s = requests.Session()
    s.cookies.update(emu.session.cookies.get_dict())
    s.headers.update(emu.session.headers)
    i = 0
    while not stop.is_set():
        now = int(time.time())
        path = PATHS[i % len(PATHS)].format(day=now - 86400, now=now)
        i += 1
        try:
            with s.get(emu.url + path, timeout=20, stream=True) as r:
                for _ in r.iter_content(1024):
                    pass
                if r.status_code >= 500:
                    errors.append("%s -> %d" % (path, r.status_code))
        except requests.RequestException:
            time.sleep(0.5)  # the device is rebooting (update, power cut)
            if s.get(emu.url + "/api/status", timeout=5).status_code == 200:
                s.cookies.update(emu.session.cookies.get_dict())


@pytest.mark.skipif(not MOSQUITTO and os.environ.get("CI") != "true",
                    reason="mosquitto is not installed")
def test_soak():
    tmp = tempfile.mkdtemp(prefix="dingate-soak-")
    broker = Broker(tmp)
    broker.start()
    emu = EmulatorProcess(scenario=SCENARIO)
    stop = threading.Event()
    errors = []
    try:
        emu.start()
        emu.login()
        emu.add_meters(*_meters())
        _ok(emu, emu.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": broker.port,
                                              "base_topic": "soak/gw", "discovery": True}))
        clients = [threading.Thread(target=_client, args=(emu, stop, errors)) for _ in range(2)]
        for t in clients:
            t.start()
        t0 = time.monotonic()
        end = t0 + SECONDS
        updated = cut = False
        warm_at = None
        live = []  # mem_live after the warm-up, one sample a second
        last_outage = t0
        while time.monotonic() < end:
            time.sleep(1)
            _check_console(emu)
            now = time.monotonic()
            if now - last_outage > 40:  # an MQTT outage of 10 s every 40 s
                broker.stop()
                time.sleep(10)
                broker.start()
                last_outage = time.monotonic()
            if not updated and now - t0 > SECONDS * 0.3:
                updated = True
                boots = emu.boots()
                data = version_bundle("0.1.0+soak")
                r = emu.session.post(emu.url + "/api/firmware", data=data, timeout=120,
                                     headers={"Content-Type": "application/octet-stream"})
                _ok(emu, r)
                emu.wait_reboot(boots, 120, "the update's boot")
                emu.login()
            if not cut and now - t0 > SECONDS * 0.4:
                cut = True
                boots = emu.boots()
                emu.hw_post("/api/hw/power", {"action": "cycle"})
                emu.wait_reboot(boots, 120, "the power-up")
                emu.login()
                # the warm-up of the last boot: every meter polled, MQTT connected and announced;
                # the loop (outages, exports) goes on meanwhile
                warm_at = time.monotonic() + min(60, SECONDS * 0.2)
            if cut and now >= warm_at:
                live.append(_ok(emu, emu.api("GET", "/api/status")).json()["mem_live"])
        _check_console(emu)
        final = _ok(emu, emu.api("GET", "/api/status")).json()
        assert final["firmware"] == "0.1.0+soak"
        third = len(live) // 3
        assert third >= 5, "too few samples after the warm-up: %d" % len(live)
        first, last = min(live[:third]), min(live[-third:])
        assert last - first <= FLAT_BYTES, ("live heap floor rose", first, last, final["mem_peak"])
        tasks = emu.api("GET", "/api/system/tasks").json()
        assert not [n for n, t in tasks.items() if t.get("restarts")], tasks
        assert not errors, errors[:5]
    finally:
        stop.set()
        emu.cleanup()
        broker.stop()
