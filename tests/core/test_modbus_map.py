"""core/modbus_map.py (the Modbus TCP register map and responses) and core/modbus_tcp_config.py,
on CPython and MicroPython."""
import struct

from _assert import raises

from gateway.core import modbus_map as mm
from gateway.core import modbus_tcp_config as mtc
from gateway.core.errors import ValidationError

NOW = 1800000000
NAN = b"\x7f\xc0\x00\x00"

METERS = [
    {"id": "m1", "address": 1, "name": "Main meter", "enabled": True},
    {"id": "m2", "address": 2, "name": "Workshop", "enabled": True},
    {"id": "m3", "address": 3, "name": "PV", "enabled": False},
    {"id": "m10", "address": 10, "name": "Battery", "enabled": True},
]

READINGS = {
    "m1": {"status": "ok", "ts": NOW - 3, "values": {
        "voltage_l1": 230.5, "voltage_l2": 231.0, "voltage_l3": 229.25, "current_l1": 1.5,
        "power_w": -1234.5, "frequency_hz": 50.0, "import_kwh": 12873.4, "export_kwh": 0}},
    "m2": {"status": "offline", "ts": NOW - 100, "values": {}},
    "m3": {"status": "disabled", "ts": NOW - 5, "values": {}},
    "m10": {"status": "error", "ts": NOW - 7, "values": {}},
}


def reading(mid):
    return READINGS.get(mid)


def mbap(tid, unit, pdu_len):
    return struct.pack(">HHHB", tid, 0, pdu_len + 1, unit)


def ask(unit, fc, start, count, tid=0x1234, meters=METERS):
    pdu = struct.pack(">BHH", fc, start, count)
    return bytes(mm.respond(mbap(tid, unit, len(pdu)), pdu, meters, reading, NOW))


def regs(resp):
    """Registers of a normal FC3/4 response, after checking its framing."""
    tid, pid, length, unit, fc, n = struct.unpack(">HHHBBB", resp[:9])
    assert pid == 0 and length == len(resp) - 6 and n == len(resp) - 9, resp
    return list(struct.unpack(">%dH" % (n // 2), resp[9:]))


def exc_code(resp):
    assert len(resp) == 9 and resp[7] & 0x80 and struct.unpack(">H", resp[4:6])[0] == 3, resp
    return resp[8]


def f32(words, i):
    """Float of quantity ``i`` from the registers of a whole meter block."""
    o = mm.REG_VALUES + 2 * i
    return struct.unpack(">f", struct.pack(">HH", words[o], words[o + 1]))[0]


def raw32(words, i):
    o = mm.REG_VALUES + 2 * i
    return struct.pack(">HH", words[o], words[o + 1])


# ---- the map ----


def test_layout_is_the_documented_one():
    assert mm.BLOCK_LEN == 28 and mm.DIR_LEN == 66
    assert mm.QUANTITIES == (
        "voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2", "current_l3",
        "power_w", "frequency_hz", "power_factor", "import_kwh", "export_kwh", "soc_pct",
        "battery_v")  # fmt: skip
    assert mm.STATUS_CODES == {"ok": 0, "offline": 1, "error": 2, "disabled": 3, "partial": 4}


def test_whole_block_of_an_ok_meter():
    resp = ask(1, 4, 0, mm.BLOCK_LEN)
    assert resp[:2] == b"\x12\x34" and resp[6] == 1 and resp[7] == 4
    w = regs(resp)
    assert len(w) == 28
    assert w[0] == 0 and w[1] == 3  # ok, 3 s old
    q = mm.QUANTITIES
    assert f32(w, q.index("voltage_l1")) == 230.5
    assert f32(w, q.index("voltage_l3")) == 229.25
    assert f32(w, q.index("power_w")) == -1234.5
    assert f32(w, q.index("frequency_hz")) == 50.0
    assert f32(w, q.index("export_kwh")) == 0.0
    got = f32(w, q.index("import_kwh"))
    assert abs(got - 12873.4) < 0.001  # float32 precision
    for name in ("current_l2", "current_l3", "power_factor", "soc_pct", "battery_v"):
        assert raw32(w, q.index(name)) == NAN, name


def test_float_is_big_endian_high_word_first():
    w = regs(ask(1, 4, 2, 2))
    assert struct.pack(">HH", w[0], w[1]) == struct.pack(">f", 230.5) == b"\x43\x66\x80\x00"


def test_fc3_mirrors_fc4():
    a = ask(1, 3, 0, mm.BLOCK_LEN)
    b = ask(1, 4, 0, mm.BLOCK_LEN)
    assert a[7] == 3 and b[7] == 4
    assert a[:7] == b[:7] and a[8:] == b[8:]


def test_partial_and_odd_reads():
    whole = regs(ask(1, 4, 0, mm.BLOCK_LEN))
    assert regs(ask(1, 4, 5, 3)) == whole[5:8]
    assert regs(ask(1, 4, 27, 1)) == whole[27:]
    assert regs(ask(1, 4, 0, 1)) == [0]


def test_status_and_age_stay_readable_when_offline_or_in_error():
    assert regs(ask(2, 4, 0, 2)) == [1, 100]
    assert regs(ask(10, 4, 0, 2)) == [2, 7]


def test_values_of_an_offline_or_error_meter_fail_with_0x0b():
    assert exc_code(ask(2, 4, 0, 3)) == mm.GATEWAY_TARGET_FAILED == 11
    assert exc_code(ask(2, 4, 2, 2)) == 11
    assert exc_code(ask(10, 3, 0, mm.BLOCK_LEN)) == 11


def test_unknown_or_disabled_unit_is_0x0a():
    assert exc_code(ask(5, 4, 0, 2)) == mm.GATEWAY_PATH_UNAVAILABLE == 10
    assert exc_code(ask(247, 3, 0, 1)) == 10
    assert exc_code(ask(3, 4, 0, 2)) == 10  # disabled


def test_exception_echoes_transaction_unit_and_function():
    resp = ask(5, 4, 0, 2, tid=0xBEEF)
    assert resp == b"\xbe\xef\x00\x00\x00\x03\x05\x84\x0a"


def test_past_the_end_is_illegal_data_address():
    assert exc_code(ask(1, 4, 0, mm.BLOCK_LEN + 1)) == mm.ILLEGAL_DATA_ADDRESS == 2
    assert exc_code(ask(1, 4, mm.BLOCK_LEN, 1)) == 2
    assert exc_code(ask(1, 4, 1000, 2)) == 2
    assert exc_code(ask(1, 4, 0xFFFF, 1)) == 2
    assert exc_code(ask(255, 4, mm.DIR_LEN - 1, 2)) == 2


def test_quantity_bounds_are_illegal_data_value():
    assert exc_code(ask(1, 4, 0, 0)) == mm.ILLEGAL_DATA_VALUE == 3
    assert exc_code(ask(1, 3, 0, 126)) == 3
    assert exc_code(ask(5, 4, 0, 126)) == 3  # checked before the unit
    hdr = mbap(1, 1, 4)
    assert exc_code(bytes(mm.respond(hdr, b"\x04\x00\x00\x00", METERS, reading, NOW))) == 3
    hdr = mbap(1, 1, 6)
    assert exc_code(bytes(mm.respond(hdr, b"\x04\x00\x00\x00\x01\x00", METERS, reading, NOW))) == 3


def test_writes_and_other_functions_are_illegal_function():
    cases = (
        b"\x06\x00\x00\x00\x01",  # write single register
        b"\x10\x00\x00\x00\x01\x02\x00\x07",  # write multiple registers
        b"\x05\x00\x00\xff\x00",  # write coil
        b"\x0f\x00\x00\x00\x01\x01\x01",  # write coils
        b"\x01\x00\x00\x00\x01",  # read coils
        b"\x02\x00\x00\x00\x01",  # read discrete inputs
        b"\x17\x00\x00\x00\x01\x00\x00\x00\x01\x02\x00\x00",  # read/write multiple
        b"\x2b\x0e\x01\x00",  # read device identification
        b"\x08\x00\x00\x12\x34",  # diagnostics
    )
    for pdu in cases:
        for unit in (1, 5, 255):
            resp = bytes(mm.respond(mbap(7, unit, len(pdu)), pdu, METERS, reading, NOW))
            assert exc_code(resp) == mm.ILLEGAL_FUNCTION == 1, pdu
            assert resp[7] == pdu[0] | 0x80
    resp = bytes(mm.respond(mbap(7, 1, 1), b"\x84", METERS, reading, NOW))
    assert resp[7] == 0x84 and resp[8] == 1


def test_max_read_is_125_registers_of_the_directory():
    many = [{"id": "x%d" % i, "address": i + 1, "enabled": True} for i in range(40)]
    w = regs(ask(0, 4, 0, mm.DIR_LEN, meters=many))
    assert len(w) == 66 and w[1] == 32  # only 32 slots


def test_directory_on_unit_0_and_255():
    for unit in (0, 255):
        w = regs(ask(unit, 4, 0, mm.DIR_LEN))
        assert w[0] == mm.MAP_VERSION and w[1] == 4
        assert w[2:7] == [1, 2, 3, 10, 0]
        assert w[34:39] == [0, 1, 3, 2, 0xFFFF]
        assert w[65] == 0xFFFF
    assert regs(ask(0, 3, 1, 1)) == [4]


def test_never_polled_meter_is_offline_without_age():
    meters = [{"id": "new", "address": 7, "enabled": True}]
    assert regs(ask(7, 4, 0, 2, meters=meters)) == [1, 0xFFFF]
    assert exc_code(ask(7, 4, 0, 4, meters=meters)) == 11


def test_age_saturates_and_never_goes_negative():
    block = mm.meter_block({"status": "ok", "ts": NOW - 100000, "values": {}}, NOW)
    assert struct.unpack_from(">HH", block, 0) == (0, 0xFFFF)
    block = mm.meter_block({"status": "ok", "ts": NOW + 30, "values": {}}, NOW)
    assert struct.unpack_from(">HH", block, 0) == (0, 0)


def test_odd_values_become_nan():
    inf = float("inf")
    vals = {"voltage_l1": "230", "voltage_l2": True, "voltage_l3": 1e300, "current_l1": 7,
            "current_l2": inf, "current_l3": -inf, "power_w": float("nan"), "frequency_hz": None}
    block = mm.meter_block({"status": "ok", "ts": NOW, "values": vals}, NOW)
    assert bytes(block[4:16]) == NAN * 3
    assert struct.unpack_from(">f", block, 16)[0] == 7.0
    assert bytes(block[20:36]) == NAN * 4
    assert mm.status_code("weird") == 2


def test_mbap_header_checks():
    assert mm.pdu_length(mbap(1, 1, 5)) == 5
    assert mm.pdu_length(mbap(1, 1, 253)) == 253
    raises(mm.BadFrame, mm.pdu_length, struct.pack(">HHHB", 1, 1, 6, 1))  # protocol id 1
    raises(mm.BadFrame, mm.pdu_length, struct.pack(">HHHB", 1, 0, 1, 1))  # no PDU
    raises(mm.BadFrame, mm.pdu_length, struct.pack(">HHHB", 1, 0, 255, 1))  # PDU 254
    raises(mm.BadFrame, mm.pdu_length, b"\x00\x01\x00")


# ---- settings ----


def test_config_defaults_and_partial_update():
    assert mtc.validate({}) == {"enabled": False, "port": 502}
    cfg = mtc.validate({"enabled": True})
    assert cfg == {"enabled": True, "port": 502}
    cfg = mtc.validate({"port": 1502}, cfg)
    assert cfg == {"enabled": True, "port": 1502}
    assert mtc.validate({"port": 1503.0, "state": {"running": True}}, cfg)["port"] == 1503


def test_config_refusals_name_the_field():
    for body, field in (({"enabled": 1}, "enabled"), ({"enabled": "yes"}, "enabled"),
                        ({"port": 0}, "port"), ({"port": 65536}, "port"),
                        ({"port": "502"}, "port"), ({"port": True}, "port"),
                        ({"port": 502.5}, "port"), ({"unit_id": 1}, "unit_id")):
        e = raises(ValidationError, mtc.validate, body, None)
        assert e.field == field, (body, e.field)
    e = raises(ValidationError, mtc.validate, {"port": 8080}, None, (8080,))
    assert e.field == "port" and "already used" in e.message
    # enabling the server on a stored port the page took meanwhile (settings "http_port")
    e = raises(ValidationError, mtc.validate, {"enabled": True}, {"port": 8088}, (80, 8088))
    assert e.field == "port" and e.code == "unique"
    assert mtc.validate({"enabled": False}, {"port": 8088}, (80, 8088))["port"] == 8088
    assert raises(ValidationError, mtc.validate, [1]).field is None
