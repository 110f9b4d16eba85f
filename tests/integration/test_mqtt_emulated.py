"""Issue 7 end to end: the emulated gateway pointed at a real mosquitto through the HTTP API
publishes every recorded sample, announces Home Assistant discovery, and after a broker outage
delivers what it recorded meanwhile, in order, nothing lost."""
import json
import time

import pytest

from dingate.testing.broker import MOSQUITTO, Broker
from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.mqtt_collector import Collector as MqttCollector
from dingate.testing.poll import wait_until

paho = pytest.importorskip("paho.mqtt.client")
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto not installed (make setup)")
BASE = "site/test"


class Collector(MqttCollector):
    def samples(self):
        return [json.loads(p) for t, p, _r in self.messages() if t.endswith("/sample")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    broker = Broker(tmp_path_factory.mktemp("broker"))
    broker.start()
    sub = Collector(broker.port, [BASE + "/#", "homeassistant/#"], clean_session=False)
    emu = EmulatorProcess()
    try:
        emu.start()
        emu.login()
        assert emu.api("PUT", "/api/settings", {"sample_interval_s": 5, "flush_interval_s": 5}).status_code == 200
        emu.add_meters({"name": "Main meter", "address": 1, "profile": "sdm630", "role": "grid"},
                       {"name": "Workshop", "address": 2, "profile": "sdm120"})
        r = emu.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": broker.port, "base_topic": BASE,
                                         "user": "gw", "password": "s3cret-token", "discovery": True})
        assert r.status_code == 200, r.text
        yield emu, broker, sub
    finally:
        sub.close()
        emu.cleanup()
        broker.stop()


def test_password_is_write_only(site):
    emu, _b, _s = site
    body = emu.api("GET", "/api/mqtt").text
    assert "s3cret-token" not in body
    assert json.loads(body)["password_set"] is True


def test_samples_are_published_with_ts_and_quantities(site):
    emu, _b, sub = site
    got = emu.wait_for(lambda: len(sub.samples()) >= 4 and sub.samples(), timeout=60,
                       what="samples on the broker")
    s = got[0]
    assert {"id", "meter", "ts"} <= set(s) and "import_kwh" in s
    assert emu.wait_for(lambda: emu.api("GET", "/api/mqtt").json()["state"]["connected"], timeout=10)


MQTT_TASKS = ("mqtt", "mqtt-reader", "mqtt-pinger", "mqtt-forward", "mqtt-live", "mqtt-work",
              "mqtt-discovery")


def test_uplink_tasks_run_under_the_supervisor(site):
    """The client's connection loop, its reader and pinger and the uplink's own tasks are
    named tasks of the supervisor (services/tasks.py): listed, alive, while connected."""
    emu, _b, _s = site
    emu.wait_for(lambda: emu.api("GET", "/api/mqtt").json()["state"]["connected"], timeout=30,
                 what="the uplink connected")
    tasks = emu.api("GET", "/api/system/tasks").json()
    for name in MQTT_TASKS:
        assert name in tasks, (name, sorted(tasks))
        assert tasks[name]["done"] is False, (name, tasks[name])
        assert tasks[name]["restarts"] == 0, (name, tasks[name])


def test_published_values_are_rounded(site):
    """Live states carry what the meter resolves (a float32: 7 significant digits, 0.97 not
    0.9700000286102295), samples the catalogued decimals (quantities.round_value / decimals)."""
    from gateway.core.quantities import decimals

    emu, _b, sub = site

    def payloads(kind):
        return [json.loads(p) for t, p, _r in sub.messages()
                if t.startswith(BASE + "/meter/") and t.endswith("/" + kind)]

    states = emu.wait_for(lambda: payloads("state"), timeout=60, what="live states")
    samples = emu.wait_for(lambda: payloads("sample"), timeout=60, what="samples")
    checked = 0
    for d in states:
        for k, v in d.items():
            if isinstance(v, float) and k != "ts":
                assert float("%.7g" % v) == v, (k, v)
                checked += 1
    for d in samples:
        for k, v in d.items():
            if isinstance(v, float) and k not in ("ts", "id"):
                assert round(v, decimals(k)) == v, (k, v)
                checked += 1
    assert checked >= 10, (states[:1], samples[:1])


def test_home_assistant_discovery_is_retained(site):
    emu, _b, sub = site
    emu.wait_for(lambda: any(t.startswith("homeassistant/") and t.endswith("/config") for t in sub.topics()),
                 timeout=30, what="discovery configs")
    cfgs = [(t, p) for t, p, r in sub.messages() if t.startswith("homeassistant/") and p]
    energy = [json.loads(p) for t, p in cfgs if b'"total_increasing"' in p]
    assert energy, cfgs[:3]
    e = energy[0]
    assert e["device_class"] == "energy" and e["unit_of_measurement"] == "kWh"
    assert e["state_topic"].startswith(BASE)


def test_broker_outage_loses_nothing(site):
    emu, broker, sub = site
    emu.wait_for(lambda: len(sub.samples()) >= 2, timeout=60)
    broker.stop()
    time.sleep(12)  # the outage itself: samples keep being recorded on the gateway's flash
    broker.start()
    t_back = time.time()
    emu.wait_for(lambda: any(s["ts"] >= t_back for s in sub.samples()), timeout=60,
                 what="live samples after the outage")
    for meter in {s["meter"] for s in sub.samples()}:
        ts = sorted({s["ts"] for s in sub.samples() if s["meter"] == meter})
        gaps = [b - a for a, b in zip(ts, ts[1:]) if b - a != 5]
        assert not gaps, (meter, ts)  # every 5 s sample arrived, outage included
    seen, first = {}, []
    for s in sub.samples():
        if s["id"] not in seen:
            seen[s["id"]] = s
            first.append(s["ts"])
        assert seen[s["id"]] == s  # a repeat carries the same id and content
    assert first == sorted(first)  # delivered in the order recorded


def _command(sub, topic, payload, timeout=10):
    """Publish a command with a request id and wait for its result on <base>/cmd/result."""
    req = "r%d" % (len(sub.messages()) + int(time.time() * 1000) % 100000)
    body = payload if isinstance(payload, dict) else {"value": payload}
    sub.publish(BASE + "/cmd/" + topic, json.dumps(dict(body, req=req)))
    return sub.wait_json(BASE + "/cmd/result", lambda r: r.get("req") == req, timeout=timeout,
                         what="the result of %s" % topic)


def test_remote_commands_are_acknowledged_and_validated(site):
    emu, _b, sub = site
    emu.wait_for(lambda: emu.api("GET", "/api/mqtt").json()["state"]["connected"], timeout=30)
    r = _command(sub, "settings/sample_interval_s", 7)
    assert r == {"ok": True, "cmd": "settings/sample_interval_s", "value": 7, "req": r["req"]}
    assert emu.api("GET", "/api/settings").json()["sample_interval_s"] == 7
    bad = _command(sub, "settings/sample_interval_s", 1)
    assert bad["ok"] is False and bad["field"] == "sample_interval_s"
    assert emu.api("GET", "/api/settings").json()["sample_interval_s"] == 7  # unchanged
    meter = emu.api("GET", "/api/meters").json()[1]["id"]
    r = _command(sub, "meter/%s/enabled" % meter, False)
    assert r["ok"] is True, r
    assert emu.api("GET", "/api/meters/" + meter).json()["enabled"] is False
    assert _command(sub, "meter/%s/enabled" % meter, True)["ok"] is True
    assert emu.api("GET", "/api/meters/" + meter).json()["enabled"] is True
    assert _command(sub, "meter/99/enabled", True)["field"] == "meter"
    r = _command(sub, "genset/start", 600)
    assert r["ok"] is False and "not configured" in r["error"]
    assert _command(sub, "relay/unknown", 1)["error"] == "unknown command"
    assert _command(sub, "settings/sample_interval_s", 5)["ok"] is True
    events = emu.api("GET", "/api/events").json()
    assert any("by MQTT" in e["text"] for e in events), events[-5:]


def test_remote_commands_are_rate_limited(site):
    emu, _b, sub = site
    # 25 in a row: at most one new minute begins among them, so at most 2 x 12 get through
    results = [_command(sub, "meter/99/enabled", True) for _ in range(25)]
    limited = [r for r in results if "too many commands" in r.get("error", "")]
    assert limited, results
    assert all(not r["ok"] for r in results)


def test_stopping_the_uplink_ends_and_forgets_its_tasks(site):
    """Last in this file: switching MQTT off ends every uplink task (the broker gets the
    "offline" status the stop publishes) and the supervisor's list forgets them; on again,
    they are back."""
    emu, _b, sub = site
    status = BASE + "/status"
    r = emu.api("PUT", "/api/mqtt", {"enabled": False})
    assert r.status_code == 200, r.text

    def gone():
        tasks = emu.api("GET", "/api/system/tasks").json()
        return not [n for n in tasks if n in MQTT_TASKS]

    emu.wait_for(gone, timeout=30, what="the MQTT tasks forgotten")
    wait_until(lambda: sub.last(status) == b"offline", 10, "the offline status")
    assert emu.api("GET", "/api/mqtt").json()["state"]["connected"] is False
    r = emu.api("PUT", "/api/mqtt", {"enabled": True})
    assert r.status_code == 200, r.text
    emu.wait_for(lambda: emu.api("GET", "/api/mqtt").json()["state"]["connected"], timeout=30,
                 what="the uplink connected again")
    tasks = emu.api("GET", "/api/system/tasks").json()
    assert all(n in tasks and not tasks[n]["done"] for n in MQTT_TASKS), sorted(tasks)
