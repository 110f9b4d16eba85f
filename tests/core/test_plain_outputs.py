"""Plain relay outputs: the validators of /api/outputs (core/outputs.py) and the service that
drives the relays from the commands (services/outputs.py), with fake relays and ticks."""
from _assert import raises

from gateway.core.errors import ValidationError
from gateway.core.event_codes import text
from gateway.core.outputs import (
    OUTPUT_DEFAULTS,
    check_id,
    plain_ids,
    validate_outputs,
    validate_plain_output,
)
from gateway.services.outputs import OutputService

RELAYS = [{"name": "genset", "pin": 26}, {"name": "aux", "pin": 27},
          {"name": "ch3", "pin": 41, "active_high": False}]


def test_plain_ids_leave_the_genset_relay_out():
    assert plain_ids(RELAYS) == ["aux", "ch3"]
    assert plain_ids([]) == [] and plain_ids(None) == []
    assert plain_ids([{"pin": 3}, "junk", {"name": 5}]) == []


def test_genset_relay_is_refused_as_a_plain_output():
    e = raises(ValidationError, check_id, "genset", RELAYS)
    assert e.field == "id" and "generator" in e.message
    assert raises(ValidationError, check_id, "ch9", RELAYS).field == "id"
    assert check_id("aux", RELAYS) == "aux"


def test_defaults_and_partial_updates():
    d = validate_plain_output("aux", {})
    want = dict(OUTPUT_DEFAULTS)
    want.update({"name": "aux", "power_on": "off"})
    assert d == want
    d2 = validate_plain_output("aux", {"name": " Pump ", "mode": "pulse", "on_ms": 500}, d)
    assert d2["name"] == "Pump" and d2["mode"] == "pulse" and d2["on_ms"] == 500
    d3 = validate_plain_output("aux", {"contact": "nc"}, d2)
    assert d3["name"] == "Pump" and d3["mode"] == "pulse" and d3["contact"] == "nc"


def test_bad_fields_are_named():
    cases = [({"name": ""}, "name"), ({"name": "x" * 32}, "name"), ({"name": 3}, "name"),
             ({"power_on": "last"}, "power_on"), ({"mode": "toggle"}, "mode"),
             ({"on_ms": 50}, "on_ms"), ({"off_ms": 1.5}, "off_ms"), ({"pin": 4}, "pin"),
             ({"contact": None}, "contact"), ({"name": "a\nb"}, "name")]
    for body, field in cases:
        assert raises(ValidationError, validate_plain_output, "aux", body).field == field, body
    assert raises(ValidationError, validate_plain_output, "aux", [1]).field is None


def test_stored_document_is_checked_against_the_board():
    doc = {"aux": {"name": "Pump"}, "ch3": {"mode": "blink"}}
    out = validate_outputs(doc, RELAYS)
    assert out["aux"]["name"] == "Pump" and out["ch3"]["mode"] == "blink"
    assert raises(ValidationError, validate_outputs, {"genset": {}}, RELAYS).field == "genset"
    assert raises(ValidationError, validate_outputs, {"aux": {"on_ms": 1}}, RELAYS).field == \
        "aux.on_ms"
    assert raises(ValidationError, validate_outputs, {"aux": 1}, RELAYS).field == "aux"


class FakeRelay:
    def __init__(self, pin, normally_closed=False, active_high=True):
        self.pin = pin
        self.value = False


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def service(config, clock=None):
    events = []
    changes = []
    svc = OutputService(RELAYS, config, log_event=lambda t, s, c, p: events.append((t, s, text(c, p))),
                        on_change=lambda: changes.append(1), ticks_ms=clock or Clock(),
                        make_relay=FakeRelay)
    return svc, events, changes


def test_service_drives_only_plain_relays_and_logs_switching():
    svc, events, changes = service({"aux": {"name": "Pump", "contact": "no", "mode": "maintained",
                                            "on_ms": 1000, "off_ms": 1000, "edges": "rising",
                                            "power_on": "off"}})
    assert sorted(svc.items) == ["aux", "ch3"]
    assert svc.configured("aux") and not svc.configured("ch3") and not svc.configured("genset")
    assert svc.configured_list() == [{"id": "aux", "name": "Pump"}]
    assert svc.switch("aux", True, "MQTT") is True
    v = svc.view("aux")
    assert v["on"] is True and v["closed"] is True and v["configured"] and v["name"] == "Pump"
    assert events == [("state", "output aux", "Pump switched on by MQTT")] and changes
    svc.switch("aux", True, "MQTT")  # no change: nothing logged
    assert len(events) == 1
    svc.switch("aux", False, "admin")
    assert svc.view("aux")["closed"] is False and events[-1][2] == "Pump switched off by admin"


def test_pulse_output_opens_after_on_ms_and_power_on():
    clock = Clock()
    cfg = validate_plain_output("aux", {"mode": "pulse", "on_ms": 500})
    svc, _e, _c = service({"aux": cfg, "ch3": validate_plain_output("ch3", {"power_on": "on"})},
                          clock)
    assert svc.view("ch3")["on"] is True and svc.view("ch3")["closed"] is True
    svc.switch("aux", True, "admin")
    assert svc.view("aux")["closed"] is True
    clock.t = 200
    assert svc.step() == 300
    clock.t = 500
    svc.step()
    assert svc.view("aux")["closed"] is False and svc.view("aux")["on"] is True


def test_configure_keeps_the_command_and_remove_switches_off():
    svc, _e, _c = service({})
    assert svc.configured_list() == []
    svc.switch("ch3", True, "admin")
    svc.configure("ch3", validate_plain_output("ch3", {"name": "Lights", "contact": "nc"}))
    svc.step()
    v = svc.view("ch3")
    assert v["configured"] and v["on"] is True and v["closed"] is False  # NC: open when active
    svc.remove("ch3")
    svc.step()
    v = svc.view("ch3")
    assert not v["configured"] and v["on"] is False and v["name"] == "ch3" and not v["closed"]
    svc.stop()
    assert all(it[1].value is False for it in svc.items.values())


def test_switch_discovery_follows_the_configured_outputs():
    import json

    from gateway.core import ha_discovery as H

    dev = H.device("GW1", "1")
    node = "dingate_GW1"
    outs = [{"id": "aux", "name": "Pump"}]
    items = list(H.configs("b", dev, "1", [], genset=False, outputs=outs))
    assert [t for t, _ in items] == ["homeassistant/switch/dingate_GW1/out_aux/config"]
    assert list(H.topics(node, [], genset=False, outputs=outs)) == [items[0][0]]
    cfg = json.loads(items[0][1])
    assert cfg["command_topic"] == "b/cmd/output/aux/set"
    assert cfg["state_topic"] == "b/output/aux/state" and cfg["name"] == "Pump"
    assert cfg["unique_id"] == "dingate_GW1_out_aux" and cfg["payload_on"] == "ON"
    idx = H.index([], False, outs)
    assert idx["outputs"] == ["aux"] and "outputs" not in H.index([], False)
    assert list(H.stale(idx, H.index([], False), node)) == [items[0][0]]
    assert list(H.stale(idx, None, node)) == [items[0][0]]
    assert list(H.stale(idx, idx, node)) == []


def test_backup_restores_outputs_for_this_board_only():
    from gateway.core import backup

    head = {"format": "dingate-backup", "version": 1, "serial": "DG1", "firmware": "0.1.0"}
    cur = {"serial": "DG1", "users": {}, "relays": RELAYS}
    plan = backup.check_restore(dict(head, outputs={"aux": {"name": "Pump"}}), cur)
    assert plan["docs"]["outputs"]["aux"]["name"] == "Pump"
    e = raises(ValidationError, backup.check_restore, dict(head, outputs={"ch9": {}}), cur)
    assert e.field == "outputs.ch9"
    e = raises(ValidationError, backup.check_restore,
               dict(head, outputs={"aux": {"mode": "x"}}), cur)
    assert e.field == "outputs.aux.mode"
