"""MQTT settings validation, defaults and the write-only password (CPython and MicroPython)."""
from _assert import raises

from gateway.core import mqtt_config as C
from gateway.core.errors import ValidationError


def _field(update, stored=None):
    e = raises(ValidationError, C.validate, update, stored, "GW1")
    return e.field


def test_defaults():
    d = C.defaults("GW1")
    assert d["port"] == 1883
    assert d["base_topic"] == "dingate/GW1"
    assert d["client_id"] == "dingate-GW1"
    assert d["tls"] is False and d["tls_verify"] is True
    assert d["discovery"] is True and d["discovery_prefix"] == "homeassistant"
    assert d["keepalive"] == 60 and d["live_interval_s"] == 10
    assert d["password"] == ""
    for k in C.KEYS:
        assert k in d
    assert C.defaults("a b/c")["base_topic"] == "dingate/a_b_c"


def test_full_valid_update():
    cfg = C.validate({"host": "broker.local", "port": 8883, "user": "gw", "password": "s3cret",
                      "tls": True, "tls_verify": False, "base_topic": "site/roof",
                      "discovery": False, "client_id": "roof-gw", "keepalive": 30,
                      "live_interval_s": 5, "clean_session": True}, None, "GW1")
    assert cfg["host"] == "broker.local" and cfg["port"] == 8883
    assert cfg["user"] == "gw" and cfg["password"] == "s3cret"
    assert cfg["tls"] is True and cfg["tls_verify"] is False
    assert cfg["base_topic"] == "site/roof" and cfg["discovery"] is False
    assert cfg["client_id"] == "roof-gw" and cfg["keepalive"] == 30
    assert cfg["live_interval_s"] == 5 and cfg["clean_session"] is True
    assert C.is_active(cfg)
    assert not C.is_active(C.defaults("x"))


def test_port_range_and_types():
    for bad in (0, 65536, -1, "abc", True, 1.5, [1]):
        assert _field({"port": bad}) == "port", bad
    assert C.validate({"port": 1}, None, "x")["port"] == 1
    assert C.validate({"port": 65535}, None, "x")["port"] == 65535
    assert C.validate({"port": "1884"}, None, "x")["port"] == 1884
    assert C.validate({"port": None}, None, "x")["port"] == 1883


def test_host_rules():
    for good in ("mqtt", "10.0.0.2", "broker.example.com", "my-broker", "::1", "[fe80::1]",
                 "a_b.local", ""):
        C.validate({"host": good}, None, "x")
    assert C.validate({"host": "[fe80::1]"}, None, "x")["host"] == "fe80::1"
    assert C.validate({"host": "  mqtt "}, None, "x")["host"] == "mqtt"
    for bad in ("mqtt://broker", "broker:1883", "bad host", "a..b", "-a.b", "a" * 64 + ".com",
                "x\ny", 5, "caf\xe9.fr"):
        assert _field({"host": bad}) == "host", bad


def test_password_is_write_only():
    stored = C.validate({"host": "b", "user": "u", "password": "pw1"}, None, "x")
    view = C.public_view(stored)
    assert "password" not in view
    assert view["password_set"] is True
    assert view["user"] == "u" and view["host"] == "b"
    for v in view.values():
        assert v != "pw1"
    assert C.public_view(C.defaults("x"))["password_set"] is False


def test_absent_or_empty_password_keeps_stored():
    stored = C.validate({"host": "b", "user": "u", "password": "pw1"}, None, "x")
    assert C.validate({"keepalive": 30}, stored, "x")["password"] == "pw1"
    assert C.validate({"port": 1883, "host": "b"}, stored, "x")["password"] == "pw1"  # same broker
    assert C.validate({"password": ""}, stored, "x")["password"] == "pw1"
    assert C.validate({"password": None}, stored, "x")["password"] == "pw1"
    assert C.validate({"password": "pw2"}, stored, "x")["password"] == "pw2"
    # the stored dict is never mutated
    assert stored["password"] == "pw1"


def test_round_trip_of_public_view_keeps_password():
    stored = C.validate({"host": "b", "user": "u", "password": "pw1"}, None, "x")
    again = C.validate(C.public_view(stored), stored, "x")
    assert again == stored


def test_clearing_user_clears_password():
    stored = C.validate({"host": "b", "user": "u", "password": "pw1"}, None, "x")
    cfg = C.validate({"user": ""}, stored, "x")
    assert cfg["user"] == "" and cfg["password"] == ""
    assert _field({"password": "p"}) == "password"  # a password needs a user


def test_base_topic_rules_and_default():
    assert C.validate({"base_topic": ""}, None, "GW9")["base_topic"] == "dingate/GW9"
    assert C.validate({"base_topic": None}, None, "GW9")["base_topic"] == "dingate/GW9"
    assert C.validate({"base_topic": "a/b/c"}, None, "x")["base_topic"] == "a/b/c"
    for bad in ("a/+", "a/#", "#", "$SYS/x", "/a", "a/", "a//b", "a b", "x" * 129, 5,
                "a\x00b"):
        assert _field({"base_topic": bad}) == "base_topic", bad


def test_discovery_prefix():
    assert C.validate({"discovery_prefix": "ha"}, None, "x")["discovery_prefix"] == "ha"
    assert C.validate({"discovery_prefix": ""}, None, "x")["discovery_prefix"] == "homeassistant"
    assert _field({"discovery_prefix": "ha/#"}) == "discovery_prefix"


def test_booleans_are_strict():
    for key in ("tls", "tls_verify", "discovery", "enabled", "clean_session"):
        for bad in (1, 0, "true", None):
            assert _field({key: bad}) == key, (key, bad)
        assert C.validate({key: True}, None, "x")[key] is True
        assert C.validate({key: False}, None, "x")[key] is False


def test_client_id_keepalive_live_interval():
    assert C.validate({"client_id": ""}, None, "GW1")["client_id"] == "dingate-GW1"
    assert _field({"client_id": "a b"}) == "client_id"
    assert _field({"client_id": "x" * 65}) == "client_id"
    for bad in (4, 3601, "x"):
        assert _field({"keepalive": bad}) == "keepalive"
    assert C.validate({"keepalive": 5}, None, "x")["keepalive"] == 5
    assert C.validate({"live_interval_s": 0}, None, "x")["live_interval_s"] == 0
    assert _field({"live_interval_s": -1}) == "live_interval_s"


def test_ca_certificate():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert C.validate({"ca": pem}, None, "x")["ca"] == pem.strip()
    assert C.validate({"ca": ""}, None, "x")["ca"] == ""
    assert _field({"ca": "not a cert"}) == "ca"
    assert _field({"ca": 5}) == "ca"


def test_unknown_keys_refused_read_only_ignored():
    assert _field({"hots": "x"}) == "hots"
    cfg = C.validate({"password_set": True, "status": {"connected": False}}, None, "x")
    assert "password_set" not in cfg and "status" not in cfg
    assert _field([1]) == ""


def test_partial_update_keeps_other_keys():
    stored = C.validate({"host": "b", "port": 1999, "discovery": False}, None, "x")
    cfg = C.validate({"keepalive": 20}, stored, "x")
    assert cfg["host"] == "b" and cfg["port"] == 1999 and cfg["discovery"] is False
    assert cfg["keepalive"] == 20


def test_a_new_destination_drops_the_stored_password():
    """Issue 16 item 7: an installer cannot redirect the stored password to his own host."""
    stored = C.validate({"host": "b", "user": "u", "password": "pw1"}, None, "x")
    assert C.validate({"host": "evil.example"}, stored, "x")["password"] == ""
    assert C.validate({"port": 1884}, stored, "x")["password"] == ""
    assert C.validate({"host": "c", "password": "pw2"}, stored, "x")["password"] == "pw2"
    assert C.public_view(C.validate({"host": "evil.example"}, stored, "x"))["password_set"] is False


def test_huge_numbers_are_400_not_500():
    for v in (1e309, -1e309, float("nan")):
        raises(ValidationError, C.validate, {"port": v}, None, "x")
