"""Home Assistant MQTT discovery payloads (CPython and MicroPython)."""
import json

from gateway.core import ha_discovery as H

BASE = "dingate/GW1"
DEV = H.device("GW1", "1.2.3", model="DG-1")
METERS = [
    {"id": "3", "name": "Main", "quantities": ["import_kwh", "export_kwh", "power_w",
                                               "voltage_l1", "current_l1", "frequency_hz",
                                               "power_factor"]},
    {"id": "7", "name": "Battery", "quantities": ["soc_pct", ("tank_level", "L")]},
]

# Keys documented on the HA MQTT platform pages (integrations/sensor.mqtt, select.mqtt,
# binary_sensor.mqtt) that these configs may use; any other key is a typo.
COMMON_KEYS = {"name", "unique_id", "availability", "availability_mode", "device", "origin",
               "state_topic", "value_template", "entity_category"}
ALLOWED = {
    "sensor": COMMON_KEYS | {"device_class", "state_class", "unit_of_measurement", "options",
                             "suggested_display_precision", "json_attributes_topic"},
    "select": COMMON_KEYS | {"command_topic", "options"},
    "binary_sensor": COMMON_KEYS | {"payload_on", "payload_off", "device_class"},
}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}
AVAIL_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
SENSOR_CLASSES = {"energy", "power", "voltage", "current", "frequency", "power_factor",
                  "battery", "enum"}


def _all():
    out = []
    for topic, payload in H.configs(BASE, DEV, "1.2.3", METERS):
        assert isinstance(payload, bytes)
        out.append((topic, json.loads(payload)))
    return out


def _by_uid(items):
    return dict((cfg["unique_id"], (topic, cfg)) for topic, cfg in items)


def test_topics_format_and_charset():
    for topic, _cfg in _all():
        parts = topic.split("/")
        assert len(parts) == 5, topic
        assert parts[0] == "homeassistant" and parts[4] == "config"
        assert parts[1] in ALLOWED
        assert parts[2] == "dingate_GW1"
        for ch in parts[2] + parts[3]:
            assert ch.isalpha() or ch.isdigit() or ch in "_-", topic


def test_keys_are_documented_names():
    for topic, cfg in _all():
        comp = topic.split("/")[1]
        for k in cfg:
            assert k in ALLOWED[comp], (topic, k)
        for k in cfg["device"]:
            assert k in DEVICE_KEYS, k
        for a in cfg["availability"]:
            for k in a:
                assert k in AVAIL_KEYS, k
        assert cfg["origin"]["name"] == "dingate"
        if "device_class" in cfg and comp == "sensor":
            assert cfg["device_class"] in SENSOR_CLASSES


def test_display_precision_is_the_catalogued_decimals():
    from gateway.core.quantities import decimals

    seen = 0
    for _topic, cfg in _all():
        if cfg.get("device_class") == "enum":
            assert "suggested_display_precision" not in cfg  # a text state
            continue
        if cfg["unique_id"].endswith("_" + H.PEAK):
            assert cfg["suggested_display_precision"] == 2  # kW, like the billing card
            continue
        if "state_class" in cfg:
            q = cfg["value_template"].split("value_json.")[1].split()[0]
            assert cfg["suggested_display_precision"] == decimals(q), cfg["unique_id"]
            seen += 1
    assert seen == 9
    m = {"id": "9", "name": "Heat", "quantities": [("heat_kwh", "kWh"), ("flow_l", "L")]}
    heat, flow = [json.loads(p) for _t, p in list(H.meter_configs(BASE, DEV, "1", m))[:2]]
    assert (heat["device_class"], heat["state_class"]) == ("energy", "total_increasing")
    assert "device_class" not in flow and flow["state_class"] == "total_increasing"


def test_device_block():
    for _, cfg in _all():
        d = cfg["device"]
        assert d["identifiers"] == ["dingate_GW1"]
        assert d["manufacturer"] == "dingate"
        assert d["model"] == "DG-1" and d["sw_version"] == "1.2.3"
        assert d["name"] == "dingate GW1"


def test_energy_sensors_fit_the_energy_dashboard():
    u = _by_uid(_all())
    for q in ("import_kwh", "export_kwh"):
        topic, cfg = u["dingate_GW1_m3_" + q]
        assert topic == "homeassistant/sensor/dingate_GW1/m3_%s/config" % q
        assert cfg["device_class"] == "energy"
        assert cfg["state_class"] == "total_increasing"
        assert cfg["unit_of_measurement"] == "kWh"
        assert cfg["state_topic"] == "dingate/GW1/meter/3/state"
        assert cfg["value_template"] == "{{ value_json.%s }}" % q


def test_other_quantity_classes_and_units():
    u = _by_uid(_all())
    want = {
        "m3_power_w": ("power", "measurement", "W"),
        "m3_voltage_l1": ("voltage", "measurement", "V"),
        "m3_current_l1": ("current", "measurement", "A"),
        "m3_frequency_hz": ("frequency", "measurement", "Hz"),
        "m3_power_factor": ("power_factor", "measurement", None),
        "m7_soc_pct": ("battery", "measurement", "%"),
        "m7_tank_level": (None, "measurement", "L"),
    }
    for obj, (dc, sc, unit) in want.items():
        cfg = u["dingate_GW1_" + obj][1]
        assert cfg.get("device_class") == dc, obj
        assert cfg["state_class"] == sc, obj
        assert cfg.get("unit_of_measurement") == unit, obj


def test_availability_follows_gateway_and_meter():
    u = _by_uid(_all())
    cfg = u["dingate_GW1_m3_power_w"][1]
    assert cfg["availability_mode"] == "all"
    topics = [a["topic"] for a in cfg["availability"]]
    assert topics == ["dingate/GW1/status", "dingate/GW1/meter/3/status"]
    gw = cfg["availability"][0]
    assert gw["payload_available"] == "online" and gw["payload_not_available"] == "offline"
    for _, (_topic, c) in u.items():
        assert c["availability"][0]["topic"] == "dingate/GW1/status"


def test_meter_status_entity():
    topic, cfg = _by_uid(_all())["dingate_GW1_m3_meter_status"]
    assert topic == "homeassistant/sensor/dingate_GW1/m3_meter_status/config"
    assert cfg["device_class"] == "enum"
    assert cfg["options"] == ["ok", "partial", "offline", "error", "disabled"]
    assert cfg["entity_category"] == "diagnostic"
    assert cfg["state_topic"] == "dingate/GW1/meter/3/status"


def test_genset_select_and_relay():
    u = _by_uid(_all())
    topic, sel = u["dingate_GW1_genset_mode"]
    assert topic == "homeassistant/select/dingate_GW1/genset_mode/config"
    assert sel["command_topic"] == "dingate/GW1/cmd/genset/mode"
    assert sel["options"] == ["auto", "on", "off"]
    assert sel["state_topic"] == "dingate/GW1/genset/state"
    assert sel["value_template"] == "{{ value_json.mode }}"
    topic, rel = u["dingate_GW1_genset_relay"]
    assert topic == "homeassistant/binary_sensor/dingate_GW1/genset_relay/config"
    assert rel["payload_on"] == "ON" and rel["payload_off"] == "OFF"
    assert rel["device_class"] == "running"
    assert "value_json.relay" in rel["value_template"]
    topic, svc = u["dingate_GW1_genset_service"]
    assert topic == "homeassistant/binary_sensor/dingate_GW1/genset_service/config"
    assert (svc["device_class"], svc["entity_category"]) == ("problem", "diagnostic")
    assert svc["state_topic"] == "dingate/GW1/genset/state" and "value_json.service_due" in svc["value_template"]


def test_unique_ids_unique_and_stable_across_renames():
    items = _all()
    uids = [cfg["unique_id"] for _, cfg in items]
    assert len(uids) == len(set(uids))
    renamed = [dict(m, name="Renamed") for m in METERS]
    uids2 = [json.loads(p)["unique_id"] for _, p in H.configs(BASE, DEV, "1.2.3", renamed)]
    assert uids == uids2


def test_generator_is_lazy_and_topics_match():
    g = H.configs(BASE, DEV, "1.2.3", METERS)
    assert hasattr(g, "__next__") and not isinstance(g, (list, tuple))
    topics = [t for t, _ in H.configs(BASE, DEV, "1.2.3", METERS)]
    assert topics == list(H.topics("dingate_GW1", METERS))
    assert len(topics) == 3 + (7 + 1 + 1) + (2 + 1)  # the main meter's monthly peak too
    assert [t for t, _ in H.configs(BASE, DEV, "1", METERS, genset=False)] == topics[3:]


def test_a_meter_with_an_import_index_has_its_monthly_peak():
    """The month's quarter-hour peak (core/demand.py) of a meter with import_kwh: a power sensor
    in kW on <base>/meter/<id>/peak, available while the gateway is, even when the meter is
    silent (a month's figure); announced, indexed and removed with the meter."""
    peaks = [(t, json.loads(p)) for t, p in H.configs(BASE, DEV, "1", METERS) if "_month_peak/" in t]
    assert [t for t, _ in peaks] == ["homeassistant/sensor/dingate_GW1/m3_month_peak/config"]
    cfg = peaks[0][1]
    assert cfg["state_topic"] == cfg["json_attributes_topic"] == BASE + "/meter/3/peak"
    assert (cfg["device_class"], cfg["state_class"], cfg["unit_of_measurement"]) == \
        ("power", "measurement", "kW")
    assert cfg["value_template"] == "{{ value_json.kw }}" and len(cfg["availability"]) == 1
    assert peaks[0][0] in [t for t, _ in H.removals("dingate_GW1", METERS[0])]


def test_removals_and_wanted():
    rem = list(H.removals("dingate_GW1", METERS[1]))
    assert [p for _, p in rem] == [b"", b"", b""]
    assert rem[0][0] == "homeassistant/sensor/dingate_GW1/m7_soc_pct/config"
    for t, _ in rem:
        assert H.is_wanted(t, "dingate_GW1", METERS)
        assert not H.is_wanted(t, "dingate_GW1", METERS[:1])
    assert not H.is_wanted("homeassistant/sensor/dingate_GW1/m9_power_w/config",
                           "dingate_GW1", METERS)
    assert H.node_filter("dingate_GW1") == "homeassistant/+/dingate_GW1/+/config"


def test_custom_prefix_and_odd_ids():
    dev = H.device("a.b c", "1")
    assert dev["identifiers"] == ["dingate_a_b_c"]
    m = {"id": "x/y", "name": "", "quantities": ["power_w"]}
    items = list(H.meter_configs("b", dev, "1", m, prefix="ha"))
    assert items[0][0] == "ha/sensor/dingate_a_b_c/mx_y_power_w/config"
    cfg = json.loads(items[0][1])
    assert cfg["state_topic"] == "b/meter/x_y/state"
    assert cfg["name"] == "meter x/y power"


def test_index_and_stale_configs():
    node = "dingate_GW1"
    idx = H.index(METERS)
    assert idx == {"genset": True, "meters": {"3": " ".join(METERS[0]["quantities"]),
                                              "7": "soc_pct tank_level"}}
    # same set: nothing stale
    assert list(H.stale(idx, H.index(METERS), node)) == []
    # meter 7 deleted: all of its configs, status included
    gone = list(H.stale(idx, H.index(METERS[:1]), node))
    assert gone == ["homeassistant/sensor/dingate_GW1/m7_soc_pct/config",
                    "homeassistant/sensor/dingate_GW1/m7_tank_level/config",
                    "homeassistant/sensor/dingate_GW1/m7_meter_status/config"]
    # a quantity dropped from meter 3: only that sensor
    fewer = [dict(METERS[0], quantities=METERS[0]["quantities"][1:]), METERS[1]]
    assert list(H.stale(idx, H.index(fewer), node)) == [
        "homeassistant/sensor/dingate_GW1/m3_import_kwh/config"]
    # discovery switched off: everything, genset included
    everything = list(H.stale(idx, None, node))
    assert sorted(everything) == sorted(H.topics(node, METERS))
    # genset removed
    assert list(H.stale(idx, H.index(METERS, genset=False), node)) == [
        "homeassistant/select/dingate_GW1/genset_mode/config",
        "homeassistant/binary_sensor/dingate_GW1/genset_relay/config",
        "homeassistant/binary_sensor/dingate_GW1/genset_service/config"]
    # no or garbage old index: nothing to delete
    assert list(H.stale(None, idx, node)) == []
    assert list(H.stale({"meters": [1, 2]}, idx, node)) == []
    # the index survives JSON (it is stored retained on the broker)
    assert json.loads(json.dumps(idx)) == idx
    # an index of an earlier version (quantities as a list) is still understood
    old = {"genset": True, "meters": {"3": list(METERS[0]["quantities"]),
                                      "7": ["soc_pct", "tank_level"]}}
    assert list(H.stale(old, idx, node)) == []
    assert list(H.stale(old, H.index(fewer), node)) == [
        "homeassistant/sensor/dingate_GW1/m3_import_kwh/config"]
