"""A board that leaves features out (board file "features_left_out", firmware/manifest.py):
the emulated gateway runs a board file that leaves every optional feature but the backup
out and, as the WROOM tier does, handles one request at a time ("http_handlers": 1) and
writes its samples once a few wait in RAM ("recorder_pending"). Their
modules are not built, never loaded (GET /api/system/modules), their services do not start,
every route of theirs answers 404 "left_out" naming the feature, a backup leaves their
documents out and a restore of a file carrying them says so in its notes."""
import json
import os
import shutil

import pytest
import requests

from dingate import boards, manifest
from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.poll import wait_until

LEFT_OUT = ["genset", "mqtt", "modbus_tcp", "billing", "metrics", "firmware_update",
            "captive_dns"]
# (method, path, the feature it belongs to); every method of a left-out group is answered
ROUTES = [("GET", "/api/genset", "genset"), ("PUT", "/api/genset", "genset"),
          ("GET", "/api/mqtt", "mqtt"), ("PUT", "/api/mqtt", "mqtt"),
          ("GET", "/api/modbus-tcp", "modbus_tcp"), ("GET", "/api/billing", "billing"),
          ("GET", "/api/billing/config", "billing"), ("GET", "/api/statements", "billing"),
          ("GET", "/api/statements.csv", "billing"), ("GET", "/api/metrics/token", "metrics"),
          ("GET", "/metrics", "metrics"), ("POST", "/api/firmware", "firmware_update")]


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("left-out")
    with open(boards.load("emulator")["_path"]) as f:
        board = json.load(f)
    board["name"] = "emulator-lean"
    board["features_left_out"] = LEFT_OUT
    board["http_handlers"] = 1
    board["recorder_pending"] = 2
    path = os.path.join(str(tmp), "emulator-lean.json")
    with open(path, "w") as f:
        json.dump(board, f)
    e = EmulatorProcess(state_dir=str(tmp / "state"), extra_args=["--board", path])
    e.board = board
    try:
        e.start()
        e.login()
        yield e
    finally:
        e.cleanup()


def _gone_modules():
    feats = manifest.features()
    return set(m for f in LEFT_OUT for m in feats[f])


def test_the_build_leaves_their_modules_out(emu):
    shipped = manifest.shipped(emu.board)
    assert not (_gone_modules() & shipped)
    assert "gateway.web.api_backup" in shipped and "gateway.app" in shipped


def test_status_names_what_is_left_out(emu):
    st = requests.get(emu.url + "/api/status", timeout=5).json()
    assert st["features_left_out"] == LEFT_OUT
    assert st["board"] == "emulator-lean"


def test_their_routes_answer_left_out(emu):
    for method, path, feature in ROUTES:
        body = {} if method == "PUT" else None
        r = emu.api(method, path, body, data=b"x" if method == "POST" else None)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        d = r.json()
        assert d["code"] == "left_out" and d["params"] == {"feature": feature}, (path, d)
        assert feature in d["error"]
    # without a session too (GET /api/status tells anyone the same list)
    r = requests.get(emu.url + "/api/genset", timeout=5)
    assert r.status_code == 404 and r.json()["code"] == "left_out"
    # what stays answers as ever
    assert emu.api("GET", "/api/meters").status_code == 200
    assert emu.api("GET", "/api/settings").status_code == 200


def test_their_modules_are_never_loaded_and_their_services_do_not_run(emu):
    for method, path, _feature in ROUTES[:4]:
        emu.api(method, path, {} if method == "PUT" else None)
    loaded = set(emu.api("GET", "/api/system/modules").json()["modules"])
    assert "gateway.app" in loaded
    assert not (_gone_modules() & loaded), sorted(_gone_modules() & loaded)
    tasks = emu.api("GET", "/api/system/tasks").json()
    for name in ("genset", "mqtt", "dns", "modbus_tcp_start"):
        assert name not in tasks or not tasks[name].get("running"), (name, tasks.get(name))
    log = emu.log()
    assert "ImportError" not in log and "MemoryError" not in log, log[-3000:]
    assert requests.get(emu.url + "/api/status", timeout=5).json()["faults"] == 0


def test_one_request_at_a_time_all_answered_beside_a_live_stream(emu):
    """A page's burst of requests with its live stream open: each request waits its turn, the
    stream holds none, every answer comes."""
    import threading

    cookies = emu.session.cookies.get_dict()
    headers = dict(emu.session.headers)
    assert requests.get(emu.url + "/api/status", timeout=5).json()["http"]["handlers"] == 1
    with requests.get(emu.url + "/api/live", cookies=cookies, stream=True, timeout=30,
                      headers=dict(headers, Accept="text/event-stream")) as live:
        assert live.status_code == 200, live.text
        assert next(live.iter_lines(decode_unicode=True)) is not None  # the stream is open
        answers = {}

        def get(path):
            answers[path] = requests.get(emu.url + path, cookies=cookies, headers=headers,
                                         timeout=30).status_code

        paths = ["/api/status", "/api/meters", "/api/readings", "/api/events?limit=20",
                 "/api/settings", "/api/system/tasks"]
        threads = [threading.Thread(target=get, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == {p: 200 for p in paths}, answers
    http = requests.get(emu.url + "/api/status", timeout=5).json()["http"]
    assert http["waiting"] == 0 and http["refused"] == 0, http


def test_the_page_hides_what_is_left_out(emu, artifacts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        try:
            pg = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            errors = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(emu.url + "/")
            pg.fill("#login input[name=user]", "admin")
            pg.fill("#login input[name=password]", emu.admin_password)
            pg.click("[data-action=login]")
            pg.wait_for_selector("nav.tabs a[data-page=meters]", state="attached")
            assert pg.locator("nav.tabs a[data-page=genset]").count() == 0
            pg.goto(emu.url + "/#/readings")
            pg.wait_for_selector("form#export")
            pg.wait_for_load_state("networkidle")  # every card's request answered
            assert pg.locator("#billing-config").count() == 0 and pg.locator(".bill").count() == 0
            pg.goto(emu.url + "/#/network")
            pg.wait_for_selector("[data-action=tab-wifi]")
            assert pg.locator("[data-action=tab-mqtt]").count() == 0
            pg.goto(emu.url + "/#/system/maint")
            pg.wait_for_selector("#restore-form")  # the backup is kept
            assert pg.locator("[data-action=tab-modbus]").count() == 0
            assert pg.locator("#firmware-form").count() == 0
            pg.screenshot(path=os.path.join(artifacts, "left-out-maint.png"))
            assert not errors, errors
        finally:
            browser.close()


def test_samples_waiting_in_ram_are_bounded_by_the_board(emu):
    """With the next flush a day away, a tick of three meters fills the board's bound of two
    samples in RAM: every tick is written at once (else one write, the first, in the day)."""
    emu.add_meters({"name": "grid", "address": 1, "profile": "sdm630"},
                   {"name": "workshop", "address": 2, "profile": "sdm120"},
                   {"name": "pv roof", "address": 3, "profile": "sdm120"})
    emu.record_often(sample_s=5, flush_s=86400)

    def recordings():
        return emu.api("GET", "/api/system").json()["recordings"]

    wait_until(lambda: recordings()["writes"] >= 3, 60, "three ticks written")
    rec = recordings()["recorder"]
    assert rec["max_pending"] == 2 and rec["pending"] <= 2, rec
    assert rec["dropped"] == 0 and rec["flush_errors"] == 0, rec


def test_backup_and_restore_say_what_this_board_does_not_hold(emu):
    r = emu.api("GET", "/api/backup")
    assert r.status_code == 200, r.text
    doc = r.json()
    for name in ("genset", "mqtt", "modbus_tcp"):
        assert name not in doc
    assert "meters" in doc and "users" in doc
    # a backup from a board with every feature: its genset, MQTT and Modbus TCP documents
    doc["genset"] = {"mode": "auto"}
    doc["mqtt"] = {"host": "broker.lan", "port": 1883}
    doc["modbus_tcp"] = {"enabled": True, "port": 502}
    r = emu.api("POST", "/api/restore", data=json.dumps(doc).encode(),
                headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert not set(d["restored"]) & {"genset", "mqtt", "modbus_tcp"}
    assert "meters" in d["restored"]
    notes = " | ".join(d["notes"])
    for name in ("genset", "mqtt", "modbus_tcp"):
        assert "%s: not restored: this board (emulator-lean) leaves the %s feature out" % (
            name, name) in notes, notes
    emu.wait_for(lambda: emu.log().count("mem: running") >= 2, timeout=90, what="the reboot")
    log = emu.log()
    assert "ImportError" not in log and "MemoryError" not in log, log[-3000:]
