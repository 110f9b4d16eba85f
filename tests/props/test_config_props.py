"""Property tests of the configuration validators (CPython + hypothesis): whatever JSON a client
sends, a validator either refuses it with a ValidationError naming a field, or returns a
document that JSON stores as it is (no NaN, no infinity) and that passes the validator again
unchanged. Any other exception would be a 500 where the rule is a 400 with the field name;
a document that does not validate again would be refused at the next boot or PUT."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core import (
    genset_config,
    meters,
    modbus_tcp_config,
    mqtt_config,
    outputs,
    tariff,
    wifi_config,
)
from gateway.core import settings as settings_mod
from gateway.core.errors import ValidationError

MANY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# what JSON can carry (numbers as Python's json reads them: 1e999 is infinity)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=80), st.sampled_from(["", "0", "22:00", "07:00-09:00", "12:30-13:30",
                                           "we 08:00-20:00", "0.0.0.0", "192.168.1.10", "N"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)


def near(default):
    """Values around a key's default: itself, its kind (in range or not), anything JSON."""
    if isinstance(default, bool):
        kind = st.booleans()
    elif isinstance(default, int):
        kind = st.integers(0, max(2 * default, 100)) | st.integers(-(2 ** 64), 2 ** 64)
    elif isinstance(default, float):
        kind = st.floats(0, max(2 * default, 100)) | st.floats(allow_nan=True, allow_infinity=True)
    elif isinstance(default, str):
        kind = st.text(max_size=40) | st.text(max_size=300)
    elif isinstance(default, dict):
        kind = documents(default)
    else:
        kind = json_values
    return st.one_of(st.just(default), kind, kind, json_values)


@st.composite
def documents(draw, defaults, extra=()):
    """Partial documents: some of ``defaults``' keys as they are, up to three (of those, of
    ``extra`` or unknown) changed to values near their default."""
    keys = list(defaults) + list(extra)
    doc = {k: defaults[k] for k in draw(st.lists(st.sampled_from(list(defaults)), unique=True))}
    for k in draw(st.lists(st.sampled_from(keys) | st.text(max_size=10), max_size=3)):
        doc[k] = draw(near(defaults.get(k)))
    return doc


def stays(validate, doc):
    """``validate(doc)``: a ValidationError naming a field, or a document that stores as JSON
    and validates again to itself."""
    try:
        out = validate(doc)
    except ValidationError as e:
        assert e.field is None or isinstance(e.field, str), e.field
        assert isinstance(e.message, str) and e.message
        return None
    text = json.dumps(out, allow_nan=False)  # what the store writes; raises on NaN or infinity
    assert json.loads(text) == out
    assert validate(json.loads(text)) == out
    return out


SETTINGS = settings_mod.SETTINGS_DEFAULTS


@MANY
@given(documents(SETTINGS))
def test_settings(doc):
    out = stays(lambda d: settings_mod.validate_settings(d, SETTINGS), doc)
    if out is not None:
        assert set(out) == set(SETTINGS)


@MANY
@given(documents(genset_config.DEFAULTS))
def test_genset(doc):
    stays(genset_config.validate_genset, doc)


@MANY
@given(documents(mqtt_config.validate({})))
def test_mqtt(doc):
    stays(lambda d: mqtt_config.validate(d, None, "DG000001"), doc)


@MANY
@given(documents(modbus_tcp_config.validate({})))
def test_modbus_tcp(doc):
    stays(lambda d: modbus_tcp_config.validate(d, None, (80,)), doc)


@MANY
@given(documents(outputs.OUTPUT_DEFAULTS))
def test_output(doc):
    stays(outputs.validate_output, doc)


@MANY
@given(documents(meters.BUS_DEFAULTS))
def test_bus(doc):
    stays(meters.validate_bus, doc)


METER = {"name": "Main meter", "address": 1, "profile": "sdm630", "enabled": True, "role": "grid",
         "registers": [{"quantity": "power_w", "function": 3, "register": "0x0100", "type": "s16"}]}


@MANY
@given(documents(METER, ("interval_ms", "pause_ms", "timeout_ms", "word_order", "tenant")))
def test_meter(doc):
    """A new meter (an id given), then the same document as an update of it."""
    try:
        out = meters.validate_meter(doc, [])
    except ValidationError as e:
        assert e.field is None or isinstance(e.field, str)
        return
    json.dumps(out, allow_nan=False)
    assert meters.validate_meter(json.loads(json.dumps(out)), [out], out["id"]) == out


TARIFF = {"name": "HP/HC", "kind": "electricity", "price": 0.2516, "export_price": 0.04,
          "monthly_fee": 12.5, "capacity_price": 51.9, "vat_pct": 20,
          "periods": [{"name": "HC", "price": 0.17, "windows": ["22:00-06:00"]}]}


@MANY
@given(st.fixed_dictionaries({}, optional={
    "currency": st.sampled_from(["EUR", "eur", "XXX", "", "€"]) | json_values,
    "tariffs": st.lists(documents(TARIFF), max_size=3) | json_values,
    "meters": st.dictionaries(st.sampled_from(["1", "2", "9"]) | st.text(max_size=4), documents(
        {"tenant": "Apt 1", "tariff": "HP/HC", "common": False, "common_share_pct": 25,
         "group": "", "exclude_from_totals": False}), max_size=3) | json_values}))
def test_billing_config(doc):
    stays(lambda d: tariff.check_config(d, ["1", "2"]), doc)


@MANY
@given(documents({"ssid": "Home-Box", "password": "correct-horse", "ip": "192.168.1.20",
                  "netmask": "255.255.255.0", "gateway": "192.168.1.1", "dns": "192.168.1.1"}))
def test_wifi_join(doc):
    stays(wifi_config.validate_wifi, doc)


def _valid(validate, doc):
    try:
        return validate(doc)
    except ValidationError:
        return None


@MANY
@given(documents(SETTINGS), documents(meters.BUS_DEFAULTS), documents(genset_config.DEFAULTS),
       documents(modbus_tcp_config.validate({})), st.lists(documents(METER), max_size=4))
def test_a_backup_restores_what_it_holds(settings_doc, bus_doc, genset_doc, tcp_doc, meter_docs):
    """A backup of valid documents (as GET /api/backup writes them, through JSON) restores to
    the same documents (core/backup.py check_restore, as POST /api/restore plans it)."""
    from gateway.core import backup

    docs = {"settings": _valid(lambda d: settings_mod.validate_settings(d, SETTINGS), settings_doc),
            "bus": _valid(meters.validate_bus, bus_doc),
            "genset": _valid(genset_config.validate_genset, genset_doc),
            "modbus_tcp": _valid(lambda d: modbus_tcp_config.validate(d, None, (80,)), tcp_doc)}
    stored = []
    for m in meter_docs:  # added one after the other, as POST /api/meters does
        v = _valid(lambda d: meters.validate_meter(d, stored, taken=[x["id"] for x in stored]), m)
        if v is not None:
            stored.append(v)
    docs["meters"] = stored
    docs = {k: v for k, v in docs.items() if v is not None}
    file = dict(backup.header("DG000001", "0.1.0", "emulator", 1795000000), **docs)
    plan = backup.check_restore(json.loads(json.dumps(file)), {
        "serial": "DG000001", "users": {}, "me": "admin", "taken_ports": (80,), "relays": (),
        "left_out": (), "board": "emulator", "meters": [m["id"] for m in stored]})
    assert plan["docs"] == docs
    assert plan["kept"] == [] and plan["revoke"] == []
