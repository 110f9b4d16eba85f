"""Every Home Assistant discovery config the firmware core produces, validated by Home Assistant's
own code (issue 14): the MQTT platforms' DISCOVERY_SCHEMA and PLATFORM_SCHEMA_MODERN, and the
sensor units / state classes HA allows per device_class (tests/integration/ha_schema_check.py,
run by the python of .venv-ha, installed here when missing: `make test-ha`'s Home Assistant)."""
import json
import os
import subprocess

from dingate.paths import ROOT
from dingate.testing import homeassistant
from gateway.core import ha_discovery as H
from gateway.core import profiles, quantities

CHECKER = os.path.join(ROOT, "tests", "integration", "ha_schema_check.py")
BASE = "dingate/GW1"
# a generic meter's own names and units: a counter in kWh (energy), in litres, a plain value
GENERIC = [("heat_kwh", "kWh"), ("flow_l", "L"), ("tank_level", "cm"), ("pressure", "bar")]


def library_quantities():
    """Quantity names of every profile of the library (hidden rows left out)."""
    out = []
    for name in profiles.names():
        if name in profiles.BUILTIN:
            continue
        for s in profiles.registers({"profile": name}, False):
            q = s["quantity"]
            if q[0] != "_" and q not in out:
                out.append(q)
    return out


def all_configs():
    dev = H.device("GW1", "1.2.3", model="DG-1", configuration_url="http://192.168.1.50/")
    lib = library_quantities()
    assert "power_w" in lib and "import_kwh" in lib, lib
    meters = [
        {"id": "1", "name": "Every catalogued quantity", "quantities": list(quantities.names())},
        {"id": "2", "name": "Library", "quantities": lib},
        {"id": "g 3", "name": "Generic", "quantities": GENERIC},
    ]
    out = []
    outputs = [{"id": "aux", "name": "Pump"}, {"id": "ch 3", "name": ""}]  # plain relay outputs
    for topic, payload in H.configs(BASE, dev, "1.2.3", meters, genset=True, outputs=outputs):
        out.append([topic, json.loads(payload)])
    return out


def _check(path, items):
    """Home Assistant's own schemas (ha_schema_check.py, in .venv-ha) on the discovery
    ``items`` [[topic, config]], written to ``path``: the checker's result."""
    path.write_text(json.dumps(items))
    py = os.path.join(homeassistant.VENV, "bin", "python")
    r = subprocess.run([py, CHECKER, str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_every_discovery_config_passes_home_assistants_own_validation(tmp_path):
    homeassistant.install()  # idempotent; a fresh machine: ~2 min
    items = all_configs()
    comps = set(t.split("/")[1] for t, _ in items)
    assert comps == {"sensor", "select", "binary_sensor", "switch"}, comps
    assert sum(1 for _t, c in items if "suggested_display_precision" in c) >= 30
    result = _check(tmp_path / "configs.json", items)
    assert result["checked"] == len(items) and result["version"] == "2024.3.3"
    assert result["errors"] == [], "\n".join(result["errors"])


def test_the_checker_catches_what_home_assistant_rejects(tmp_path):
    """The checker is not vacuous: configs HA refuses or misreads are reported."""
    homeassistant.install()
    good = dict(all_configs()[-2][1])  # a numeric sensor of the generic meter
    switch = next(c for t, c in all_configs() if "/switch/" in t)
    bad = [
        ["homeassistant/sensor/x/a/config", dict(good, state_class="total_increasing",
                                                  device_class="power")],
        ["homeassistant/sensor/x/b/config", dict(good, device_class="voltage",
                                                  unit_of_measurement="kWh")],
        ["homeassistant/sensor/x/c/config", dict(good, suggested_display_precision=-1)],
        ["homeassistant/sensor/x/d/config", dict(good, typo_key=1)],
        ["homeassistant/binary_sensor/x/e/config", dict(good, device_class="spinning")],
        ["homeassistant/switch/x/f/config", dict(switch, device_class="lamp")],
        ["homeassistant/switch/x/g/config", dict(switch, payload_on=None, state_topic=7)],
    ]
    del bad[0][1]["suggested_display_precision"]
    errors = _check(tmp_path / "bad.json", bad)["errors"]
    for key in ("x/a/", "x/b/", "x/c/", "x/d/", "x/e/", "x/f/", "x/g/"):
        assert any(key in e for e in errors), (key, errors)
    assert any("suggested_display_precision" in e and "x/a/" in e for e in errors), errors
