"""Issue 6 end to end: a battery on an outside RTU line (`--bus tcp://`), the genset in auto mode;
the relay of the emulated hardware panel (not only the API) closes at low SOC, holds through the
minimum run, opens when charged, rests, and opens safely when the BMS falls silent."""
import time

import pytest

from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.rtu_peer import RtuPeer

BATTERY = 10
WORLD = {"devices": [{"type": "battery", "address": BATTERY, "name": "BMS", "mode": "profile",
                      "soc_profile": [[0, 55]]}]}
BMS_REGS = [{"quantity": "soc_pct", "function": 3, "register": "0x0100", "type": "u16"}]
MIN_RUN = 6


@pytest.fixture(scope="module")
def site():
    peer = RtuPeer(WORLD)
    emu = EmulatorProcess(bus=peer.url)
    try:
        emu.start()
        emu.login()
        mid, = emu.add_meters({"name": "Battery BMS", "address": BATTERY, "profile": "generic",
                               "registers": BMS_REGS, "role": "battery"})
        r = emu.api("PUT", "/api/genset", {
            "mode": "auto", "soc_source": {"meter": mid, "quantity": "soc_pct"},
            "start_soc": 30, "stop_soc": 80, "min_run_s": MIN_RUN, "min_rest_s": 8,
            "max_run_s": 3600, "warmup_s": 0, "cooldown_s": 0, "on_source_loss": "stop"})
        assert r.status_code == 200, r.text
        yield emu, peer
    finally:
        emu.cleanup()
        peer.stop()


def relay(emu):
    return emu.hw()["relay"]


def test_relay_follows_soc_with_min_run_and_rest(site):
    emu, peer = site
    emu.wait_for(lambda: "SOC" in emu.api("GET", "/api/genset").json()["reason"], timeout=20,
                 what="genset evaluating the SOC")
    assert relay(emu) is False
    peer.set_soc(BATTERY, 25)
    emu.wait_for(lambda: relay(emu), timeout=15, what="relay closed at low SOC")
    closed_at = time.monotonic()
    g = emu.api("GET", "/api/genset").json()
    assert g["relay"] is True and g["running_since"] and "25" in g["reason"]
    peer.set_soc(BATTERY, 90)  # charged at once: the minimum run still holds the relay
    emu.wait_for(lambda: not relay(emu), timeout=MIN_RUN + 15, what="relay open once charged")
    assert time.monotonic() - closed_at >= MIN_RUN - 1
    peer.set_soc(BATTERY, 20)  # low again at once: the rest time holds it off
    g = emu.wait_for(lambda: (lambda g: g if "rest" in g["reason"] else None)(
        emu.api("GET", "/api/genset").json()), timeout=10, what="rest reason")
    assert g["relay"] is False and relay(emu) is False
    emu.wait_for(lambda: relay(emu), timeout=20, what="relay closed again after the rest")


def test_silent_bms_stops_safely_and_everything_is_in_the_event_log(site):
    emu, peer = site
    if not relay(emu):
        peer.set_soc(BATTERY, 20)
        emu.wait_for(lambda: relay(emu), timeout=30, what="running")
    peer.set_silent(BATTERY)
    emu.wait_for(lambda: not relay(emu), timeout=60, what="relay open after the source is lost")
    g = emu.api("GET", "/api/genset").json()
    assert "lost" in g["reason"] or "stale" in g["reason"], g["reason"]
    texts = [e["text"] for e in emu.api("GET", "/api/events?limit=100").json()
             if e["source"] == "genset"]
    assert any("SOC" in t for t in texts), texts
    assert any("lost" in t or "stale" in t for t in texts), texts
    peer.set_silent(BATTERY, False)


def test_manual_on_off_from_the_api(site):
    emu, peer = site
    peer.set_soc(BATTERY, 60)
    r = emu.api("PUT", "/api/genset", {"mode": "off"})
    assert r.status_code == 200
    emu.wait_for(lambda: not relay(emu), timeout=15, what="off")
    assert emu.api("PUT", "/api/genset", {"mode": "sideways"}).json()["field"] == "mode"
    emu.wait_for(lambda: emu.api("PUT", "/api/genset", {"mode": "on"}).status_code == 200 and True,
                 timeout=5)
    emu.wait_for(lambda: relay(emu), timeout=30, what="manual on closes the relay")
    emu.api("PUT", "/api/genset", {"mode": "off"})
    emu.wait_for(lambda: not relay(emu), timeout=30, what="manual off opens it")


def test_the_soc_source_is_not_deleted_from_under_the_generator(site):
    """A meter id is never given again, so a deleted SOC source would stay lost: the delete is
    refused until the generator has another source (or none)."""
    emu, peer = site
    mid, = [m["id"] for m in emu.api("GET", "/api/meters").json()]
    r = emu.api("DELETE", "/api/meters/" + mid)
    assert r.status_code == 409 and r.json()["code"] == "in_use_genset", r.text
    assert [m["id"] for m in emu.api("GET", "/api/meters").json()] == [mid]
    assert emu.api("PUT", "/api/genset", {"mode": "off", "soc_source": None}).status_code == 200
    assert emu.api("DELETE", "/api/meters/" + mid).status_code == 200
    assert emu.api("GET", "/api/meters").json() == []
