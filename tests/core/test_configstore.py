"""Config store: atomic saves, last good copy, recovery, validation; settings validation."""

import os

from _assert import raises, tmpdir
from _assert import rmtree as _rmtree

from gateway.core.configstore import ConfigStore
from gateway.core.errors import ValidationError
from gateway.core.settings import SETTINGS_DEFAULTS, validate_settings


def _tmpdir():
    return tmpdir("dgt_cfg_")




def _write(path, data):
    f = open(path, "wb")
    f.write(data)
    f.close()


def _needs_x(d):
    if not isinstance(d, dict) or "x" not in d:
        raise ValidationError("x", "x required")
    return d


def test_save_load_and_generations():
    d = _tmpdir()
    try:
        cs = ConfigStore(d + "/cfg")
        assert cs.load("meters", default=[]) == ([], "default")
        cs.save("meters", [{"id": "1"}])
        cs.save("meters", [{"id": "1"}, {"id": "2"}])
        assert cs.load("meters") == ([{"id": "1"}, {"id": "2"}], "ok")
        names = sorted(os.listdir(d + "/cfg"))
        assert names == ["meters.bak", "meters.json"]
        cs2 = ConfigStore(d + "/cfg")
        cs2.load("meters")
        cs2.save("meters", [])
        import json

        doc = json.loads(open(d + "/cfg/meters.json").read())
        assert doc["gen"] == 3 and doc["v"] == 1 and doc["data"] == []
        assert cs.problems == [] and cs.bytes_written > 0
    finally:
        _rmtree(d)


def test_corrupt_current_falls_back_to_last_good():
    d = _tmpdir()
    try:
        cs = ConfigStore(d)
        cs.save("wifi", {"x": 1})
        cs.save("wifi", {"x": 2})
        _write(d + "/wifi.json", b'{"v": 1, "gen": 2, "data": {"x"')
        data, status = cs.load("wifi", _needs_x)
        assert (data, status) == ({"x": 1}, "fallback")
        assert cs.problems[-1][0] == "wifi" and cs.problems[-1][1] == "fallback"
        # the good copy was written back as current
        assert ConfigStore(d).load("wifi", _needs_x) == ({"x": 1}, "ok")
    finally:
        _rmtree(d)


def test_invalid_content_falls_back():
    d = _tmpdir()
    try:
        cs = ConfigStore(d)
        cs.save("mqtt", {"x": 1})
        cs.save("mqtt", {"x": 2})
        _write(d + "/mqtt.json", b'{"v": 1, "gen": 9, "data": {"y": 1}}')  # fails the validator
        assert cs.load("mqtt", _needs_x) == ({"x": 1}, "fallback")
        assert "x required" in cs.problems[-1][2]
    finally:
        _rmtree(d)


def test_missing_current_with_complete_tmp_is_recovered():
    d = _tmpdir()
    try:
        cs = ConfigStore(d)
        cs.save("genset", {"x": 1})
        cs.save("genset", {"x": 2})
        # a cut between "current -> bak" and "tmp -> current": tmp holds the new version
        os.rename(d + "/genset.json", d + "/genset.bak")
        _write(d + "/genset.tmp", b'{"v": 1, "gen": 3, "data": {"x": 3}}')
        cs2 = ConfigStore(d)
        assert cs2.load("genset", _needs_x) == ({"x": 3}, "recovered")
        assert sorted(os.listdir(d)) == ["genset.bak", "genset.json"]
        assert cs2.load("genset", _needs_x) == ({"x": 3}, "ok")
    finally:
        _rmtree(d)


def test_incomplete_tmp_is_discarded():
    d = _tmpdir()
    try:
        _write(d + "/users.tmp", b'{"v": 1, "ge')
        cs = ConfigStore(d)
        assert cs.load("users", default={"a": 1}) == ({"a": 1}, "default")
        assert cs.problems[-1][1] == "discarded" and os.listdir(d) == []
        # with a good current file a stale tmp does not matter
        cs.save("users", {"x": 1})
        _write(d + "/users.tmp", b"garbage")
        assert cs.load("users") == ({"x": 1}, "ok")
        cs.save("users", {"x": 2})
        assert cs.load("users") == ({"x": 2}, "ok")
    finally:
        _rmtree(d)


def test_everything_corrupt_is_reported_not_silent():
    d = _tmpdir()
    try:
        _write(d + "/bus.json", b"\x00\x00\x00")
        _write(d + "/bus.bak", b"{")
        cs = ConfigStore(d)
        data, status = cs.load("bus", default={"baud": 9600})
        assert status == "corrupt" and data == {"baud": 9600}
        assert cs.problems[-1][1] == "corrupt" and "bak" in cs.problems[-1][2]
        assert open(d + "/bus.json", "rb").read() == b"\x00\x00\x00"  # nothing overwritten
        _write(d + "/bus.json", b'{"v": 99, "gen": 1, "data": {}}')  # newer firmware's format
        assert cs.load("bus")[1] == "corrupt"
    finally:
        _rmtree(d)


def test_save_validates_first():
    d = _tmpdir()
    try:
        cs = ConfigStore(d)
        cs.save("settings", {}, validate_settings)
        e = raises(ValidationError, cs.save, "settings", {"csv_separator": "|"}, validate_settings)
        assert e.field == "csv_separator"
        data, status = cs.load("settings", validate_settings)
        assert status == "ok" and data == SETTINGS_DEFAULTS
        raises(ValueError, cs.save, "../x", {})
        cs.delete("settings")
        assert cs.load("settings")[1] == "default"
    finally:
        _rmtree(d)


def test_settings_validation():
    s = validate_settings({})
    assert s["sample_interval_s"] == 600 and s["flush_interval_s"] == 60
    assert s["csv_separator"] == ";" and s["csv_decimal"] == "," and s["location"] == ""
    assert s["timezone"] == "Europe/Paris"
    s = validate_settings(
        {
            "sample_interval_s": 5,
            "csv_separator": ",",
            "csv_decimal": ".",
            "timezone": "UTC",
            "location": "Résidence Les Pins",
        }
    )
    assert s["sample_interval_s"] == 5 and s["timezone"] == "UTC"
    # unknown keys are refused (issue 16 item 8); a stored base loses the ones it had
    assert raises(ValidationError, validate_settings, {"lang": "fr"}).field == "lang"
    assert raises(ValidationError, validate_settings, {"x": {"y": [1]}}).field == "x"
    assert "lang" not in validate_settings({}, {"lang": "fr", "location": "A"})
    assert validate_settings({}, {"lang": "fr", "location": "A"})["location"] == "A"
    for v in (1e309, -1e309):
        assert raises(ValidationError, validate_settings, {"sample_interval_s": v}).field == "sample_interval_s"
    assert validate_settings({"sample_interval_s": 900.0})["sample_interval_s"] == 900
    bad = (
        ({"sample_interval_s": 4}, "sample_interval_s"),
        ({"sample_interval_s": "600"}, "sample_interval_s"),
        ({"sample_interval_s": True}, "sample_interval_s"),
        ({"sample_interval_s": 5.5}, "sample_interval_s"),
        ({"flush_interval_s": 0}, "flush_interval_s"),
        ({"csv_separator": "\t"}, "csv_separator"),
        ({"csv_decimal": ";"}, "csv_decimal"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"timezone": 1}, "timezone"),
        ({"location": "x" * 32}, "location"),
        ({"location": 5}, "location"),
        ({"location": "a\nb"}, "location"),
        ({"http_port": -1}, "http_port"),
        ({"http_port": 65536}, "http_port"),
        ({"http_port": "8088"}, "http_port"),
        ({"http_port": 80.5}, "http_port"),
        ({"host_name": "home.example.net:8443"}, "host_name"),
        ({"host_name": "-home.example"}, "host_name"),
        ({"host_name": 5}, "host_name"),
    )
    for d, field in bad:
        e = raises(ValidationError, validate_settings, d)
        assert e.field == field, (d, e.field)
    assert raises(ValidationError, validate_settings, []).field == "settings"
    # a partial update merged into the current settings
    cur = validate_settings({"location": "Site A", "csv_separator": ","})
    s = validate_settings({"sample_interval_s": 60}, base=cur)
    assert s["location"] == "Site A" and s["csv_separator"] == "," and s["sample_interval_s"] == 60


def test_settings_second_http_port():
    """0 (none) by default; a port the gateway already listens on is refused by name."""
    from gateway.core.settings import check_port_free

    assert validate_settings({})["http_port"] == 0
    assert validate_settings({})["host_name"] == ""
    assert validate_settings({"host_name": " Home.Example.NET "})["host_name"] == "home.example.net"
    assert validate_settings({"http_port": 8088})["http_port"] == 8088
    check_port_free(8088, (80, 502))
    check_port_free(0, (80, 0))
    for port in (80, 502):
        e = raises(ValidationError, check_port_free, port, (80, 502))
        assert e.field == "http_port" and e.code == "unique" and str(port) in e.message


def test_settings_ntp_server():
    assert validate_settings({})["ntp_server"] == "pool.ntp.org"
    for v, want in (("", ""), ("  ", ""), ("time.cloudflare.com", "time.cloudflare.com"),
                    (" 0.be.pool.ntp.org ", "0.be.pool.ntp.org"), ("192.168.1.1", "192.168.1.1"),
                    ("127.0.0.1:12345", "127.0.0.1:12345"), ("ntp-1.example:123", "ntp-1.example:123"),
                    ("localhost:1", "localhost:1"), ("a." * 126 + "b", "a." * 126 + "b")):
        assert validate_settings({"ntp_server": v})["ntp_server"] == want, v
    for v in (None, 123, ["pool.ntp.org"], "ntp://pool.ntp.org", "pool ntp.org", "pool.ntp.org.",
              ".pool", "-a.example", "a-.example", "a..b", "host:", "host:0", "host:65536",
              "host:12a", "host:+1", "host:1:2", "::1", "[::1]:123", "x" * 64 + ".example",
              "a." * 127 + "b", "pool_ntp.org", "pool.ntp.org/x", "h\u00e9.example"):
        e = raises(ValidationError, validate_settings, {"ntp_server": v})
        assert e.field == "ntp_server", (v, e.field)
    # kept through a partial update
    cur = validate_settings({"ntp_server": "10.0.0.1:1123"})
    assert validate_settings({"location": "x"}, base=cur)["ntp_server"] == "10.0.0.1:1123"
