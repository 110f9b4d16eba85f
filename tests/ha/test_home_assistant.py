"""Home Assistant end to end (`make test-ha`): a real HA with its MQTT integration on a real
mosquitto, the emulated gateway publishing to it. Checked through HA's own REST and websocket
API: the device and every entity, states equal /api/readings, energy sensors in the statistics
(Energy dashboard), the genset select driving the relay, a relay output as a switch, discovery following configuration
changes, availability on the gateway's last will."""
import json

import pytest

from dingate.testing.broker import MOSQUITTO, Broker
from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.homeassistant import HomeAssistant, installed

if not installed():
    pytest.fail("Home Assistant is not installed: run `make test-ha` (it installs .venv-ha)",
                pytrace=False)
assert MOSQUITTO, "mosquitto missing (make setup installs it)"

BASE = "dingate/ha"
# noise-free, constant devices: HA's state and /api/readings can be compared exactly
SCENARIO = {
    "line": {"baud": 9600, "parity": "N", "stop": 1},
    "devices": [
        {"type": "sdm630", "address": 1, "name": "Grid", "profile": "constant", "power_w": 0,
         "noise": 0, "import_kwh": 12873.4, "export_kwh": 2210.8},
        {"type": "sdm120", "address": 2, "name": "Flat 2", "profile": "constant", "power_w": 0,
         "noise": 0, "import_kwh": 1532.7},
        {"type": "battery", "address": 10, "name": "Battery", "mode": "profile",
         "soc_profile": [[0, 55], [10 ** 10, 55]]},
    ],
    "wifi": {"networks": []},
}
BATTERY = {"name": "Battery", "address": 10, "profile": "generic", "role": "battery",
           "registers": [{"quantity": "soc_pct", "function": 3, "register": "0x0100",
                          "type": "u16"},
                         {"quantity": "battery_v", "function": 3, "register": "0x0101",
                          "type": "u16", "scale": 0.01}]}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    broker = Broker(tmp_path_factory.mktemp("broker"))
    broker.start()
    ha = HomeAssistant(tmp_path_factory.mktemp("ha"))
    scenario = tmp_path_factory.mktemp("scenario") / "ha.json"
    scenario.write_text(json.dumps(SCENARIO))
    emu = EmulatorProcess(scenario=str(scenario))
    try:
        ha.start()
        ha.add_mqtt(broker.port)
        emu.start()
        emu.login()
        ok = emu.api("PUT", "/api/settings", {"sample_interval_s": 5})
        assert ok.status_code == 200, ok.text
        emu.meter_ids = emu.add_meters(
            {"name": "Grid", "address": 1, "profile": "sdm630", "role": "grid"},
            {"name": "Flat 2", "address": 2, "profile": "sdm120"}, BATTERY)
        r = emu.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": broker.port,
                                         "base_topic": BASE, "discovery": True, "keepalive": 10})
        assert r.status_code == 200, r.text
        # the generator configured after the uplink: discovery must follow
        r = emu.api("PUT", "/api/genset", {"mode": "off", "start_soc": 20, "stop_soc": 80,
                                           "soc_source": {"meter": emu.meter_ids[2],
                                                          "quantity": "soc_pct"},
                                           "min_run_s": 0, "min_rest_s": 0, "warmup_s": 0,
                                           "cooldown_s": 0})
        assert r.status_code == 200, r.text
        emu.node = "dingate_" + emu.api("GET", "/api/status").json()["serial"]
        yield ha, emu, broker
    finally:
        emu.cleanup()
        ha.stop()
        broker.stop()


def registry(ha):
    entities, devices = ha.ws({"type": "config/entity_registry/list"},
                              {"type": "config/device_registry/list"})
    return {e["unique_id"]: e for e in entities if e["platform"] == "mqtt"}, devices


def readings(emu):
    return emu.api("GET", "/api/readings").json()


def expected_unique_ids(emu):
    want = {emu.node + "_genset_mode", emu.node + "_genset_relay", emu.node + "_genset_service"}
    for mid, r in readings(emu).items():
        want.add("%s_m%s_meter_status" % (emu.node, mid))
        for q in r["values"]:
            want.add("%s_m%s_%s" % (emu.node, mid, q))
    return want


def test_one_device_with_every_entity(site):
    ha, emu, _ = site
    emu.wait_for(lambda: all(r["values"] for r in readings(emu).values()), timeout=60,
                 what="every meter read")
    want = expected_unique_ids(emu)
    ents = emu.wait_for(lambda: (lambda e: e if want <= set(e) else None)(registry(ha)[0]),
                        timeout=90, what="every entity in HA's registry")
    ents, devices = registry(ha)
    ours = [d for d in devices if ["mqtt", emu.node] in d["identifiers"]]
    assert len(ours) == 1, devices
    dev = ours[0]
    assert dev["manufacturer"] == "dingate"
    assert dev["sw_version"] == emu.api("GET", "/api/status").json()["firmware"]
    assert {ents[u]["device_id"] for u in want} == {dev["id"]}


def _entity(ha, emu, meter_id, quantity):
    return registry(ha)[0]["%s_m%s_%s" % (emu.node, meter_id, quantity)]["entity_id"]


def test_states_equal_readings(site):
    ha, emu, _ = site
    ents = registry(ha)[0]

    def compare():
        states = ha.states()
        diffs = []
        for mid, r in readings(emu).items():
            for q, v in r["values"].items():
                st = states.get(ents["%s_m%s_%s" % (emu.node, mid, q)]["entity_id"])
                if st is None or st["state"] in ("unknown", "unavailable") \
                        or abs(float(st["state"]) - v) > 1e-9 * max(1.0, abs(v)):
                    diffs.append((mid, q, v, st and st["state"]))
        return not diffs or None, diffs

    ok = emu.wait_for(lambda: compare()[0], timeout=60, what="HA states equal /api/readings")
    assert ok, compare()[1]


def test_entity_classes_and_units(site):
    ha, emu, _ = site
    states = ha.states()
    grid = emu.meter_ids[0]
    want = {"import_kwh": ("energy", "total_increasing", "kWh"),
            "power_w": ("power", "measurement", "W"),
            "voltage_l1": ("voltage", "measurement", "V"),
            "frequency_hz": ("frequency", "measurement", "Hz")}
    for q, (dclass, sclass, unit) in want.items():
        attrs = states[_entity(ha, emu, grid, q)]["attributes"]
        assert (attrs.get("device_class"), attrs.get("state_class"),
                attrs.get("unit_of_measurement")) == (dclass, sclass, unit), (q, attrs)
    soc = states[_entity(ha, emu, emu.meter_ids[2], "soc_pct")]["attributes"]
    assert soc.get("device_class") == "battery" and soc.get("unit_of_measurement") == "%"


def test_genset_select_drives_the_relay(site):
    ha, emu, _ = site
    select = registry(ha)[0][emu.node + "_genset_mode"]["entity_id"]
    assert emu.hw()["relay"] is False
    ha.call_service("select", "select_option", {"entity_id": select, "option": "on"})
    emu.wait_for(lambda: emu.api("GET", "/api/genset").json()["mode"] == "on", timeout=30,
                 what="the gateway's genset mode set by HA")
    emu.wait_for(lambda: emu.hw()["relay"] is True, timeout=30, what="relay closed")
    relay = registry(ha)[0][emu.node + "_genset_relay"]["entity_id"]
    emu.wait_for(lambda: ha.states()[relay]["state"] == "on", timeout=30, what="HA sees it run")
    ha.call_service("select", "select_option", {"entity_id": select, "option": "off"})
    emu.wait_for(lambda: emu.hw()["relay"] is False, timeout=30, what="relay open")
    emu.wait_for(lambda: ha.states()[select]["state"] == "off", timeout=30, what="select state")


def test_the_generator_service_is_a_diagnostic_problem_sensor(site):
    """The generator's service reminder in HA: a diagnostic problem sensor, off while the
    service is not due (with and without an interval set)."""
    ha, emu, _ = site
    ent = emu.wait_for(lambda: registry(ha)[0].get(emu.node + "_genset_service"), timeout=60,
                       what="the service sensor in HA's registry")
    assert ent["entity_id"].startswith("binary_sensor.") and ent["entity_category"] == "diagnostic"
    r = emu.api("PUT", "/api/genset", {"service_interval_h": 250})
    assert r.status_code == 200 and r.json()["service_due"] is False, r.text
    st = emu.wait_for(lambda: (lambda s: s if s["state"] == "off" else None)(ha.states()[ent["entity_id"]]),
                      timeout=30, what="the sensor's state")
    assert st["attributes"]["device_class"] == "problem"


def test_relay_output_is_a_switch_in_home_assistant(site):
    """A plain relay output, configured over the API, becomes an HA switch that drives the
    relay both ways; unconfigured, the switch leaves HA's registry."""
    ha, emu, _ = site
    r = emu.api("PUT", "/api/outputs/aux", {"name": "Water heater"})
    assert r.status_code == 200, r.text
    uid = emu.node + "_out_aux"
    switch = emu.wait_for(lambda: registry(ha)[0].get(uid), timeout=60,
                          what="the output's switch in HA's registry")["entity_id"]
    assert switch.startswith("switch.")
    emu.wait_for(lambda: ha.states()[switch]["state"] == "off", timeout=30, what="switch off")
    assert emu.hw()["relays"]["aux"] is False
    ha.call_service("switch", "turn_on", {"entity_id": switch})
    emu.wait_for(lambda: emu.hw()["relays"]["aux"] is True, timeout=30, what="aux closed by HA")
    assert emu.api("GET", "/api/outputs/aux").json()["on"] is True
    emu.wait_for(lambda: ha.states()[switch]["state"] == "on", timeout=30, what="switch on")
    assert emu.api("PUT", "/api/outputs/aux", {"on": False}).status_code == 200
    emu.wait_for(lambda: ha.states()[switch]["state"] == "off", timeout=30,
                 what="HA follows a switch from the gateway")
    assert emu.api("DELETE", "/api/outputs/aux").status_code == 200
    emu.wait_for(lambda: uid not in registry(ha)[0], timeout=60,
                 what="the switch removed from HA")


def test_discovery_follows_meter_changes(site):
    ha, emu, _ = site
    flat = emu.meter_ids[1]
    r = emu.api("PUT", "/api/meters/" + flat, {"name": "Flat 2B"})
    assert r.status_code == 200, r.text
    ent = _entity(ha, emu, flat, "import_kwh")
    emu.wait_for(lambda: ha.states()[ent]["attributes"].get("friendly_name", "").find(
        "Flat 2B") >= 0, timeout=60, what="renamed entity")
    assert emu.api("DELETE", "/api/meters/" + flat).status_code == 200
    prefix = "%s_m%s_" % (emu.node, flat)
    emu.wait_for(lambda: not [u for u in registry(ha)[0] if u.startswith(prefix)], timeout=60,
                 what="the deleted meter's entities removed from HA")


def test_genset_removed_from_discovery_when_unconfigured(site):
    ha, emu, _ = site
    r = emu.api("DELETE", "/api/genset")
    if r.status_code == 405:
        pytest.fail("DELETE /api/genset (remove generator control) is not served")
    assert r.status_code == 200, r.text
    emu.wait_for(lambda: emu.node + "_genset_mode" not in registry(ha)[0], timeout=60,
                 what="genset select removed from HA")


def test_energy_sensors_are_statistics_for_the_energy_dashboard(site):
    ha, emu, _ = site
    grid = emu.meter_ids[0]
    imp = _entity(ha, emu, grid, "import_kwh")

    def listed():
        (ids,) = ha.ws({"type": "recorder/list_statistic_ids", "statistic_type": "sum"})
        return {s["statistic_id"]: s for s in ids}.get(imp)

    stat = emu.wait_for(listed, timeout=60, what="import energy among HA's sum statistics")
    assert stat["statistics_unit_of_measurement"] == "kWh"
    assert stat["has_sum"] is True
    # the Energy dashboard accepts it as a grid source with no issue
    (prefs,) = ha.ws({"type": "energy/save_prefs", "energy_sources": [{
        "type": "grid", "flow_from": [{"stat_energy_from": imp, "stat_cost": None,
                                       "entity_energy_price": None, "number_energy_price": None}],
        "flow_to": [], "cost_adjustment_day": 0}], "device_consumption": []})

    def issues():
        (validation,) = ha.ws({"type": "energy/validate"})
        found = [i for src in validation["energy_sources"] for i in src]
        return found or None

    # HA compiles statistics every 5 minutes; until then it reports "statistics_not_defined"
    left = emu.wait_for(lambda: not issues(), timeout=330, interval=5,
                        what="the Energy dashboard validating the grid source")
    assert left, issues()


def test_last_will_marks_entities_unavailable(site):
    ha, emu, _ = site
    ent = _entity(ha, emu, emu.meter_ids[0], "power_w")
    assert ha.states()[ent]["state"] != "unavailable"
    emu.kill()  # power gone: no clean disconnect, the broker sends the will after keepalive
    emu.wait_for(lambda: ha.states()[ent]["state"] == "unavailable", timeout=60,
                 what="unavailable on the last will")


def test_log_has_no_mqtt_errors(site):
    ha, _emu, _ = site
    bad = [line for line in ha.log().splitlines()
           if " ERROR " in line and "mqtt" in line.lower()]
    assert not bad, "\n".join(bad)

