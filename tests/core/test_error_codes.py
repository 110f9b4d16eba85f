"""Rejected input carries a code and its values besides the English text, so the page can say it
in the reader's language with the field's label (firmware/www/lang-*.json "err.<code>")."""
from _assert import raises

from gateway.core.accounts import check_password_rules
from gateway.core.backup import _prefixed
from gateway.core.errors import ValidationError
from gateway.core.genset_config import validate_genset
from gateway.core.meters import ROLES, validate_meter


def test_a_plain_error_has_no_code():
    e = ValidationError("x", "bad")
    assert (e.field, e.message, e.code, e.params) == ("x", "bad", None, None)


def test_meter_address_out_of_range():
    e = raises(ValidationError, validate_meter, {"address": 300, "profile": "sdm120"}, [])
    assert (e.field, e.code, e.params) == ("address", "range", {"min": 1, "max": 247})


def test_genset_start_above_stop_names_the_other_field():
    e = raises(ValidationError, validate_genset, {"start_soc": 90, "stop_soc": 80})
    assert e.code == "below" and e.params == {"other": "stop_soc"}
    e = raises(ValidationError, validate_genset, {"voltage": {"start_v": 60, "stop_v": 50}})
    assert (e.field, e.code, e.params) == ("voltage.start_v", "below", {"other": "voltage.stop_v"})
    e = raises(ValidationError, validate_genset, {"start_soc": 120})
    assert (e.code, e.params) == ("range", {"min": 0, "max": 100})


def test_password_length():
    e = raises(ValidationError, check_password_rules, "short")
    assert e.code == "length" and e.params["min"] == 8


def test_a_restored_meter_keeps_the_code_under_its_path():
    inner = raises(ValidationError, validate_meter, {"address": 0, "profile": "sdm120"}, [])
    e = _prefixed("meters[1]", inner)
    assert (e.field, e.code, e.params) == ("meters[1].address", "range", {"min": 1, "max": 247})


def test_generator_is_a_meter_role():
    assert "genset" in ROLES
    assert validate_meter({"address": 9, "profile": "sdm120", "role": "genset"}, [])["role"] == "genset"


def test_the_errors_an_installer_meets_in_the_forms_carry_codes():
    from gateway.core.accounts import validate_user
    from gateway.core.mqtt_config import validate
    from gateway.core.settings import validate_settings
    from gateway.core.wifi_config import validate_ip_config, validate_wifi

    main = {"id": "1", "name": "Main meter", "address": 1, "profile": "sdm630"}
    e = raises(ValidationError, validate_meter, {"address": 1, "profile": "sdm120"}, [main])
    assert (e.field, e.code, e.params) == ("address", "used_by", {"by": "Main meter"})
    e = raises(ValidationError, validate_meter,
               {"name": "main METER", "address": 2, "profile": "sdm120"}, [main])
    assert (e.field, e.code) == ("name", "unique")
    e = raises(ValidationError, validate_wifi, {"ssid": "Home", "password": "short"})
    assert (e.field, e.code, e.params) == ("password", "length", {"min": 8, "max": 63})
    e = raises(ValidationError, validate_ip_config, {"ip": "192.168.1.300"})
    assert (e.field, e.code) == ("ip", "ipv4")
    e = raises(ValidationError, validate_ip_config,
               {"ip": "192.168.1.20", "netmask": "255.255.255.0", "gateway": "10.0.0.1"})
    assert (e.field, e.code) == ("gateway", "subnet")
    admin = {"admin": {"role": "admin", "hash": "x"}}
    e = raises(ValidationError, validate_user, {"user": "Admin", "password": "long-enough-1"}, admin)
    assert (e.field, e.code) == ("user", "unique")
    e = raises(ValidationError, validate_user,
               {"user": "tenant1", "password": "long-enough-1", "role": "tenant"}, admin)
    assert (e.field, e.code) == ("meters", "required")
    e = raises(ValidationError, validate_user, {"role": "user"}, admin, "admin")
    assert (e.field, e.code) == ("role", "last_admin")
    e = raises(ValidationError, validate, {"host": "broker.lan", "password": "secret"})
    assert (e.field, e.code, e.params) == ("password", "needs", {"other": "user"})
    e = raises(ValidationError, validate, {"host": "mqtt://broker.lan"})
    assert (e.field, e.code) == ("host", "host")
    e = raises(ValidationError, validate_settings, {"location": "x" * 32})
    assert (e.field, e.code, e.params) == ("location", "maxlen", {"max": 31})
    e = raises(ValidationError, validate_genset,
               {"quiet_hours": {"enabled": True, "start": "25:00", "end": "06:00"}})
    assert (e.field, e.code) == ("quiet_hours.start", "time")


def test_the_errors_of_the_billing_and_export_forms_carry_codes():
    from gateway.core.history import check_range
    from gateway.core.tariff import check_config, check_currency, window

    assert raises(ValidationError, window, "22h-06h", "tariffs.0.periods.1.windows.0").code == "window"
    assert raises(ValidationError, check_currency, "euro").code == "currency"
    e = raises(ValidationError, check_config,
               {"currency": "EUR", "meters": {"1": {"common_share_pct": 60},
                                               "2": {"common_share_pct": 50}}}, ["1", "2"])
    assert e.code == "shares"
    e = raises(ValidationError, check_range, 1800000000, 1700000000)
    assert (e.field, e.code, e.params) == ("to", "after", {"other": "from"})


def test_a_generic_register_row_without_its_quantity_asks_for_it():
    from gateway.core.meters import validate_registers

    e = raises(ValidationError, validate_registers, [{"quantity": "", "register": 1}])
    assert (e.field, e.code) == ("registers[0].quantity", "required")
    e = raises(ValidationError, validate_registers, [{"quantity": "Puissance AC", "register": 1}])
    assert (e.field, e.code) == ("registers[0].quantity", "quantity")


def test_the_rarer_form_errors_carry_codes_too():
    """What an installer still meets in the forms: a static address on the network's own or
    broadcast address, the gateway on the device's own, quiet hours that start and end together,
    a full bus, a register map past 0xFFFF, a scale of 0, too many tariffs."""
    from gateway.core.meters import MAX_METERS, validate_meter, validate_registers
    from gateway.core.tariff import MAX_TARIFFS, check_config
    from gateway.core.wifi_config import validate_ip_config

    net = {"ip": "192.168.1.0", "netmask": "255.255.255.0"}
    assert raises(ValidationError, validate_ip_config, net).code == "net_address"
    e = raises(ValidationError, validate_ip_config, {"ip": "10.0.0.1", "netmask": "255.255.255.254"})
    assert (e.field, e.code) == ("netmask", "netmask_small")
    e = raises(ValidationError, validate_ip_config,
               {"ip": "192.168.1.20", "netmask": "255.255.255.0", "gateway": "192.168.1.20"})
    assert (e.field, e.code, e.params) == ("gateway", "differ", {"other": "ip"})
    e = raises(ValidationError, validate_genset,
               {"quiet_hours": {"enabled": True, "start": "22:00", "end": "22:00"}})
    assert (e.field, e.code, e.params) == ("quiet_hours.end", "differ", {"other": "quiet_hours.start"})
    full = [{"id": str(i), "name": "m%d" % i, "address": i, "profile": "sdm120"} for i in range(1, MAX_METERS + 1)]
    e = raises(ValidationError, validate_meter, {"address": 200, "profile": "sdm120"}, full)
    assert (e.code, e.params) == ("max_meters", {"max": MAX_METERS})
    e = raises(ValidationError, validate_registers, [{"quantity": "power_w", "register": 65535, "type": "u32"}])
    assert (e.field, e.code, e.params) == ("registers[0].register", "max", {"max": 65534})
    e = raises(ValidationError, validate_registers, [{"quantity": "power_w", "register": 1, "scale": 0}])
    assert (e.field, e.code) == ("registers[0].scale", "nonzero")
    tariffs = [{"name": "t%d" % i, "price": 0.2} for i in range(MAX_TARIFFS + 1)]
    e = raises(ValidationError, check_config, {"currency": "EUR", "tariffs": tariffs}, [])
    assert (e.field, e.code, e.params) == ("tariffs", "max", {"max": MAX_TARIFFS})
