"""The read-only Modbus TCP server end to end: an emulated gateway (demo devices: SDM630 at 1,
SDM120 at 2) configured through the HTTP API, read by pymodbus' TCP client; the floats match
GET /api/readings, writes and unknown units get Modbus exceptions (docs/modbus-tcp-map.md)."""
import math
import struct

import pytest

from dingate.testing.emuproc import EmulatorProcess, free_port

pymodbus = pytest.importorskip("pymodbus")
from pymodbus.client import ModbusTcpClient  # noqa: E402

QUANTITIES = ("voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2", "current_l3",
              "power_w", "frequency_hz", "power_factor", "import_kwh", "export_kwh", "soc_pct",
              "battery_v")
BLOCK = 2 + 2 * len(QUANTITIES)
DEAD = 20  # no device answers there


@pytest.fixture(scope="module")
def gw():
    emu = EmulatorProcess()
    try:
        emu.start()
        emu.login()
        ids = {}
        for name, address, profile in (("Main meter", 1, "sdm630"), ("Workshop", 2, "sdm120"),
                                       ("Nobody home", DEAD, "sdm120")):
            r = emu.api("POST", "/api/meters", {"name": name, "address": address, "profile": profile})
            assert r.status_code == 201, r.text
            ids[address] = r.json()["id"]
        port = free_port()
        r = emu.api("PUT", "/api/modbus-tcp", {"enabled": True, "port": port})
        assert r.status_code == 200, r.text
        emu.wait_for(lambda: emu.api("GET", "/api/modbus-tcp").json()["state"]["running"],
                     timeout=10, what="Modbus TCP server running")
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
        assert client.connect()
        yield emu, client, ids, port
        client.close()
    finally:
        emu.cleanup()


def floats(registers):
    return [struct.unpack(">f", struct.pack(">HH", registers[i], registers[i + 1]))[0]
            for i in range(2, len(registers), 2)]


def same_f32(a, b):
    return a == b or abs(a - b) <= 2e-7 * max(abs(a), abs(b))


def test_floats_match_the_readings_api(gw):
    emu, client, ids, _ = gw
    emu.wait_for(lambda: all(emu.api("GET", "/api/readings").json()[ids[a]]["status"] == "ok"
                             for a in (1, 2)), timeout=15, what="both meters ok")
    for address in (1, 2):
        mid = ids[address]
        for _ in range(20):  # a snapshot the poller did not replace while we read
            before = emu.api("GET", "/api/readings").json()[mid]
            rr = client.read_input_registers(0, count=BLOCK, device_id=address)
            after = emu.api("GET", "/api/readings").json()[mid]
            if before == after:
                break
        else:
            pytest.fail("readings kept changing under the Modbus read")
        assert not rr.isError(), rr
        regs = rr.registers
        assert regs[0] == 0 and regs[1] <= 5  # ok, seconds old
        values = before["values"]
        assert len(values) >= 7, values  # SDM120: 7 quantities, SDM630: 11
        for q, got in zip(QUANTITIES, floats(regs)):
            if q in values:
                assert same_f32(got, values[q]), (address, q, got, values[q])
            else:
                assert math.isnan(got), (address, q, got)
        assert ("voltage_l3" in values) == (address == 1)  # three-phase / single-phase
    # holding registers mirror the input registers (status, age and voltage: stable enough)
    hr = client.read_holding_registers(0, count=4, device_id=1)
    ir = client.read_input_registers(0, count=4, device_id=1)
    assert not hr.isError() and hr.registers[0] == ir.registers[0] == 0


def test_writes_and_unknown_units_are_refused(gw):
    _emu, client, _ids, _ = gw
    r = client.write_register(0, 1, device_id=1)
    assert r.isError() and r.exception_code == 1  # illegal function
    r = client.write_registers(2, [1, 2], device_id=1)
    assert r.isError() and r.exception_code == 1
    r = client.read_coils(0, count=1, device_id=1)
    assert r.isError() and r.exception_code == 1
    r = client.read_input_registers(0, count=2, device_id=5)
    assert r.isError() and r.exception_code == 10  # gateway path unavailable
    r = client.read_input_registers(BLOCK - 1, count=2, device_id=1)
    assert r.isError() and r.exception_code == 2  # illegal data address
    r = client.read_input_registers(0, count=2, device_id=1)
    assert not r.isError()  # the connection is still good


def test_offline_meter_and_directory(gw):
    emu, client, ids, _ = gw
    emu.wait_for(lambda: emu.api("GET", "/api/readings").json()[ids[DEAD]]["status"] == "offline",
                 timeout=30, what="dead meter offline")
    r = client.read_input_registers(0, count=2, device_id=DEAD)
    assert not r.isError() and r.registers[0] == 1  # status offline, still readable
    r = client.read_input_registers(0, count=BLOCK, device_id=DEAD)
    assert r.isError() and r.exception_code == 11  # target failed to respond
    d = client.read_input_registers(0, count=66, device_id=255)
    assert not d.isError()
    assert d.registers[:5] == [1, 3, 1, 2, DEAD]
    assert d.registers[34:37] == [0, 0, 1] and d.registers[37] == 0xFFFF


def test_settings_validation_and_disable(gw):
    emu, client, _ids, port = gw
    r = emu.api("PUT", "/api/modbus-tcp", {"port": 0})
    assert r.status_code == 400 and r.json()["field"] == "port"
    r = emu.api("PUT", "/api/modbus-tcp", {"enabled": "yes"})
    assert r.status_code == 400 and r.json()["field"] == "enabled"
    r = emu.api("PUT", "/api/modbus-tcp", {"port": emu.http_port})
    assert r.status_code == 400 and r.json()["field"] == "port"
    got = emu.api("GET", "/api/modbus-tcp").json()
    assert got["enabled"] is True and got["port"] == port and got["state"]["clients"] == 1
    r = emu.api("PUT", "/api/modbus-tcp", {"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    emu.wait_for(lambda: not emu.api("GET", "/api/modbus-tcp").json()["state"]["running"],
                 timeout=10, what="server stopped")
    client.close()
    assert not client.connect()  # nobody listens any more
