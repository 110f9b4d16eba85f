"""Bounded resources at their bound, through the emulated gateway (docs/memory.md lists every
bound and the test that holds it): Wi-Fi scan results in a crowded place."""
import json
import os

from dingate.testing.emuproc import EmulatorProcess

MAX_NETWORKS = 24  # gateway.drivers.wifi.MAX_NETWORKS


def test_wifi_scan_results_are_bounded(tmp_path):
    nets = [{"ssid": "net-%02d" % i, "rssi": -40 - i, "password": "pw-%02d-secret" % i}
            for i in range(60)]
    nets.append({"ssid": "net-05", "rssi": -90, "password": "x"})  # same SSID, weaker: once
    scenario = tmp_path / "crowded.json"
    scenario.write_text(json.dumps({"devices": [], "wifi": {"networks": nets}}))
    with EmulatorProcess(scenario=str(scenario)) as emu:
        emu.login()
        r = emu.api("GET", "/api/wifi/scan", timeout=30)
        assert r.status_code == 200, r.text
        got = r.json()
        assert len(got) == MAX_NETWORKS
        assert [n["ssid"] for n in got] == ["net-%02d" % i for i in range(MAX_NETWORKS)]
        assert [n["rssi"] for n in got] == sorted((n["rssi"] for n in got), reverse=True)
        assert os.path.exists(emu.log_path) and "MemoryError" not in emu.log()


def test_mqtt_event_queue_is_bounded_during_an_outage(tmp_path):
    """While the broker is away events queue up to the uplink's bound (MAX_EVENTS, the oldest
    dropped and counted); after it returns, at most that many are published, the newest kept."""
    import pytest

    from dingate.testing.broker import MOSQUITTO, Broker
    from dingate.testing.mqtt_collector import Collector

    if not MOSQUITTO:
        pytest.fail("mosquitto is not installed (host/system-packages.txt)")
    max_events = 32  # gateway.services.uplink.MAX_EVENTS
    broker = Broker(tmp_path)  # its port is known; it is not started yet: an outage
    with EmulatorProcess() as emu:
        emu.login()
        r = emu.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": broker.port,
                                         "base_topic": "bound/gw", "discovery": False})
        assert r.status_code == 200, r.text
        for i in range(max_events + 12):
            assert emu.api("PUT", "/api/settings", {"location": "site-%02d" % i}).status_code == 200
        broker.start()
        try:
            sub = Collector(broker.port, ["bound/gw/events"], "bound-sub")
            emu.wait_for(lambda: len(sub.messages()) >= max_events, timeout=90,
                         what="the queued events")
            emu.wait_for(lambda: emu.api("GET", "/api/mqtt").json()["state"]["events"] ==
                         len(sub.messages()), timeout=30, what="every published event received")
            state = emu.api("GET", "/api/mqtt").json()["state"]
            sub.close()
        finally:
            broker.stop()
        got = [json.loads(p) for _t, p, _r in sub.messages()]
        changed = [e for e in got if "settings" in e.get("text", "")]
        assert len(got) <= max_events + 4, len(got)  # + what the reconnection itself logged
        assert state["events_dropped"] >= 12, state  # 44 settings events into 32 places
        assert len(changed) <= max_events and changed[-1] is got[len(changed) - 1]
        assert "MemoryError" not in emu.log()
