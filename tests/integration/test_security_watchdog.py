"""A wedged device resets itself (issue 16 item 1), end to end through the emulator.

The emulated hardware makes the firmware hang in a driver call (the panel's POST /api/hw/fault
"hang": a stuck peripheral, emulator/mpy/_emu.py): the asyncio loop stops, nothing feeds the
board's watchdog (boards/emulator.json ``watchdog_ms``), and the emulated WDT resets the chip.
The device then boots again by itself, says why (reset cause "watchdog", an event after boot),
and has lost no configuration.
"""
import json
import os
import time

import requests

from dingate.testing.emuproc import EmulatorProcess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _watchdog_s():
    with open(os.path.join(ROOT, "boards", "emulator.json")) as f:
        return json.load(f)["watchdog_ms"] / 1000


def _answers(emu):
    try:
        return requests.get(emu.url + "/api/status", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_hung_loop_is_reset_by_the_watchdog(tmp_path):
    wdt_s = _watchdog_s()
    with EmulatorProcess(state_dir=str(tmp_path / "s")) as emu:
        emu.login()
        assert emu.api("PUT", "/api/settings", {"location": "Wedge street 1"}).status_code == 200
        mid, = emu.add_meters({"name": "Workshop", "address": 2, "profile": "sdm120"})
        emu.add_users({"user": "tech", "password": "tech-pass-123", "role": "installer"})
        emu.wait_for(lambda: emu.api("GET", "/api/readings").json()[mid]["status"] == "ok",
                     timeout=30, what="the meter read before the hang")
        assert emu.api("GET", "/api/status").json()["reset_cause"] == "power-on"
        boots = emu.hw()["boots"]

        assert emu.hw_post("/api/hw/fault", {"action": "hang"}).status_code == 200
        hung_at = time.monotonic()
        emu.wait_for(lambda: not _answers(emu), timeout=10, what="the device to stop answering")
        assert emu.hw()["boots"] == boots  # hung, not reset: the loop no longer feeds the WDT

        emu.wait_for(lambda: emu.hw()["boots"] > boots, timeout=wdt_s + 60, interval=0.5,
                     what="the watchdog reset")
        down_s = time.monotonic() - hung_at
        assert down_s >= wdt_s - 1, down_s  # the watchdog's timeout, not something sooner
        assert "watchdog expired: resetting the device" in emu.log()
        status = emu.wait_ready(60)
        assert status["reset_cause"] == "watchdog"
        assert status["uptime_s"] < down_s  # a fresh boot

        emu.session.cookies.clear()  # sessions live in RAM: the reset ended them
        emu.login()
        events = emu.api("GET", "/api/events?limit=200").json()
        assert any(e["text"].startswith("boot (watchdog)") for e in events), events[:5]
        assert emu.api("GET", "/api/settings").json()["location"] == "Wedge street 1"
        assert [m["id"] for m in emu.api("GET", "/api/meters").json()] == [mid]
        assert "tech" in [u["user"] for u in emu.api("GET", "/api/users").json()]
        # every essential task runs again, and the meter is polled
        emu.wait_for(lambda: emu.api("GET", "/api/readings").json()[mid]["status"] == "ok",
                     timeout=30, what="the meter read after the reset")
        tasks = emu.api("GET", "/api/system/tasks").json()
        assert all(not t["done"] for n, t in tasks.items() if t.get("essential")), tasks
