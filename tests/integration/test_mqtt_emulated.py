"""Issue 7 end to end: the emulated gateway pointed at a real mosquitto through the HTTP API
publishes every recorded sample, announces Home Assistant discovery, and after a broker outage
delivers what it recorded meanwhile, in order, nothing lost."""
import json
import threading
import time

import pytest

from dingate.testing.broker import MOSQUITTO, Broker
from dingate.testing.emuproc import EmulatorProcess

paho = pytest.importorskip("paho.mqtt.client")
pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto not installed (make setup)")
BASE = "site/test"


class Collector:
    def __init__(self, port):
        self.msgs = []
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="collector", clean_session=False)
        self.c.on_message = self._on
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe([(BASE + "/#", 1), ("homeassistant/#", 1)])
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on(self, c, u, m):
        with self.lock:
            self.msgs.append((m.topic, m.payload, m.retain))

    def samples(self):
        with self.lock:
            return [json.loads(p) for t, p, _r in self.msgs if t.endswith("/sample")]

    def topics(self):
        with self.lock:
            return [t for t, _p, _r in self.msgs]

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    broker = Broker(tmp_path_factory.mktemp("broker"))
    broker.start()
    sub = Collector(broker.port)
    emu = EmulatorProcess()
    try:
        emu.start()
        emu.login()
        assert emu.api("PUT", "/api/settings", {"sample_interval_s": 5, "flush_interval_s": 5}).status_code == 200
        for body in ({"name": "Main meter", "address": 1, "profile": "sdm630", "role": "grid"},
                     {"name": "Workshop", "address": 2, "profile": "sdm120"}):
            assert emu.api("POST", "/api/meters", body).status_code == 201
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


def test_home_assistant_discovery_is_retained(site):
    emu, _b, sub = site
    emu.wait_for(lambda: any(t.startswith("homeassistant/") and t.endswith("/config") for t in sub.topics()),
                 timeout=30, what="discovery configs")
    cfgs = [(t, p) for t, p, r in sub.msgs if t.startswith("homeassistant/") and p]
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
