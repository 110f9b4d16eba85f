"""The Meters page's bus scan in a real headless browser (Debian chromium, playwright): scan a range
of the emulated line (real byte timing, 9600 8N1), see each device found with its profile, "add"
one: the meter editor opens with the address and detected profile, and saving creates it."""
import contextlib
import shutil

import pytest

from dingate.testing.emuproc import EmulatorProcess

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (make setup)")


@pytest.fixture(scope="module")
def gateway():
    emu = EmulatorProcess()  # devices.json: SDM630 at 1, SDM120 at 2 and 3, a battery at 10
    try:
        yield emu.start()
    finally:
        emu.cleanup()


@contextlib.contextmanager
def meters_page(gateway, locale):
    """The Meters page of ``gateway`` in chromium, logged in as admin, at a phone's size."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            pg = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale).new_page()
            pg.goto(gateway.url + "/")
            pg.fill("#login input[name=user]", "admin")
            pg.fill("#login input[name=password]", gateway.admin_password)
            pg.click("[data-action=login]")
            pg.wait_for_selector("nav.tabs")
            pg.goto(gateway.url + "/#/meters")
            yield pg
        finally:
            browser.close()


def scan(pg, lo, hi, found):
    """Scan addresses lo..hi from the page, until it lists ``found`` rows and is done."""
    pg.fill("#scan input[name=from]", str(lo))
    pg.fill("#scan input[name=to]", str(hi))
    pg.click("[data-action=scan-bus]")
    pg.wait_for_function(
        "document.querySelectorAll('#scan-result li').length === %d && "
        "!document.querySelector('#scan-result progress')" % found, timeout=60000)


def test_scan_from_the_page_and_add_what_was_found(gateway):
    with meters_page(gateway, "en-GB") as pg:
        pg.fill("#scan input[name=to]", "400")
        pg.click("[data-action=scan-bus]")
        pg.wait_for_selector("#scan [aria-invalid]")  # 400 with the field, shown on it
        scan(pg, 1, 4, found=3)
        rows = pg.eval_on_selector_all("#scan-result li", "els => els.map(e => e.dataset.address)")
        assert rows == ["1", "2", "3"]
        pg.click("#scan-result li[data-address='2'] [data-action=scan-add]")
        assert pg.input_value("#meter-form input[name=address]") == "2"
        assert pg.input_value("#meter-form select[name=profile]") == "sdm120"
        pg.click("[data-action=save-meter]")
        pg.wait_for_selector(".meter[data-id]")
    gateway.login()
    meters = gateway.api("GET", "/api/meters").json()
    assert [(m["address"], m["profile"]) for m in meters] == [(2, "sdm120")]


def test_what_the_scan_says_of_an_unknown_device_is_in_french(gateway):
    """The battery at 10 answers but matches no profile: the page says so in French, not in the
    device's English."""
    with meters_page(gateway, "fr-FR") as pg:
        scan(pg, 9, 11, found=1)
        gateway.login()
        found = gateway.api("GET", "/api/bus/scan").json()["found"]
        assert [(f["address"], f["profile"], f["detail"]) for f in found] == [(10, None, "answers, not recognised")]
        text = pg.inner_text("#scan-result li[data-address='10']")
        assert "#10 · appareil inconnu" in text and "répond, non reconnu" in text, text


def test_a_configured_address_is_named_and_a_wrong_model_shown(gateway):
    """An address already configured gets no "add": the scan names its meter, in red with the
    model it is configured as when the device found is another (an SDM120 set up as an SDM630);
    a configured meter in the range that did not answer is listed in red too."""
    gateway.login()
    ids = []
    for name, address in (("Cuisine", 3), ("Atelier", 5)):  # nothing answers at 5
        r = gateway.api("POST", "/api/meters", {"name": name, "address": address, "profile": "sdm630"})
        assert r.status_code in (200, 201), r.text
        ids.append(r.json()["id"])
    try:
        with meters_page(gateway, "fr-FR") as pg:
            scan(pg, 1, 5, found=4)
            assert pg.inner_text("#scan-result li[data-address='5'] .err") == \
                "#5 · Atelier · n’a pas répondu"
            row = "#scan-result li[data-address='3']"
            assert pg.locator(row + " [data-action=scan-add]").count() == 0
            said = pg.inner_text(row + " .err")
            assert said == "= Cuisine · configuré en Eastron SDM630 (triphasé)", said
            assert pg.inner_text(row + " .muted") == "Eastron, code produit 32"  # device's words
            assert pg.locator("#scan-result li[data-address='1'] [data-action=scan-add]").count() == 1
    finally:
        gateway.login()
        for mid in ids:
            assert gateway.api("DELETE", "/api/meters/" + mid).status_code == 200
