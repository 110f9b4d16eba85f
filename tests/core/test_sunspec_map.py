"""core/sunspec_map.py: each meter as a SunSpec device at 40000 of its unit id, served through
core/modbus_map.respond and decoded back with core/sunspec.py (the client side's decoder;
pysunspec2 reads it in tests/integration/test_modbus_tcp_server.py), on CPython and MicroPython."""
import struct

from gateway.core import modbus_map as mm
from gateway.core import sunspec
from gateway.core import sunspec_map as sm

NOW = 1800000000
THREE = {"id": "t1", "address": 1, "profile": "sdm630", "enabled": True}
ONE = {"id": "t2", "address": 2, "profile": "sdm120", "enabled": True}
DOWN = {"id": "t3", "address": 3, "profile": "sdm120", "enabled": True}
VALUES = {"voltage_l1": 230.5, "voltage_l2": 231.0, "voltage_l3": 229.3, "current_l1": 1.523,
          "current_l2": 0.5, "current_l3": 40.25, "power_w": -1234.0, "frequency_hz": 49.98,
          "power_factor": 0.973, "import_kwh": 12873.4, "export_kwh": 0.0}
READINGS = {"t1": {"status": "ok", "ts": NOW, "values": VALUES},
            "t2": {"status": "ok", "ts": NOW, "values": {"voltage_l1": 229.9, "power_w": 12.0}},
            "t3": {"status": "offline", "ts": NOW, "values": {}}}


def read(unit, start, count, fc=3):
    header = struct.pack(">HHHB", 7, 0, 6, unit)
    out = mm.respond(header, struct.pack(">BHH", fc, start, count), [THREE, ONE, DOWN],
                     READINGS.get, NOW, "DG1234")
    if out[7] & 0x80:
        return out[8]  # exception code
    return list(struct.unpack(">%dH" % count, out[9:]))


def device(unit):
    words = read(unit, 40000, 125) + read(unit, 40125, sm.LEN - 125)
    assert len(words) == sm.LEN
    return dict((40000 + i, w) for i, w in enumerate(words))


def test_the_device_is_a_sunspec_chain_discovery_finds():
    import asyncio

    img = device(1)

    async def reader(fc, reg, count):
        return [img[reg + k] for k in range(count)] if reg + count <= 40000 + sm.LEN else None

    found = asyncio.run(sunspec.discover(reader, (40000,)))
    assert found["models"] == [[1, 40004], [203, 40072]]
    assert (found["manufacturer"], found["model"], found["serial"]) == ("dingate", "sdm630",
                                                                        "DG1234-1")
    assert img[40000 + sm.POINTS_END] == 0xFFFF
    assert sunspec.table(1)["len"] == sm.COMMON_LEN and sunspec.table(203)["len"] == sm.METER_LEN


def test_points_equal_the_readings_with_their_scale_factors():
    img = device(1)
    d = sunspec.decode(203, [img[40072 + i] for i in range(sm.METER_LEN)])
    assert d["PhVphA"] == 230.5 and d["PhVphC"] == 229.3 and d["Hz"] == 49.98
    assert d["AphA"] == 1.52 and d["AphC"] == 40.25  # 40.25 A: the group's sf is -2, not -3
    assert d["W"] == -1234 and d["PF"] == 97.3  # PF in %, as the model defines it
    assert d["TotWhImp"] == 12873400 and d["TotWhExp"] is None  # 0 Wh: "not implemented"
    assert d["A"] == 42.27 and d["PhV"] == 230.3  # derived: total current, mean L-N voltage
    assert d["VA"] is None and d["WphA"] is None  # the SDM630's map has no such values here


def test_model_follows_the_phases_of_the_meters_map():
    img = device(2)
    assert img[40070] == 201 and img[40071] == 105
    d = sunspec.decode(201, [img[40072 + i] for i in range(sm.METER_LEN)])
    assert d["PhVphA"] == 229.9 and d["W"] == 12 and d["AphA"] is None and d["A"] is None


def test_reads_of_any_part_and_the_exceptions():
    whole = device(1)
    for start, count in ((40000, 2), (40003, 1), (40068, 6), (40176, 3), (40150, 29)):
        assert read(1, start, count) == [whole[start + i] for i in range(count)], start
    assert read(1, 40000, 4, fc=4) == [0x5375, 0x6E53, 1, 66]  # input registers mirror
    assert read(1, 40170, 10) == 2  # past the end marker
    assert read(9, 40000, 2) == 10  # no such meter
    common = read(3, 40000, 72)  # offline: marker, common model and headers still readable
    assert common[:4] == [0x5375, 0x6E53, 1, 66] and len(common) == 72
    assert common[70:] == [201, 105]
    assert read(3, 40072, 1) == 11  # its points are not
