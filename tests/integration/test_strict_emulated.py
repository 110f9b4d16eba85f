"""Issue 18 end to end, the firmware under the MicroPython unix port on an outside line of strict
devices (`dingate emulate --bus tcp://`, no scenario): a new device has no meters; the plan an
SDM120 needs is learned, shown in /api/meters, kept on flash across a reboot and forgotten when
the meter's configuration changes; a refused block leaves the meter "partial"; a bus scan finds
the devices from the API."""
import pytest

from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.strict import StrictLine, device_from_specs
from gateway.core import profiles


def specs(profile):
    return profiles.registers({"profile": profile})


@pytest.fixture(scope="module")
def line():
    peer = StrictLine([
        device_from_specs(1, specs("sdm120")),
        device_from_specs(2, specs("sdm630"), refuse=[(4, 0x46, 0x4B)]),
    ])
    yield peer
    peer.stop()


def meters_by_address(emu):
    return {m["address"]: m for m in emu.api("GET", "/api/meters").json()}


def test_learned_plan_survives_reboot_and_resets_on_change(line, tmp_path):
    emu = EmulatorProcess(bus=line.url, state_dir=str(tmp_path / "state"))
    emu.scenario = None  # an outside bus and no scenario: a new, empty device
    try:
        emu.start()
        emu.login()
        assert emu.api("GET", "/api/meters").json() == []
        assert emu.api("GET", "/api/genset").json().get("enabled") in (None, False)
        emu.add_meters({"name": "PV SDM120", "address": 1, "profile": "sdm120"},
                       {"name": "Grid SDM630", "address": 2, "profile": "sdm630"})
        m = emu.wait_for(lambda: (lambda ms: ms if ms[1].get("status") == "ok"
                                  and ms[2].get("status") == "partial" else None)(
            meters_by_address(emu)), timeout=40, what="sdm120 ok, sdm630 partial")
        plan = m[1]["plan"]
        assert plan and all(c <= 6 for _f, _s, c in plan)  # gap-free reads only
        assert m[2]["failing"] == [[4, 0x46, 6]] and "exception 2" in m[2]["error"]
        readings = emu.api("GET", "/api/readings").json()
        r2 = readings[m[2]["id"]]
        assert r2["status"] == "partial"
        assert set(r2["values"]) == {q["quantity"] for q in specs("sdm630")} - {
            "frequency_hz", "import_kwh", "export_kwh"}
        assert set(readings[m[1]["id"]]["values"]) == {q["quantity"] for q in specs("sdm120")}

        # reboot: the learned plan comes from flash, no merged read is tried again
        emu.stop()
        line.clear_log()
        emu.start()
        emu.login()
        again = emu.wait_for(lambda: (lambda ms: ms if ms[1].get("status") == "ok" else None)(
            meters_by_address(emu)), timeout=40, what="sdm120 ok after reboot")
        assert again[1]["plan"] == plan
        assert set(line.requests(1)) <= {tuple(b) for b in plan}

        # a change of what is read forgets it (here: the meter's own max_registers)
        r = emu.api("PUT", "/api/meters/" + m[1]["id"], {"max_registers": 2})
        assert r.status_code == 200 and r.json()["max_registers"] == 2
        changed = emu.wait_for(lambda: meters_by_address(emu)[1].get("status") == "ok"
                               and meters_by_address(emu)[1], timeout=40, what="ok again")
        assert changed["plan"] is None  # 2 registers a read: nothing refused, nothing learned
        r = emu.api("PUT", "/api/meters/" + m[1]["id"], {"max_registers": 0})
        assert r.status_code == 400 and r.json()["field"] == "max_registers"

        # bus scan from the API, alongside the polling
        r = emu.api("POST", "/api/bus/scan", {"from": 1, "to": 6, "timeout_ms": 300})
        assert r.status_code == 202, r.text
        state = emu.wait_for(lambda: (lambda s: s if not s["running"] else None)(
            emu.api("GET", "/api/bus/scan").json()), timeout=60, what="scan done")
        found = {f["address"]: f["profile"] for f in state["found"]}
        assert found == {1: "sdm120", 2: "sdm630"} and state["progress"] == 1
        assert emu.api("POST", "/api/bus/scan", {"from": 9, "to": 3}).json()["field"] == "to"
        r = emu.api("POST", "/api/bus/scan", {"timeout_ms": 5})
        assert r.status_code == 400 and r.json()["field"] == "timeout_ms"
    finally:
        emu.cleanup()


def test_line_settings_probe_finds_the_devices_line(tmp_path):
    """The devices talk 19200 8E1, the gateway 9600 8N1 (emulated line with byte timing)."""
    import json
    import os

    from dingate.testing.emuproc import SCENARIOS

    with open(os.path.join(SCENARIOS, "devices.json")) as f:
        world = json.load(f)
    world["line"] = {"baud": 19200, "parity": "E", "stop": 1}
    path = tmp_path / "line.json"
    path.write_text(json.dumps(world))
    with EmulatorProcess(scenario=str(path)) as emu:
        emu.login()

        def scan(body):
            r = emu.api("POST", "/api/bus/scan", body)
            assert r.status_code == 202, r.text
            return emu.wait_for(lambda: (lambda s: s if not s["running"] else None)(
                emu.api("GET", "/api/bus/scan").json()), timeout=90, what="scan done")

        state = scan({"from": 1, "to": 4, "line": True})
        assert state["found"] == []  # nothing answers at 9600 8N1
        assert state["line"] == [{"baud": 19200, "parity": "E", "stop": 1, "addresses": [1, 2, 3]}]
        assert emu.api("PUT", "/api/bus", {"baud": 19200, "parity": "E"}).status_code == 200
        state = scan({"from": 1, "to": 4})
        assert [(f["address"], f["profile"]) for f in state["found"]] == [
            (1, "sdm630"), (2, "sdm120"), (3, "sdm120")]
        # named by their product code (holding 0xFC02), the profiles' signatures
        assert [f["detail"] for f in state["found"]] == [
            "Eastron product code 112", "Eastron product code 32", "Eastron product code 32"]
        assert "line" not in state
        assert emu.api("POST", "/api/bus/scan", {"line": 1}).json()["field"] == "line"
