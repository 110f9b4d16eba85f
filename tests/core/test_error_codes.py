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
