"""Meter and bus configuration validation: every rejection names its field."""
from _assert import raises

from gateway.core.errors import ValidationError
from gateway.core.meters import (
    BUS_DEFAULTS,
    MAX_METERS,
    next_id,
    validate_bus,
    validate_meter,
    validate_registers,
)


def field_of(fn, *args):
    return raises(ValidationError, fn, *args).field


def reg(**kw):
    r = {"quantity": "power_w", "function": 3, "register": 0, "type": "s32",
         "word_order": "little", "scale": 1, "unit": "W"}
    r.update(kw)
    return r


def store(n):
    out = []
    for i in range(n):
        out.append(validate_meter({"address": i + 1, "profile": "sdm120"}, out))
    return out


# ---- meters ----


def test_create_normalises_and_assigns_id():
    m = validate_meter({"name": " Kitchen ", "address": 5, "profile": "SDM630"}, [])
    assert m == {"id": "1", "name": "Kitchen", "address": 5, "profile": "sdm630", "enabled": True,
                 "role": "sub"}
    m2 = validate_meter({"address": "6", "profile": "sdm120", "enabled": False}, [m])
    assert m2["id"] == "2" and m2["address"] == 6 and m2["enabled"] is False
    assert "registers" not in validate_meter(
        {"address": 7, "profile": "sdm120", "registers": [reg()]}, []
    )


def test_a_new_id_is_one_more_than_any_id_given_before():
    ms = store(3)
    assert [m["id"] for m in ms] == ["1", "2", "3"]
    assert next_id([]) == "1"
    assert next_id([ms[0], ms[2]]) == "4"  # "2" was deleted: not given again
    # the last id given ("6") and billing channels a deleted meter left ("7")
    assert next_id([ms[0], ms[2]], ("1", 6, "2")) == "7"
    assert next_id([ms[0]], ("7", "x")) == "8"  # a channel that is no meter id is ignored
    m = validate_meter({"address": 9, "profile": "sdm120"}, [ms[0], ms[2]], None, ("5",))
    assert m["id"] == "6"


def test_default_name_when_empty():
    assert validate_meter({"address": 12, "profile": "sdm120"}, [])["name"] == "meter-12"
    assert validate_meter({"address": 12, "profile": "sdm120", "name": "  "}, [])["name"] == "meter-12"
    other = validate_meter({"address": 3, "profile": "sdm120", "name": "meter-12"}, [])
    m = validate_meter({"address": 12, "profile": "sdm120", "name": ""}, [other])
    assert m["name"] == "meter-12-2"


def test_name_rules():
    assert field_of(validate_meter, {"address": 1, "profile": "sdm120", "name": "abc"}, []) == "name"
    assert field_of(validate_meter, {"address": 1, "profile": "sdm120", "name": "x" * 32}, []) == "name"
    assert validate_meter({"address": 1, "profile": "sdm120", "name": "x" * 31}, [])["name"] == "x" * 31
    assert field_of(validate_meter, {"address": 1, "profile": "sdm120", "name": 1234}, []) == "name"
    assert field_of(validate_meter, {"address": 1, "profile": "sdm120", "name": "ab\ncd"}, []) == "name"
    first = validate_meter({"address": 1, "profile": "sdm120", "name": "Main"}, [])
    e = raises(ValidationError, validate_meter, {"address": 2, "profile": "sdm120", "name": "MAIN"},
               [first])
    assert e.field == "name" and "already used" in e.message


def test_address_rules():
    for bad in (0, 248, -1, "x", "", 1.5, True, None, "0x10"):
        assert field_of(validate_meter, {"address": bad, "profile": "sdm120"}, []) == "address"
    assert field_of(validate_meter, {"profile": "sdm120"}, []) == "address"
    assert validate_meter({"address": 247, "profile": "sdm120"}, [])["address"] == 247
    first = validate_meter({"address": 9, "profile": "sdm120", "name": "Grid"}, [])
    e = raises(ValidationError, validate_meter, {"address": 9, "profile": "sdm630"}, [first])
    assert e.field == "address" and "Grid" in e.message


def test_profile_and_enabled_rules():
    for bad in (None, "", "sdm999", 4):
        assert field_of(validate_meter, {"address": 1, "profile": bad}, []) == "profile"
    for bad in ("yes", 1, None):
        assert field_of(validate_meter, {"address": 1, "profile": "sdm120", "enabled": bad}, []) \
            == "enabled"
    assert field_of(validate_meter, [1, 2], []) is None


def test_at_most_32_meters():
    ms = store(MAX_METERS)
    e = raises(ValidationError, validate_meter, {"address": 100, "profile": "sdm120"}, ms)
    assert "32" in e.message
    assert raises(ValidationError, validate_meter, {"address": 100, "profile": "sdm120"}, ms,
                  "40").field is None
    # updating one of the 32 is still allowed
    m = validate_meter({"name": "renamed"}, ms, "5")
    assert m["id"] == "5" and m["name"] == "renamed" and m["address"] == 5


def test_update_merges_and_ignores_itself_for_uniqueness():
    ms = store(2)
    m = validate_meter({"address": 1, "name": "meter-1"}, ms, "1")
    assert m == ms[0]
    m = validate_meter({"enabled": False}, ms, 1)
    assert m["id"] == "1" and m["enabled"] is False and m["profile"] == "sdm120"
    assert field_of(validate_meter, {"address": 2}, ms, "1") == "address"
    assert field_of(validate_meter, {"name": "meter-2"}, ms, "1") == "name"


def test_generic_meter_registers():
    m = validate_meter(
        {"address": 4, "profile": "generic", "registers": [
            {"quantity": "soc_pct", "register": "0x0100"},
            reg(register="16", function="4"),
            {"quantity": "temp_c", "function": 3, "register": 0xFFFE, "type": "f32",
             "word_order": "big", "scale": 0.5, "unit": "C"},
        ]}, [])
    r = m["registers"]
    assert r[0] == {"quantity": "soc_pct", "function": 3, "register": 256, "type": "u16",
                    "word_order": "big", "scale": 1, "unit": "%"}
    assert r[1]["register"] == 16 and r[1]["function"] == 4 and r[1]["type"] == "s32"
    assert r[2]["scale"] == 0.5 and r[2]["unit"] == "C"


def test_generic_register_fields_are_named():
    def bad(i, **kw):
        regs = [reg(quantity="q%d" % k) for k in range(3)]
        kw.setdefault("quantity", "q%d" % i)
        regs[i] = reg(**kw)
        return field_of(validate_registers, regs)

    assert bad(2, type="f64") == "registers[2].type"
    assert bad(0, function=1) == "registers[0].function"
    assert bad(1, function=16) == "registers[1].function"
    assert bad(1, register=-1) == "registers[1].register"
    assert bad(1, register=0x10000) == "registers[1].register"
    assert bad(1, register="0xZZ") == "registers[1].register"
    assert bad(1, register="0x") == "registers[1].register"
    assert bad(1, register=None) == "registers[1].register"
    assert bad(2, register=0xFFFF, type="u32") == "registers[2].register"
    assert bad(0, word_order="middle") == "registers[0].word_order"
    assert bad(0, scale=0) == "registers[0].scale"
    assert bad(0, scale="2") == "registers[0].scale"
    assert bad(0, scale=True) == "registers[0].scale"
    assert bad(0, scale=float("inf")) == "registers[0].scale"
    assert bad(0, unit=5) == "registers[0].unit"
    assert bad(0, unit="x" * 16) == "registers[0].unit"
    assert bad(1, quantity="Power") == "registers[1].quantity"
    assert bad(1, quantity="") == "registers[1].quantity"
    assert bad(1, quantity="1abc") == "registers[1].quantity"
    assert bad(1, quantity="a-b") == "registers[1].quantity"
    assert bad(2, quantity="q0") == "registers[2].quantity"  # twice
    assert field_of(validate_registers, [reg(), "x"]) == "registers[1]"
    assert field_of(validate_registers, []) == "registers"
    assert field_of(validate_registers, None) == "registers"
    assert field_of(validate_registers, [reg(quantity="q%d" % i) for i in range(65)]) == "registers"
    assert field_of(validate_meter, {"address": 1, "profile": "generic"}, []) == "registers"


def test_hex_and_decimal_register_strings():
    assert validate_registers([reg(register="0x004A")])[0]["register"] == 0x4A
    assert validate_registers([reg(register="0XFFFE")])[0]["register"] == 0xFFFE
    assert validate_registers([reg(register=" 74 ")])[0]["register"] == 74


# ---- bus ----


def test_bus_defaults_9600_8n1():
    b = validate_bus({})
    assert b == BUS_DEFAULTS
    assert (b["baud"], b["parity"], b["stop"]) == (9600, "N", 1)
    assert b is not BUS_DEFAULTS


def test_bus_settings():
    b = validate_bus({"baud": 19200, "parity": "e", "stop": 2, "timeout_ms": 300, "retries": 0,
                      "max_gap": 0, "interval_ms": 5000, "unknown": 1})
    assert b["baud"] == 19200 and b["parity"] == "E" and b["stop"] == 2
    assert b["timeout_ms"] == 300 and b["retries"] == 0 and b["max_gap"] == 0
    assert b["interval_ms"] == 5000 and "unknown" not in b
    assert validate_bus({"parity": "odd"})["parity"] == "O"
    assert validate_bus({"parity": "None"})["parity"] == "N"
    assert validate_bus({"baud": 1200}, b)["parity"] == "E"  # update keeps the rest


def test_bus_rejections_name_the_field():
    cases = {"baud": (1199, 115201, "fast", None), "parity": ("X", "", 1, "nonsense"),
             "stop": (0, 3, 1.5), "timeout_ms": (0, 10001), "retries": (-1, 6),
             "max_gap": (-1, 126), "interval_ms": (99,)}
    for key, bads in cases.items():
        for v in bads:
            assert field_of(validate_bus, {key: v}) == key
    assert field_of(validate_bus, "9600") is None


def test_role_defaults_to_sub_and_is_checked():
    m = validate_meter({"address": 3, "profile": "sdm120"}, [])
    assert m["role"] == "sub"
    m = validate_meter({"address": 3, "profile": "sdm120", "role": "pv"}, [])
    assert m["role"] == "pv"
    e = raises(ValidationError, validate_meter, {"address": 3, "profile": "sdm120", "role": "x"}, [])
    assert e.field == "role"


def test_register_maps_in_use_are_bounded():
    from gateway.core import profiles
    from gateway.core.meters import MAX_PROFILES

    existing = []
    names = [n for n in profiles.names() if n not in profiles.BUILTIN]
    for i, name in enumerate(names[:MAX_PROFILES]):
        existing.append(validate_meter({"address": i + 1, "profile": name}, existing))
    e = raises(ValidationError, validate_meter, {"address": 40, "profile": names[MAX_PROFILES]},
               existing)
    assert e.field == "profile"
    e = raises(ValidationError, validate_meter, {"address": 41, "profile": "sunspec",
                                                 "sunspec": [[1, 40004], [203, 40072]]}, existing)
    assert e.field == "profile"
    # one more meter of a profile in use, or a generic one, is fine
    validate_meter({"address": 42, "profile": names[0]}, existing)
    validate_meter({"address": 43, "profile": "generic", "registers": [
        {"quantity": "power_w", "register": 1}]}, existing)
