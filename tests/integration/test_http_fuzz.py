"""The HTTP API fuzzed from docs/openapi.yaml against the emulated gateway (schemathesis).

Every documented operation but the destructive ones (reboot, factory reset, restore, firmware;
login and logout, which would throttle or end the session) gets a bounded number of generated
requests, valid and invalid (derandomized: the same ones every run), as the admin. Each answer
must be: no 5xx (a 503 "busy" is an out-of-memory the firmware survived: reported, never
hidden), the documented status codes, content types and schemas, errors as {"error", "field"}.
Then, deterministically: 413 for oversized bodies, 400 with the right "field" for invalid
fields, and no GET ever returning a secret set earlier (the admin password, a Wi-Fi key, an
MQTT password). The destructive endpoints have their own tests (test_backup_restore.py).

DINGATE_FUZZ_EXAMPLES (default 8) sets the examples per operation and mode.
"""
import os
import re
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from dingate.testing.emuproc import EmulatorProcess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
WEB = os.path.join(ROOT, "firmware", "gateway", "web")
EXAMPLES = int(os.environ.get("DINGATE_FUZZ_EXAMPLES", "8"))

ADMIN_PW = "fuzz-admin-Pw-7391"
WIFI_KEY = "wifi-key-Secret-5520"
MQTT_PW = "mqtt-pw-Secret-8841"
SECRETS = (ADMIN_PW, WIFI_KEY, MQTT_PW)

DESTRUCTIVE = {
    ("POST", "/api/system/reboot"), ("POST", "/api/system/factory-reset"),
    ("POST", "/api/restore"), ("POST", "/api/firmware"),
    ("POST", "/api/login"), ("POST", "/api/logout"),
}
UPLOADS = {"/api/restore", "/api/firmware"}


def _mem_lines(emu):
    return "\n".join(line for line in emu.log().splitlines() if "mem:" in line or "Error" in line)


@pytest.fixture(scope="module")
def gw():
    with EmulatorProcess(admin_password=ADMIN_PW) as emu:
        emu.login()
        emu.add_meters({"name": "grid", "address": 1, "profile": "sdm630"})
        _set_secrets(emu)
        yield emu


def _set_secrets(emu):
    r = emu.api("POST", "/api/wifi/connect", {"ssid": "Home-Box", "password": WIFI_KEY})
    assert r.status_code == 202, r.text
    r = emu.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": 1, "user": "gw",
                                     "password": MQTT_PW, "discovery": False})
    assert r.status_code == 200, r.text


def _check_answer(case, resp):
    """The checks of every answer, beyond schemathesis' own."""
    text = resp.text
    if resp.status_code == 503:
        raise AssertionError("503 (MemoryError in the firmware): %s" % text)
    if resp.status_code >= 400 and case.path.startswith("/api/"):
        body = resp.json()
        assert isinstance(body.get("error"), str), text
        assert "field" not in body or isinstance(body["field"], str), text
    if case.method.upper() == "GET":
        for s in SECRETS:
            assert s not in text, "a secret in GET %s: %s" % (case.path, text[:300])


def _skip(case):
    # the admin's own account: a new password would end the fuzzing session
    name = (case.path_parameters or {}).get("name")
    return case.path == "/api/users/{name}" and isinstance(name, str) and name.lower() == "admin"


def test_fuzz_every_endpoint(gw):
    schema = schemathesis.openapi.from_path(SPEC)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    failures = []
    count = [0]
    t0 = time.monotonic()
    for result in schema.get_all_operations():
        op = result.ok()
        key = (op.method.upper(), op.path)
        if key in DESTRUCTIVE:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case):
                if _skip(case):
                    return
                count[0] += 1
                resp = case.call(base_url=gw.url, session=gw.session, timeout=20)
                _check_answer(case, resp)
                case.validate_response(resp, checks=checks)

            try:
                run()
            except Unsatisfiable:
                pass  # nothing invalid to generate for this operation
            except KeyboardInterrupt:
                raise
            except BaseException as e:  # noqa: B036 - schemathesis' FailureGroup is a BaseExceptionGroup
                msg = str(e)
                if "Unsatisfiable" in type(e).__name__ or "cannot generate" in msg.lower():
                    continue
                failures.append("%s %s [%s]: %s" % (key[0], key[1], mode.value, msg[:1500]))
    elapsed = time.monotonic() - t0
    print("fuzzed %d requests in %.1f s" % (count[0], elapsed))
    status = requests.get(gw.url + "/api/status", timeout=10).json()
    print("after fuzzing: mem_free %s mem_alloc %s" % (status["mem_free"], status["mem_alloc"]))
    assert not failures, "\n\n".join(failures) + "\n\nboot log:\n" + _mem_lines(gw)
    # a refused request logs one line; a traceback only for a real fault, counted (issue 16)
    with open(gw.log_path, "rb") as f:
        console = f.read().decode(errors="replace")
    web = [t for t in console.split("Traceback (most recent call last):")[1:]
           if "gateway/web/" in t.split("Error")[0] or "microdot" in t.split("Error")[0]]
    assert status["faults"] == 0 and not web, "\n---\n".join(web)[:4000]


def _write_ops():
    schema = schemathesis.openapi.from_path(SPEC)
    out = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.method.upper() in ("POST", "PUT") and op.path not in UPLOADS and \
                (op.method.upper(), op.path) not in (("POST", "/api/system/reboot"),):
            out.append((op.method.upper(), op.path.replace("{id}", "1").replace("{name}", "bob")))
    return out


def test_oversized_bodies_get_413(gw):
    big = b'{"x": "' + b"a" * (10 * 1024) + b'"}'  # over 4 KiB: read, dropped, 413
    for method, path in _write_ops():
        r = gw.session.request(method, gw.url + path, data=big, timeout=20,
                               headers={"Content-Type": "application/json"})
        assert r.status_code == 413, (method, path, r.status_code, r.text)
        assert r.json()["error"]
    r = gw.session.post(gw.url + "/api/restore", data=b" " * (65 * 1024), timeout=20,
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "restore", r.text
    # over the upload limit (2 MiB): refused from the headers, before any body byte is read
    limit = gw.api("GET", "/api/firmware").json()["max_upload"]
    assert limit == 2 * 1024 * 1024
    r = _raw_post(gw, "/api/firmware", limit + 1)
    assert r.startswith(b"HTTP/1.0 413") or r.startswith(b"HTTP/1.1 413"), r[:200]


def _raw_post(gw, path, length):
    import socket

    s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=20)
    try:
        cookie = "; ".join("%s=%s" % (k, v) for k, v in gw.session.cookies.items())
        s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: %s\r\n"
                   "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                   % (path, cookie, length)).encode())
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


INVALID = [
    ("POST", "/api/meters", {"address": 0, "profile": "sdm630"}, "address"),
    ("POST", "/api/meters", {"address": 1, "profile": "sdm120"}, "address"),  # used by grid
    ("POST", "/api/meters", {"address": 9, "profile": "sdm999"}, "profile"),
    ("POST", "/api/meters", {"address": 9, "profile": "generic", "registers": [
        {"quantity": "q1", "register": 1}, {"quantity": "q2", "register": 2, "type": "u128"}]},
     "registers[1].type"),
    ("PUT", "/api/meters/1", {"enabled": "yes"}, "enabled"),
    ("PUT", "/api/bus", {"baud": 5}, "baud"),
    ("PUT", "/api/bus", {"parity": "X"}, "parity"),
    ("PUT", "/api/settings", {"timezone": "Nowhere/City"}, "timezone"),
    ("PUT", "/api/settings", {"sample_interval_s": 1}, "sample_interval_s"),
    ("PUT", "/api/settings", {"location": "a/b"}, "location"),
    ("PUT", "/api/genset", {"start_soc": 90, "stop_soc": 10}, "start_soc"),
    ("PUT", "/api/genset", {"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
    ("PUT", "/api/genset", {"mode": "maybe"}, "mode"),
    ("PUT", "/api/mqtt", {"port": 0}, "port"),
    ("PUT", "/api/mqtt", {"host": "mqtt://x"}, "host"),
    ("PUT", "/api/mqtt", {"colour": "blue"}, "colour"),
    ("PUT", "/api/modbus-tcp", {"port": 70000}, "port"),
    ("PUT", "/api/modbus-tcp", {"enabled": "on"}, "enabled"),
    ("POST", "/api/wifi/connect", {"ssid": "Home-Box", "password": "short"}, "password"),
    ("POST", "/api/wifi/connect", {"ssid": ""}, "ssid"),
    ("POST", "/api/wifi/connect", {"ssid": "Home-Box", "ip": "10.0.0.5", "netmask": "255.0.255.0"},
     "netmask"),
    ("POST", "/api/users", {"user": "ab", "password": "long-enough-1"}, "user"),
    ("POST", "/api/users", {"user": "carol", "password": "short"}, "password"),
    ("POST", "/api/users", {"user": "carol", "password": "long-enough-1", "role": "root"}, "role"),
    ("PUT", "/api/users/admin", {"role": "user"}, "role"),  # the last admin
    ("PUT", "/api/me/password", {"old_password": "wrong-password", "password": "whatever-123"},
     "old_password"),
    ("POST", "/api/system/factory-reset", {"confirm": False}, "confirm"),
    ("POST", "/api/billing/1/reset", {}, "confirm"),
]


def test_invalid_fields_get_400_with_the_field(gw):
    for method, path, body, field in INVALID:
        r = gw.api(method, path, body)
        assert r.status_code == 400, (method, path, body, r.status_code, r.text)
        assert r.json().get("field") == field, (method, path, body, r.text)
    for query, field in (("meter=999&from=0&to=10", "meter"), ("meter=1&from=x&to=10", "from"),
                         ("meter=1&from=10&to=5", "to"), ("meter=1&from=0&to=10&step=2h", "step")):
        for path in ("/api/history", "/api/export.csv", "/api/export.json"):
            r = gw.api("GET", path + "?" + query)
            assert r.status_code == 400 and r.json().get("field") == field, (path, query, r.text)
    r = gw.api("GET", "/api/events?limit=many")
    assert r.status_code == 400 and r.json()["field"] == "limit", r.text
    for raw in (b"{not json", b'{"location": "\\ud800"}', b'{"location": "\xed\xa0"}'):
        r = gw.session.put(gw.url + "/api/settings", data=raw, timeout=10,
                           headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"], (raw, r.text)
    # an escaped backslash before "ud800" is plain text, not a surrogate
    r = gw.session.put(gw.url + "/api/mqtt", data=b'{"client_id": "x\\\\ud800"}', timeout=10,
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "client_id", r.text


def _get_paths():
    schema = schemathesis.openapi.from_path(SPEC)
    for result in schema.get_all_operations():
        op = result.ok()
        if op.method.upper() == "GET" and op.path.startswith("/api/"):
            path = op.path.replace("{id}", "1")
            if path in ("/api/history", "/api/export.csv", "/api/export.json"):
                path += "?meter=1&from=0&to=%d" % int(time.time() + 3600)
            yield path


def test_get_responses_never_carry_secrets(gw):
    _set_secrets(gw)  # again: the fuzzing may have replaced them
    seen = 0
    for path in _get_paths():
        r = gw.api("GET", path, timeout=20)
        assert r.status_code < 500, (path, r.status_code, r.text)
        for s in SECRETS:
            assert s not in r.text, "secret in GET %s" % path
        seen += 1
    assert seen >= 20
    me = gw.api("GET", "/api/mqtt").json()
    assert me["password_set"] is True and "password" not in me
    wifi = gw.api("GET", "/api/wifi").json()
    assert wifi["sta"]["password_set"] is True


# --- the description covers the firmware ----------------------------------------------------------

def _firmware_routes():
    """(METHOD, path) of every route the firmware serves, read from its source."""
    routes = set()
    groups = {}
    with open(os.path.join(WEB, "dispatch.py")) as f:
        for m in re.finditer(r'"([a-z0-9.\-]+)": "gateway\.web\.(api_[a-z0-9_]+)"', f.read()):
            groups.setdefault(m.group(2), set()).add(m.group(1))
    for mod in groups:
        with open(os.path.join(WEB, mod + ".py")) as f:
            for m in re.finditer(r'\("(GET|POST|PUT|DELETE)", "([^"]+)", "(tenant|user|installer|admin)"',
                                 f.read()):
                routes.add((m.group(1), "/api/" + re.sub(r"<[a-z]+>", "{}", m.group(2))))
    with open(os.path.join(WEB, "server.py")) as f:
        for m in re.finditer(r'@app\.(get|post)\("([^"]+)"\)', f.read()):
            if m.group(2) != "/<path:path>":  # the fallback (404, or a captive redirect)
                routes.add((m.group(1).upper(), m.group(2)))
    with open(os.path.join(WEB, "pages.py")) as f:
        for m in re.finditer(r'@app\.(get|post)\("([^"]+)"\)', f.read()):
            routes.add((m.group(1).upper(), re.sub(r"<path:[a-z]+>", "{}", m.group(2))))
    with open(os.path.join(WEB, "captive.py")) as f:
        probes = re.search(r"PROBES = \(([^)]*)\)", f.read()).group(1)
        for p in re.findall(r'"([^"]+)"', probes):
            routes.add(("GET", p))
    return routes


def test_openapi_covers_every_route():
    schema = schemathesis.openapi.from_path(SPEC)
    documented = set()
    for result in schema.get_all_operations():
        op = result.ok()
        documented.add((op.method.upper(), re.sub(r"\{[a-z_]+\}", "{}", op.path)))
    served = _firmware_routes()
    assert len(served) > 50
    assert served - documented == set(), "served but not in docs/openapi.yaml"
    assert documented - served == set(), "in docs/openapi.yaml but not served"
