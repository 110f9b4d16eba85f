"""The declared resident set (core/ondemand.py, app.RESIDENT) on the emulated gateway: every API
group leaves ``sys.modules`` as it found it, and no resident module exists twice, also with the
optional services (genset, Modbus TCP, the MQTT uplink) started from the API while requests
run."""
import pytest

from dingate.testing.emuproc import EmulatorProcess, only_resident_loaded

# one GET per API group (dispatch.GROUPS), each loading its group module on demand
GETS = ("/api/meters", "/api/bus", "/api/profiles", "/api/users", "/api/me", "/api/wifi",
        "/api/system", "/api/system/tasks", "/api/settings", "/api/events", "/api/genset",
        "/api/mqtt", "/api/modbus-tcp", "/api/history?meter=1", "/api/billing",
        "/api/statements?meter=1", "/api/backup", "/api/status", "/api/live")


@pytest.fixture(scope="module")
def emu():
    with EmulatorProcess() as e:
        e.login()
        yield e


def modules(emu):
    # a 503 is an out-of-memory the firmware survived (the heap is at its edge with every
    # optional service on, in the 272 KB emulator): asked again, within a deadline
    r = emu.wait_for(lambda: (lambda r: r if r.status_code != 503 else None)(
        emu.api("GET", "/api/system/modules")), timeout=10, what="modules listed")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["duplicates"] == [], d["duplicates"]
    assert only_resident_loaded(d), d  # nothing else runs on-demand code here
    return set(d["modules"])


def test_every_api_group_leaves_the_modules_as_it_found_them(emu):
    base = modules(emu)
    assert "gateway.core.ondemand" in base and "gateway.web.api_meters" not in base
    for path in GETS:
        r = emu.api("GET", path)
        assert r.status_code < 500, (path, r.status_code, r.text)
        now = modules(emu)
        assert now == base, (path, sorted(now - base), sorted(base - now))


def test_optional_services_join_the_resident_set_once(emu):
    before = modules(emu)
    r = emu.api("PUT", "/api/genset", {"mode": "on"})
    assert r.status_code == 200, r.text
    emu.wait_for(lambda: "gateway.core.genset" in modules(emu), timeout=20,
                 what="the generator's modules resident")
    emu.modbus_tcp_on()
    grown = modules(emu)
    assert before < grown
    for _ in range(2):  # the controller's module and the API's are one: no second copy
        for path in ("/api/genset", "/api/modbus-tcp", "/api/backup"):
            assert emu.api("GET", path).status_code == 200, path
        r = emu.api("PUT", "/api/genset", {"min_run_s": 700})
        assert r.status_code == 200, r.text
        assert modules(emu) == grown
    tasks = emu.api("GET", "/api/system/tasks").json()
    for name in ("genset", "genset_apply", "modbus_tcp_apply"):
        assert name in tasks, (name, sorted(tasks))


def test_mqtt_started_by_a_request_keeps_its_modules():
    """PUT /api/mqtt starts the uplink inside the request: its modules (the outbox's too) join
    the resident set rather than leaving with the request (no broker needed: it keeps trying)."""
    with EmulatorProcess() as e:
        e.login()
        before = modules(e)
        r = e.api("PUT", "/api/mqtt", {"host": "127.0.0.1", "port": 9, "base_topic": "rs/gw"})
        assert r.status_code == 200, r.text
        grown = modules(e)
        assert {"gateway.services.uplink", "gateway.core.outbox"} <= grown - before
        assert e.api("GET", "/api/mqtt").status_code == 200
        assert modules(e) == grown


def test_a_bus_scan_started_by_a_request_keeps_its_module(emu):
    """The scan runs in the poller after the request that started it has ended."""
    before = modules(emu)
    r = emu.api("POST", "/api/bus/scan", {"from": 1, "to": 2, "timeout_ms": 100})
    assert r.status_code == 202, r.text
    emu.wait_for(lambda: not emu.api("GET", "/api/bus/scan").json()["running"],
                 timeout=60, what="scan done")
    assert modules(emu) - before == {"gateway.services.scan"}
