"""The page's API under load inside the emulator's heap cap: no MemoryError (503), no 5xx, and the
heap keeps a margin while meters (some dead) are polled and several clients ask at once."""
import threading
import time

import requests

from dingate import boards
from dingate.testing.emuproc import EmulatorProcess

METERS = [{"name": "Main meter", "address": 1, "profile": "sdm630"},
          {"name": "Workshop", "address": 2, "profile": "sdm120"},
          {"name": "PV inverter", "address": 3, "profile": "sdm120"}] + [
    {"name": "dead-%d" % a, "address": a, "profile": "sdm630"} for a in (40, 41, 42)]
PATHS = ("/api/status", "/api/readings", "/api/meters", "/api/events?limit=50", "/api/settings",
         "/api/genset", "/api/wifi")
MARGIN = 16 * 1024  # free heap that must remain at the worst moment


def test_api_under_load_stays_inside_the_heap():
    heap = boards.load("emulator")["heap"]
    cap = heap["bytes"] + heap["emulated_hardware_bytes"]
    with EmulatorProcess() as emu:
        emu.login()
        emu.add_meters(*METERS)
        cookies = emu.session.cookies.get_dict()
        statuses, peaks, errors = [], [], []
        deadline = time.monotonic() + 12

        def client(offset):
            s = requests.Session()
            s.cookies.update(cookies)
            i = offset
            while time.monotonic() < deadline:
                path = PATHS[i % len(PATHS)]
                i += 1
                try:
                    r = s.get(emu.url + path, timeout=15)
                except requests.RequestException as e:
                    errors.append(repr(e))
                    continue
                statuses.append(r.status_code)
                if path == "/api/status" and r.status_code == 200:
                    peaks.append(r.json()["mem_alloc"])

        threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
        assert len(statuses) > 60
        assert all(s == 200 for s in statuses), sorted(set(statuses))
        assert max(peaks) < cap - MARGIN, (max(peaks), cap)
