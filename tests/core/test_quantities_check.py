"""The quantity catalogue (core/quantities.py) and the validation primitives (core/check.py)."""
from _assert import raises

from gateway.core import check, ha_discovery, modbus_map, quantities, records
from gateway.core.errors import ValidationError


def test_catalogue_lookups():
    names = list(quantities.names())
    assert names[:3] == ["import_kwh", "export_kwh", "power_w"]
    assert len(names) == len(set(names))
    assert quantities.unit("voltage_l1") == "V" and quantities.unit("power_factor") == ""
    assert quantities.unit("nope") == "" and quantities.unit("nope", None) is None
    assert quantities.decimals("import_kwh") == 3 and quantities.decimals("power_w") == 0
    assert quantities.decimals("frequency_hz") == 2 and quantities.decimals("x_y") == 3
    assert quantities.known("battery_v") and not quantities.known("battery")
    assert not quantities.known("import_kwh|kWh") and not quantities.known("")


def test_every_list_reads_the_catalogue():
    for q in quantities.STORAGE_CODES + quantities.MODBUS_TCP_ORDER:
        assert quantities.known(q), q
    assert modbus_map.QUANTITIES == quantities.MODBUS_TCP_ORDER
    assert "battery_v" in modbus_map.QUANTITIES
    assert ha_discovery.spec("battery_v") == ("battery voltage", "voltage", "measurement", "V")
    assert ha_discovery.spec("import_kwh") == ("import energy", "energy", "total_increasing", "kWh")
    assert records.decimals("battery_v") == quantities.decimals("battery_v")
    assert quantities.storage_code("import_kwh") == 1 and quantities.storage_code("soc_pct") == 12
    assert quantities.storage_code("battery_v") == 0  # stored by name: old firmware reads it


def test_battery_v_round_trips_through_storage():
    st = records.SegState(1000)
    s = records.sample(1000, "1", {"battery_v": 52.125, "soc_pct": 80.0})
    (payload, n), = records.encode(st, [s])
    back = records.decode(records.SegState(1000), payload)
    assert n == 1 and back == [s]
    assert records.text("battery_v", back[0][2]["battery_v"]) == "52.125"


def test_round_to():
    assert quantities.round_to("voltage_l1", 230.14999) == 230.1
    assert quantities.round_to("power_w", 7) == 7
    assert quantities.round_to("power_factor", 0.9700000286102295) == 0.97
    nan = float("nan")
    r = quantities.round_to("power_w", nan)
    assert r != r


def _err(fn, *args, **kw):
    return raises(ValidationError, fn, *args, **kw)


def test_integer():
    assert check.integer("n", 5, 1, 247) == 5
    assert check.integer("n", 5.0, 1, 247) == 5 and isinstance(check.integer("n", 5.0), int)
    for bad in (True, 1.5, "5", None, [], float("inf"), float("-inf"), float("nan"), 1e300):
        e = _err(check.integer, "n", bad, 1, 247)
        assert e.field == "n" and e.code == "integer", bad
    e = _err(check.integer, "address", 248, 1, 247)
    assert e.field == "address" and e.code == "range" and e.params == {"min": 1, "max": 247}
    assert _err(check.integer, "n", -1, 0).code == "min"
    assert _err(check.integer, "n", 9, None, 8).params == {"max": 8}
    assert check.integer("n", " 12 ", 0, 99, text=True) == 12
    assert check.integer("n", "-3", -5, 5, text=True) == -3
    assert _err(check.integer, "n", "-3", -5, 5, text=True, signed=False).code == "integer"
    assert check.integer("r", "0x10", 0, 0xFFFF, text=True, hex_ok=True) == 16
    assert _err(check.integer, "r", "0x1g", 0, 99, text=True, hex_ok=True).code == "integer"
    assert _err(check.integer, "n", "9" * 400, text=True).code == "integer"


def test_number_boolean_choice():
    assert check.number("v", 1.5, 0, 2) == 1.5
    for bad in (True, "1", None, float("nan"), float("inf")):
        assert _err(check.number, "v", bad, 0, 2).code == "number"
    assert _err(check.number, "v", 2.5, 0, 2).code == "range"
    assert check.boolean("b", False) is False
    for bad in (0, 1, "true", None):
        assert _err(check.boolean, "b", bad).field == "b"
    assert check.choice("mode", "on", ("auto", "on", "off")) == "on"
    e = _err(check.choice, "mode", "up", ("auto", "on", "off"))
    assert e.code == "choice" and e.params == {"choices": "auto, on, off"}
    assert _err(check.choice, "mode", ["on"], ("on",)).field == "mode"


def test_text():
    assert check.text("t", "ab", 5) == "ab"
    assert check.text("t", None, 5, none_ok=True) == ""
    assert check.text("t", " ab ", 5, 1, strip=True) == "ab"
    assert _err(check.text, "t", "abcdef", 5).code == "maxlen"
    assert _err(check.text, "t", "", 5, 1).code == "required"
    assert _err(check.text, "t", "a", 5, 2).params == {"min": 2, "max": 5}
    assert _err(check.text, "t", "a\nb", 5).code == "format"
    assert check.text("t", "a\tb", 5, controls=True) == "a\tb"
    assert _err(check.text, "t", 5, 5).field == "t"
    assert _err(check.obj, "o", []).field == "o"
    assert _err(check.known_keys, {"a": 1, "b": 2}, ("a",), "x.").field == "x.b"


def test_config_modules_use_it_for_huge_numbers():
    """1e309 in JSON is inf: every int field refuses it with a 400 naming the field."""
    from gateway.core import genset_config, meters, mqtt_config, settings

    inf = float("inf")
    e = _err(meters.validate_meter, {"name": "m", "address": inf, "profile": "sdm120"}, [])
    assert e.field == "address"
    assert _err(mqtt_config.validate, {"port": inf}).field == "port"
    assert _err(settings.validate_settings, {"sample_interval_s": inf}).field == "sample_interval_s"
    e = _err(genset_config.validate_genset, {"feedback": {"retries": 1e300}})
    assert e.field == "feedback.retries"
