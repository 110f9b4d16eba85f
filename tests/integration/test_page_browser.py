"""The page in a real headless browser (Debian chromium, driven by playwright) at phone size:
log in, add a meter, join a Wi-Fi network picked from a scan list that holds hostile SSIDs,
switch language. Screenshots are kept in build/test-artifacts/."""
import json
import os
import re
import shutil
import time

import pytest

from dingate.testing.emuproc import SCENARIOS, EmulatorProcess, free_port

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (make setup)")

HOSTILE = ['<img src=x onerror=__xss=1>', '"><script>__xss=2</script>']  # <= 32 bytes
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with open(os.path.join(SCENARIOS, "devices.json")) as f:
        scenario = json.load(f)
    scenario["wifi"]["networks"] += [{"ssid": s, "rssi": -70, "password": "whatever-123"} for s in HOSTILE]
    path = tmp_path_factory.mktemp("world") / "hostile.json"
    path.write_text(json.dumps(scenario))
    return str(path)


@pytest.fixture(scope="module")
def gateway(world):
    emu = EmulatorProcess(scenario=world)
    try:
        yield emu.start()
    finally:
        emu.cleanup()


@pytest.fixture()
def page(gateway, artifacts):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        ctx = browser.new_context(viewport=PHONE, locale="en-GB")
        pg = ctx.new_page()
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        outside = []
        pg.on("request", lambda r: None if r.url.startswith(gateway.url) else outside.append(r.url))
        pg.goto(gateway.url + "/")
        yield pg
        assert not outside, "the page fetched from outside the device: %s" % outside
        browser.close()


def _login(pg, emu):
    pg.fill("#login input[name=user]", "admin")
    pg.fill("#login input[name=password]", emu.admin_password)
    pg.click("[data-action=login]")
    pg.wait_for_selector("nav.tabs")


def test_login_add_meter_join_wifi_switch_language(page, gateway, artifacts):
    pg = page
    pg.screenshot(path=os.path.join(artifacts, "01-login.png"))
    _login(pg, gateway)
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    pg.screenshot(path=os.path.join(artifacts, "02-home.png"))

    pg.goto(gateway.url + "/#/meters")
    pg.click("[data-action=add-meter]")
    pg.fill("#meter-form input[name=name]", "Kitchen")
    pg.fill("#meter-form input[name=address]", "2")
    pg.select_option("#meter-form select[name=profile]", "sdm120")
    pg.click("[data-action=save-meter]")
    pg.wait_for_selector(".meter >> text=Kitchen")
    meters = [m["name"] for m in gateway.api("GET", "/api/meters").json()] if gateway.login() else []
    assert "Kitchen" in meters
    pg.screenshot(path=os.path.join(artifacts, "03-meters.png"))

    pg.goto(gateway.url + "/#/network")
    pg.wait_for_selector("[data-action=select-network][data-ssid='Home-Box']")
    name = "dingate-" + gateway.label()["serial"].lower()  # how to find it on the router's network
    assert pg.inner_text("#hostname") == "%s · %s.local" % (name, name)
    for s in HOSTILE:  # shown as text, never as markup
        assert pg.locator("#wifi-list").get_by_text(s, exact=True).count() == 1
    assert pg.evaluate("window.__xss") is None
    pg.screenshot(path=os.path.join(artifacts, "04-scan.png"))
    pg.click("[data-action=select-network][data-ssid='Home-Box']")
    pg.fill("#wifi-form input[name=password]", "correct-horse")
    pg.click("[data-action=connect]")
    pg.wait_for_selector("#wifi-connected", timeout=30000)
    assert "192.168." in pg.inner_text("#wifi-connected")
    pg.screenshot(path=os.path.join(artifacts, "05-connected.png"))

    pg.click("[data-action=lang-fr]")
    pg.wait_for_function("document.documentElement.lang === 'fr'")
    pg.screenshot(path=os.path.join(artifacts, "06-french.png"))
    assert pg.evaluate("window.__xss") is None and not pg.dialogs


def test_home_names_every_quantity_of_a_three_phase_meter_with_its_unit(page, gateway, artifacts):
    """An SDM630 also reads power per phase, reactive and apparent power: each is named in the
    reader's language with the unit of the firmware's catalogue (www/quantities.json)."""
    pg = page
    _login(pg, gateway)
    gateway.login()
    mid = gateway.create("/api/meters", {"name": "Three-phase", "address": 1,
                                         "profile": "sdm630"})[0]["id"]
    gateway.wait_for(lambda: "reactive_var" in
                     ((gateway.api("GET", "/api/readings").json().get(mid) or {}).get("values") or {}),
                     timeout=30, what="the SDM630's first reading")
    pg.goto(gateway.url + "/#/home")
    card = pg.locator(".meter[data-id='%s']" % mid)
    card.locator("dt", has_text="Reactive power").wait_for()
    rows = dict(zip(card.locator("dt").all_inner_texts(), card.locator("dd").all_inner_texts()))
    pg.screenshot(path=os.path.join(artifacts, "02b-three-phase.png"))
    assert re.search(r"\d\s(k?W)$", rows["Power L1"]) and re.search(r"\d\s(k?W)$", rows["Power L3"]), rows
    assert rows["Reactive power"].endswith("var") and rows["Apparent power"].endswith("VA"), rows
    assert not [k for k in rows if "_" in k or k == k.lower()], rows  # no raw quantity name
    gateway.api("DELETE", "/api/meters/" + mid)


def test_system_page_sets_the_clock_from_the_phone(page, gateway, artifacts):
    pg = page
    _login(pg, gateway)
    gateway.login()  # the test's own API session (it also runs alone)
    pg.goto(gateway.url + "/#/system")
    pg.wait_for_selector("[data-action=set-time]")
    assert pg.locator("#settings input[name=ntp_server]").input_value() == ""  # emulator: no internet
    t0 = time.time()
    pg.click("[data-action=set-time]")
    rtc = gateway.wait_for(lambda: (gateway.hw()["rtc_set"] or {}).get("at", 0) >= t0
                           and gateway.hw()["rtc_set"], timeout=10, what="rtc_set")
    assert abs(rtc["time"] - pg.evaluate("Date.now() / 1000")) < 5  # the phone's clock
    pg.wait_for_selector("dl.kv dd >> text=/^hand · /")  # "Clock set by: hand · <time>"
    pg.screenshot(path=os.path.join(artifacts, "07-system-clock.png"))
    # the NTP server field: errors land next to it, a good value is saved
    pg.fill("#settings input[name=ntp_server]", "ntp://pool.ntp.org")
    pg.click("[data-action=save-settings]")
    pg.wait_for_selector("#settings .err[data-field=ntp_server]")
    pg.fill("#settings input[name=ntp_server]", "127.0.0.1:9")
    pg.click("[data-action=save-settings]")
    gateway.wait_for(lambda: gateway.api("GET", "/api/settings").json()["ntp_server"] == "127.0.0.1:9",
                     timeout=10, what="ntp_server saved")
    # the second HTTP port (a router's port forwarding): the page's own port is refused beside the
    # field; another is opened, and About lists the ports the page is on
    main = gateway.url.rsplit(":", 1)[1]
    pg.fill("#settings input[name=http_port]", main)
    pg.click("[data-action=save-settings]")
    pg.wait_for_selector("#settings .err[data-field=http_port]")
    port = free_port()
    pg.fill("#settings input[name=http_port]", str(port))
    pg.click("[data-action=save-settings]")
    gateway.wait_for(lambda: port in gateway.api("GET", "/api/system").json()["http_ports"],
                     timeout=10, what="the second port open")
    pg.reload()
    pg.wait_for_selector("dl.kv dd >> text='%s, %d'" % (main, port))
    assert gateway.api("PUT", "/api/settings", {"http_port": 0}).status_code == 200
    assert not pg.dialogs
