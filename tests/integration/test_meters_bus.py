"""Issue 3 end to end: the emulated gateway reads an outside RTU line (`--bus tcp://`) served by
pymodbus — SDM630, SDM120 and a generic device — and flags a dead address while the others
keep updating. Meters are configured through the HTTP API like an installer would."""
import struct

import pytest

from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.rtu_peer import RtuPeer

WORLD = {"devices": [
    {"type": "sdm630", "address": 1, "name": "Main"},
    {"type": "sdm120", "address": 2, "name": "Sub"},
    {"type": "generic", "address": 5, "name": "Generic"},
]}

GENERIC_REGS = [
    {"quantity": "voltage_l1", "function": 3, "register": "0x0012", "type": "f32"},
    {"quantity": "voltage_l2", "function": 4, "register": "0x0014", "type": "f32", "word_order": "little"},
    {"quantity": "power_w", "function": 3, "register": 6, "type": "s32"},
    {"quantity": "current_l1", "function": 3, "register": 0, "type": "u16", "scale": 0.001},
    {"quantity": "import_kwh", "function": 3, "register": "0x0004", "type": "u32",
     "word_order": "little", "scale": 0.000001},
]


def f32(x):
    return struct.unpack(">f", struct.pack(">f", x))[0]


def eastron_value(peer, address, register):
    inputs, _holding = peer.registers(address)
    hi, lo = inputs[register], inputs[register + 1]
    return struct.unpack(">f", struct.pack(">2H", hi, lo))[0]


@pytest.fixture(scope="module")
def line():
    peer = RtuPeer(WORLD)
    yield peer
    peer.stop()


@pytest.fixture(scope="module")
def gateway(line):
    with EmulatorProcess(bus=line.url) as emu:
        emu.login()
        emu.add_meters(
            {"name": "Main meter", "address": 1, "profile": "sdm630"},
            {"name": "Sub meter", "address": 2, "profile": "sdm120"},
            {"name": "Generic dev", "address": 5, "profile": "generic", "registers": GENERIC_REGS},
            {"name": "Nobody here", "address": 42, "profile": "sdm120"})
        yield emu


def _by_name(emu):
    meters = {m["name"]: m["id"] for m in emu.api("GET", "/api/meters").json()}
    readings = emu.api("GET", "/api/readings").json()
    return {name: readings.get(mid) for name, mid in meters.items()}


def test_every_profile_is_read_right(gateway, line):
    got = gateway.wait_for(lambda: (lambda r: r if all(
        r[n] and r[n]["status"] == "ok" for n in ("Main meter", "Sub meter", "Generic dev")) else None)(
        _by_name(gateway)), timeout=30, what="three meters ok")
    main = got["Main meter"]["values"]
    assert main["voltage_l1"] == pytest.approx(eastron_value(line, 1, 0x00), abs=3)
    assert 180 < main["voltage_l1"] < 260 and 49 < main["frequency_hz"] < 51
    assert main["import_kwh"] == pytest.approx(eastron_value(line, 1, 0x48), rel=1e-4)
    assert set(main) >= {"voltage_l2", "voltage_l3", "current_l3", "power_w", "export_kwh"}
    sub = got["Sub meter"]["values"]
    assert sub["import_kwh"] == pytest.approx(eastron_value(line, 2, 0x48), rel=1e-4)
    gen = got["Generic dev"]["values"]
    assert gen["voltage_l1"] == pytest.approx(230.5)
    assert gen["voltage_l2"] == pytest.approx(230.5)
    assert gen["power_w"] == -123456789
    assert gen["current_l1"] == pytest.approx(12.345)
    assert gen["import_kwh"] == pytest.approx(0x12345678 * 1e-6)


def test_dead_address_is_flagged_while_others_keep_updating(gateway, line):
    def dead_offline():
        r = _by_name(gateway)
        return r if r["Nobody here"] and r["Nobody here"]["status"] == "offline" else None

    first = gateway.wait_for(dead_offline, timeout=30, what="address 42 offline")
    ts0 = first["Main meter"]["ts"]
    later = gateway.wait_for(lambda: (lambda r: r if r["Main meter"]["ts"] >= ts0 + 2 else None)(
        _by_name(gateway)), timeout=15, what="main meter still updating")
    assert later["Main meter"]["status"] == "ok"
    assert later["Nobody here"]["status"] == "offline"
    meters = {m["name"]: m for m in gateway.api("GET", "/api/meters").json()}
    assert meters["Nobody here"]["counters"]["timeouts"] >= 1
    assert meters["Main meter"]["counters"]["ok"] >= 1


def test_changes_show_up_within_a_cycle_or_two(gateway, line):
    before = _by_name(gateway)["Main meter"]["values"]["import_kwh"]
    line.advance(6 * 3600)  # six hours of consumption on the outside meter
    want = eastron_value(line, 1, 0x48)
    assert want > before
    gateway.wait_for(lambda: _by_name(gateway)["Main meter"]["values"]["import_kwh"] >= want - 0.01,
                     timeout=10, what="new import_kwh read")


def test_test_button_reads_now_or_says_why(gateway):
    meters = {m["name"]: m["id"] for m in gateway.api("GET", "/api/meters").json()}
    ok = gateway.api("POST", "/api/meters/%s/test" % meters["Sub meter"]).json()
    assert ok["ok"] is True and "voltage_l1" in ok["values"]
    dead = gateway.api("POST", "/api/meters/%s/test" % meters["Nobody here"]).json()
    assert dead["ok"] is False and dead["error"]


def test_bad_meter_is_400_with_field_and_changes_nothing(gateway):
    before = gateway.api("GET", "/api/meters").json()
    cases = [
        ({"name": "Dup", "address": 1, "profile": "sdm120"}, "address"),
        ({"name": "ok name", "address": 300, "profile": "sdm120"}, "address"),
        ({"name": "ab", "address": 7, "profile": "sdm120"}, "name"),
        ({"name": "Main meter", "address": 7, "profile": "sdm120"}, "name"),
        ({"name": "x-meter", "address": 7, "profile": "nope"}, "profile"),
        ({"name": "gen-bad", "address": 8, "profile": "generic",
          "registers": [{"quantity": "power_w", "function": 3, "register": 1, "type": "u17"}]},
         "registers[0].type"),
    ]
    for body, field in cases:
        r = gateway.api("POST", "/api/meters", body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
    assert gateway.api("GET", "/api/meters").json().__len__() == len(before)


def test_roles_are_checked_on_the_server(gateway):
    r = gateway.api("POST", "/api/users", {"user": "viewer", "password": "viewer-pass-1", "role": "user"})
    assert r.status_code == 201, r.text
    viewer = EmulatorProcess.__new__(EmulatorProcess)
    viewer.__dict__.update(gateway.__dict__)
    import requests

    viewer.session = requests.Session()
    viewer.login("viewer", "viewer-pass-1")
    assert viewer.api("GET", "/api/readings").status_code == 200
    assert viewer.api("POST", "/api/meters", {"name": "sneaky", "address": 9, "profile": "sdm120"}).status_code == 403
    assert viewer.api("PUT", "/api/bus", {"baud": 19200}).status_code == 403
