"""Plain relay outputs end to end: configured through /api/outputs, announced to Home Assistant
as a switch, switched by MQTT commands on a real mosquitto as HA sends them, and the relay seen
through the emulator's hardware panel (the pin the firmware drives)."""
import json

import pytest

from dingate.testing.broker import MOSQUITTO, Broker
from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.mqtt_collector import Collector

paho = pytest.importorskip("paho.mqtt.client")
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto not installed (make setup)")
BASE = "site/out"
SWITCH = "homeassistant/switch/%s/out_aux/config"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    broker = Broker(tmp_path_factory.mktemp("broker"))
    broker.start()
    sub = Collector(broker.port, [BASE + "/#", "homeassistant/#"], "out-collector")
    emu = EmulatorProcess()
    try:
        emu.start()
        emu.login()
        r = emu.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": broker.port,
                                         "base_topic": BASE, "discovery": True})
        assert r.status_code == 200, r.text
        emu.wait_for(lambda: emu.api("GET", "/api/mqtt").json()["state"]["connected"], timeout=30,
                     what="MQTT connected")
        yield emu, sub
    finally:
        sub.close()
        emu.cleanup()
        broker.stop()


def aux(emu):
    return emu.hw()["relays"]["aux"]


def send(sub, payload):
    """Publish on aux's command topic as Home Assistant does; wait for the gateway's result."""
    start = len(sub.messages())
    sub.publish(BASE + "/cmd/output/aux/set", payload)
    return sub.wait_json(BASE + "/cmd/result", lambda r: r["cmd"] == "output/aux/set", start,
                         what="the result of %r" % (payload,))


def test_only_plain_relays_are_outputs_and_bad_input_names_its_field(site):
    emu, _sub = site
    outs = emu.api("GET", "/api/outputs").json()
    assert [o["id"] for o in outs] == ["aux"]  # the genset relay is not a plain output
    assert outs[0]["configured"] is False and outs[0]["on"] is False
    r = emu.api("PUT", "/api/outputs/genset", {"name": "Pump"})
    assert r.status_code == 400 and r.json()["field"] == "id", r.text
    for body, field in (({"mode": "toggle"}, "mode"), ({"on_ms": 5}, "on_ms"),
                        ({"on": "yes"}, "on"), ({"pin": 3}, "pin"), ({"name": ""}, "name")):
        r = emu.api("PUT", "/api/outputs/aux", body)
        assert r.status_code == 400 and r.json()["field"] == field, (body, r.text)
    assert emu.api("PUT", "/api/outputs/nope", {}).json()["field"] == "id"
    assert emu.api("GET", "/api/outputs/aux").json()["configured"] is False  # nothing saved
    emu.add_users({"user": "viewer", "password": "viewer-pass-42", "role": "user"})
    viewer = emu.session_as("viewer", "viewer-pass-42")
    assert viewer.get(emu.url + "/api/outputs", timeout=10).status_code == 200
    r = viewer.put(emu.url + "/api/outputs/aux", json={"on": True}, timeout=10)
    assert r.status_code == 403, r.text  # the role is checked on the server
    assert aux(emu) is False


def test_configure_switch_over_mqtt_and_see_the_relay(site):
    emu, sub = site
    assert aux(emu) is False
    r = emu.api("PUT", "/api/outputs/aux", {"name": "Pump", "on": True})
    assert r.status_code == 200, r.text
    emu.wait_for(lambda: aux(emu) is True, timeout=15, what="aux relay closed")
    node = "dingate_" + emu.api("GET", "/api/system").json()["serial"]
    cfg = emu.wait_for(lambda: sub.last(SWITCH % node), timeout=15, what="switch discovery")
    cfg = json.loads(cfg)
    assert cfg["name"] == "Pump" and cfg["command_topic"] == BASE + "/cmd/output/aux/set"
    state = emu.wait_for(lambda: sub.last(BASE + "/output/aux/state"), timeout=15)
    assert json.loads(state)["on"] is True
    # Home Assistant's payloads, then a JSON command with a request id
    r = send(sub, "OFF")
    assert r["ok"] is True and r["value"] == "OFF", r
    emu.wait_for(lambda: aux(emu) is False, timeout=10, what="aux relay open")
    emu.wait_for(lambda: json.loads(sub.last(BASE + "/output/aux/state"))["on"] is False,
                 timeout=10, what="state off")
    r = send(sub, json.dumps({"value": True, "req": "r1"}))
    assert r == {"ok": True, "cmd": "output/aux/set", "value": True, "req": "r1"}
    emu.wait_for(lambda: aux(emu) is True, timeout=10, what="aux relay closed again")
    assert emu.api("GET", "/api/outputs/aux").json()["closed"] is True
    assert emu.hw()["relay"] is False  # the genset relay untouched
    bad = send(sub, "maybe")
    assert bad["ok"] is False and bad["field"] == "value"
    assert aux(emu) is True
    events = emu.api("GET", "/api/events").json()
    texts = [e["text"] for e in events]
    assert "Pump switched off by MQTT" in texts and "Pump switched on by MQTT" in texts, texts[-8:]


def test_pulse_mode_and_removal(site):
    emu, sub = site
    r = emu.api("PUT", "/api/outputs/aux", {"mode": "pulse", "on_ms": 1500, "on": False})
    assert r.status_code == 200 and r.json()["mode"] == "pulse", r.text
    emu.wait_for(lambda: aux(emu) is False, timeout=10, what="aux open")
    assert send(sub, "ON")["ok"] is True
    emu.wait_for(lambda: aux(emu) is True, timeout=10, what="pulse start")
    emu.wait_for(lambda: aux(emu) is False, timeout=10, what="pulse end")
    assert emu.api("GET", "/api/outputs/aux").json()["on"] is True  # the command stays on
    node = "dingate_" + emu.api("GET", "/api/system").json()["serial"]
    assert emu.api("DELETE", "/api/outputs/aux").status_code == 200
    emu.wait_for(lambda: sub.last(SWITCH % node) == b"", timeout=15, what="switch deleted")
    assert emu.api("GET", "/api/outputs/aux").json()["configured"] is False
    assert emu.api("DELETE", "/api/outputs/aux").status_code == 404
    r = send(sub, "ON")
    assert r["ok"] is False and r["field"] == "output"
    assert aux(emu) is False
