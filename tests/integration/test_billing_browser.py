"""The billing page and a tenant's page in a real headless browser (Debian chromium, playwright),
in French, on a gateway with 50 days of hourly billing reads (dingate.testing.billing_seed).
Screenshots are kept in build/test-artifacts/."""
import datetime
import os
import re
import shutil
import urllib.parse
import zoneinfo

import pytest

from dingate.testing.billing_seed import SPIKE, SPIKE_FACTOR, TENANT_PASSWORD, billing_site

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Debian chromium not installed (make setup)")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    emu, ids, _notes = billing_site(str(tmp_path_factory.mktemp("billpage") / "state"))
    try:
        yield emu, ids
    finally:
        emu.cleanup()


@pytest.fixture()
def browser():
    assert CHROMIUM, "Debian chromium is needed (make setup)"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def _french_page(browser, emu, user, password, tz="Europe/Paris"):
    ctx = browser.new_context(viewport=PHONE, locale="fr-FR", timezone_id=tz, accept_downloads=True)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto(emu.url + "/")
    pg.wait_for_function("document.documentElement.lang === 'fr'")
    pg.fill("#login input[name=user]", user)
    pg.fill("#login input[name=password]", password)
    pg.click("[data-action=login]")
    pg.wait_for_selector("nav.tabs")
    if user == "admin":  # a user keeps 4 sessions: the oldest page's goes, not the test's own
        emu.login()
    return pg


def test_billing_page_in_french(site, browser, artifacts):
    emu, ids = site
    pg = _french_page(browser, emu, "admin", emu.admin_password)
    pg.goto(emu.url + "/#/readings")
    card = pg.locator(".card[data-meter='%s']" % ids[0])
    card.locator("tbody tr").first.wait_for()
    text = card.inner_text()
    assert "DIFF" not in pg.locator("thead").first.inner_text()  # the headers speak French
    assert "Consommé (kWh)" in text and "Index soutirage" in text and "Mois en cours" in text
    assert "kWh" in text and "€" in text  # index in kWh, the month's cost in euros
    bl = emu.api("GET", "/api/billing").json()[0]
    idx = "{:,.2f}".format(bl["current"]["import_kwh"]).rstrip("0").rstrip(".")
    idx = idx.replace(",", "\u202f").replace(".", ",")
    assert idx in text.replace("\u00a0", "\u202f"), (idx, text)  # French digits: 1 234,56
    rows = card.locator("tbody tr")
    assert rows.count() == len(bl["months"]) >= 1
    # each month's highest quarter hour: the seeded spike (the 15th, 19:00 Paris) where the
    # month's history has it, else the evening's 900 W
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    spiked = 0
    for m in bl["months"] + [bl["current_month"]]:
        y, mo = map(int, m["month"].split("-"))
        spike = int(datetime.datetime(y, mo, SPIKE[0], SPIKE[1], tzinfo=paris).timestamp())
        if m["peak_ts"] == spike:
            assert m["peak_kw"] == pytest.approx(0.9 * SPIKE_FACTOR), m
            spiked += 1
            row = card.locator("tr[data-month='%s'] td.peak" % m["month"])
            if m is not bl["current_month"]:
                assert row.inner_text() == "2,7", row.inner_text()
        else:
            assert m["peak_kw"] == 0.9, m  # the spike is outside the seeded days
    assert spiked >= 1
    assert "Pointe (kW)" in pg.locator("thead").first.inner_text()
    assert "Pointe quart-horaire" in text and re.search(r"(0,9|2,7)\s?kW · ", text.replace("\u202f", " ")), text
    peaks = [m["peak_kw"] for m in [bl["current_month"]] + bl["months"] if m["peak_kw"] is not None]
    avg = "{:.2f}".format(sum(peaks) / len(peaks)).rstrip("0").rstrip(".").replace(".", ",")
    assert "Moyenne des pointes mensuelles (%d mois)" % len(peaks) in text
    assert card.locator("[data-role=peak-avg]").inner_text().replace("\u202f", " ") == avg + " kW"
    gas = pg.locator(".card[data-meter='%s']" % ids[2]).inner_text()
    assert "Gaz commun · Gaz" in gas and "m³" in gas and "Consommé (m³)" in gas and "kWh" not in gas
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    pg.screenshot(path=os.path.join(artifacts, "billing-fr.png"), full_page=True)
    # the statement of the last closed month, printable on A4
    month = bl["months"][0]["month"]
    card.locator("tr[data-month='%s'] [data-action=statement]" % month).click()
    st = pg.locator("#statement")
    try:
        st.wait_for(timeout=10000)
    except Exception:
        raise AssertionError("no statement: %s %s" % (pg.errors, pg.inner_text("#toast")))
    assert st.get_attribute("data-closed") == "true"
    s = st.inner_text()
    assert "Décompte" in s and "M. Dupont" in s and "Les Pins" in s and "Total TTC" in s
    assert "HC" in s and "Abonnement mensuel" in s and "TVA" in s
    api = emu.api("GET", "/api/statements?meter=%s&month=%s" % (ids[0], month)).json()
    total = "{:,.2f}".format(api["cost"]["total"]).replace(",", "\u202f").replace(".", ",")
    assert total in s.replace("\u00a0", "\u202f"), (total, s)
    # the month's quarter-hour peak, frozen with the statement when the month closed
    assert api["peak_kw"] == bl["months"][0]["peak_kw"] and api["peak_ts"] == bl["months"][0]["peak_ts"]
    peak = "{:.2f}".format(api["peak_kw"]).rstrip("0").rstrip(".").replace(".", ",")
    assert re.search(r"Pointe quart-horaire\s+%s\s?kW · " % peak, s.replace("\u202f", " ")), s
    st.screenshot(path=os.path.join(artifacts, "statement-fr.png"))
    pg.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    pg.emulate_media(media="print")
    assert pg.locator("nav.tabs").is_hidden()  # only the statement is printed
    pg.screenshot(path=os.path.join(artifacts, "statement-fr-print.png"), full_page=True)
    pdf = pg.pdf(format="A4")
    assert pdf[:4] == b"%PDF"
    with open(os.path.join(artifacts, "statement-fr.pdf"), "wb") as f:
        f.write(pdf)
    assert not pg.errors, pg.errors


def test_tenant_page_shows_only_its_meter(site, browser, artifacts):
    emu, ids = site
    # a phone set to another time zone: the page still shows the site's time (the tenant may
    # not read the settings, the status gives the zone)
    pg = _french_page(browser, emu, "dupont", TENANT_PASSWORD, tz="America/Montreal")
    pages = pg.eval_on_selector_all("nav.tabs [data-page]", "els => els.map(e => e.dataset.page)")
    assert set(pages) <= {"home", "readings"} and "readings" in pages
    pg.goto(emu.url + "/#/readings")
    pg.locator(".card[data-meter='%s'] tbody tr" % ids[0]).first.wait_for()
    assert pg.locator(".card[data-meter]").count() == 1
    assert pg.locator(".card[data-meter='%s']" % ids[1]).count() == 0
    assert "Apt 2" not in pg.inner_text("main")
    assert pg.locator("[data-action=reset-billing]").count() == 0
    opts = pg.eval_on_selector_all("#export select[name=meter] option", "els => els.map(e => e.value)")
    assert opts == [ids[0]]
    # the export asks for whole days of the site (its midnights), not of the phone
    site_tz = zoneinfo.ZoneInfo(emu.api("GET", "/api/settings").json()["timezone"])
    q = urllib.parse.parse_qs(urllib.parse.urlparse(pg.get_attribute("#export-link", "href")).query)
    days = [datetime.date.fromisoformat(pg.input_value("#export input[name=%s]" % k)) for k in ("from", "to")]
    assert days[1] == datetime.datetime.now(site_tz).date()  # today is the site's today
    midnight = lambda d: int(datetime.datetime.combine(d, datetime.time(), site_tz).timestamp())  # noqa: E731
    assert (int(q["from"][0]), int(q["to"][0])) == (midnight(days[0]), midnight(days[1] + datetime.timedelta(days=1)))
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    pg.screenshot(path=os.path.join(artifacts, "tenant-fr.png"), full_page=True)
    pg.goto(emu.url + "/#/home")  # live values of its own meter only
    pg.locator(".meter[data-id='%s']" % ids[0]).wait_for()
    assert pg.locator(".meter[data-id]").count() == 1
    assert pg.locator("main .err").count() == 0
    pg.wait_for_function("/Mis à jour/.test(document.querySelector('#main').innerText)")
    shown = re.search(r"Mis à jour \S+ (\d\d):(\d\d)", pg.inner_text("main")).groups()
    now = datetime.datetime.now(site_tz)
    minutes = (int(shown[0]) * 60 + int(shown[1]) - (now.hour * 60 + now.minute)) % 1440
    assert minutes in (0, 1, 1439), (shown, site_tz, now)
    pg.screenshot(path=os.path.join(artifacts, "tenant-home-fr.png"), full_page=True)
    assert not pg.errors, pg.errors


def test_installer_sets_tariffs_and_tenants_on_the_page(site, browser, artifacts):
    emu, ids = site
    pg = _french_page(browser, emu, "admin", emu.admin_password)
    pg.goto(emu.url + "/#/readings")
    f = pg.locator("#billing-config")
    f.wait_for()
    assert f.locator("input[name='tariffs.0.name']").input_value() == "HP/HC"
    assert f.locator("input[name='tariffs.0.periods.0.windows']").input_value() == "22:00-06:00"
    f.locator("input[name='tariffs.0.periods.0.windows']").fill("22:00-06:00, weekend 00:00-24:00")
    f.locator("input[name='tariffs.0.periods.0.price']").fill("0.1696")
    f.locator("input[name='meters.%s.group']" % ids[1]).fill("Floor 2")
    f.locator("input[name='meters.%s.exclude_from_totals']" % ids[1]).check()
    pg.click("[data-action=save-billing]")
    emu.wait_for(lambda: emu.api("GET", "/api/billing/config").json()["meters"][ids[1]]["group"]
                 == "Floor 2", timeout=10, what="billing config saved")
    cfg = emu.api("GET", "/api/billing/config").json()
    hc = cfg["tariffs"][0]["periods"][0]
    assert hc["price"] == 0.1696 and hc["windows"] == ["22:00-06:00", "weekend 00:00-24:00"]
    assert cfg["meters"][ids[1]]["exclude_from_totals"] is True
    assert cfg["meters"][ids[0]]["tenant"] == "M. Dupont"  # what the form did not touch stays
    # a bad window is refused next to its field, in French
    pg.locator("#billing-config").wait_for()
    f = pg.locator("#billing-config")
    f.locator("input[name='tariffs.0.periods.0.windows']").fill("22h-6h")
    pg.click("[data-action=save-billing]")
    pg.wait_for_selector("#billing-config .err")
    err = f.locator(".f:has(input[name='tariffs.0.periods.0.windows']) .err")
    assert "Plages heures creuses" in err.inner_text() and "HH:MM-HH:MM" in err.inner_text()
    assert emu.api("GET", "/api/billing/config").json() == cfg
    # the blank for a new tariff, filled in but for its name: the name is asked for, nothing
    # dropped in silence
    f.locator("input[name='tariffs.0.periods.0.windows']").fill("22:00-06:00")
    blank = "tariffs.%d." % len(cfg["tariffs"])
    f.locator("input[name='%speriods.0.name']" % blank).fill("HC")
    f.locator("input[name='%speriods.0.windows']" % blank).fill("23:00-07:00")
    pg.click("[data-action=save-billing]")
    err = f.locator(".f:has(input[name='%sname']) .err" % blank)
    assert "Nom du tarif" in err.inner_text()
    assert emu.api("GET", "/api/billing/config").json() == cfg
    tot = pg.locator("#bill-totals")
    tot.wait_for()
    assert "Floor 1" in tot.inner_text() and "Floor 2" in tot.inner_text()
    pg.screenshot(path=os.path.join(artifacts, "billing-config-fr.png"), full_page=True)
    assert not pg.errors, pg.errors


def test_a_capacity_tariff_set_on_the_page_is_on_the_running_month_s_statement(site, browser, artifacts):
    """Flanders' capacity tariff: a price per kW and year on the tariff; the running month's
    statement bills the average of the months' quarter-hour peaks (each at least 2.5 kW, the
    seeded ones are 0.9 and 2.7 kW) a twelfth of it, pro rata of the month."""
    emu, ids = site
    pg = _french_page(browser, emu, "admin", emu.admin_password)
    pg.goto(emu.url + "/#/readings")
    f = pg.locator("#billing-config")
    f.wait_for()
    f.locator("input[name='tariffs.0.capacity_price']").fill("51.9")
    pg.click("[data-action=save-billing]")
    emu.wait_for(lambda: emu.api("GET", "/api/billing/config").json()["tariffs"][0]
                 ["capacity_price"] == 51.9, timeout=10, what="capacity price saved")
    month = emu.api("GET", "/api/billing").json()[0]["current_month"]["month"]
    st = emu.api("GET", "/api/statements?meter=%s&month=%s" % (ids[0], month)).json()
    cap, = [x for x in st["cost"]["lines"] if x["kind"] == "capacity"]
    peaks = [x["peak_kw"] for x in emu.api("GET", "/api/billing").json()[0]["months"][:11]
             if x["peak_kw"] is not None] + [st["peak_kw"]]
    assert cap["quantity"] == pytest.approx(sum(max(p, 2.5) for p in peaks) / len(peaks), abs=0.001)
    assert cap["amount"] == pytest.approx(cap["quantity"] * 51.9 / 12 * _fee_fraction(st), abs=0.006)
    pg.reload()
    pg.locator(".card[data-meter='%s'] [data-action=statement][data-month='%s']" % (ids[0], month)).click()
    row = pg.locator("#statement tr[data-kind=capacity]")
    row.wait_for(timeout=10000)
    text = row.inner_text().replace("\u202f", " ").replace("\u00a0", " ")
    assert "Capacité (pointe moy. 12 mois, prix annuel ÷ 12)" in text, text
    assert "{:.2f}".format(cap["amount"]).replace(".", ",") + " €" in text, text
    pg.locator("#statement").screenshot(path=os.path.join(artifacts, "statement-capacity-fr.png"))
    assert not pg.errors, pg.errors


def _fee_fraction(st):
    """The share of the month a statement's monthly fee was billed for."""
    fee, = [x for x in st["cost"]["lines"] if x["kind"] == "fee"]
    return fee["quantity"]


def test_the_months_table_downloads_from_the_billing_page(site, browser, artifacts):
    """The accountant's table: last month by default (the site's), downloaded from the page as
    the device makes it (GET /api/statements.csv without a meter)."""
    emu, ids = site
    pg = _french_page(browser, emu, "admin", emu.admin_password)
    pg.goto(emu.url + "/#/readings")
    month = pg.wait_for_selector("#month-table input[name=month]").input_value()
    site_tz = zoneinfo.ZoneInfo(emu.api("GET", "/api/settings").json()["timezone"])
    first = datetime.datetime.now(site_tz).date().replace(day=1)
    assert month == (first - datetime.timedelta(days=1)).strftime("%Y-%m")
    with pg.expect_download() as dl:
        pg.click("[data-action=month-table]")
    d = dl.value
    assert d.suggested_filename == "Les_Pins_statements_%s.csv" % month
    with open(d.path(), encoding="utf-8", newline="") as f:
        text = f.read()
    assert text == emu.api("GET", "/api/statements.csv?month=" + month).text
    assert "M. Dupont" in text and text.count("\r\n") == 1 + 3  # the header, a line per meter
    assert not pg.errors, pg.errors


def test_a_deleted_meter_s_billing_stays_on_the_page(site, browser, artifacts):
    """An installer replacing a meter deletes the old one: its card stays after the meters',
    marked deleted, without the reset, and its last statement, closed at the deletion, opens.
    (Last in this module: it deletes a meter.)"""
    emu, ids = site
    old = ids[1]
    assert emu.api("DELETE", "/api/meters/" + old).status_code == 200
    month = emu.api("GET", "/api/statements?meter=" + old).json()[0]["month"]  # its last
    pg = _french_page(browser, emu, "admin", emu.admin_password)
    pg.goto(emu.url + "/#/readings")
    card = pg.locator(".card[data-meter='%s']" % old)
    card.locator("tbody tr").first.wait_for()
    assert pg.locator(".card.bill").evaluate_all("cs => cs.map(c => c.dataset.meter)") == [
        ids[0], ids[2], old]
    assert card.locator("h2").inner_text() == "Apt 2 (compteur supprimé)"
    kept = card.locator("[data-role=kept]").inner_text()
    assert kept.startswith("Compteur supprimé : sa facturation est conservée jusqu’au "), kept
    year = datetime.date.today().year + 1  # 13 months on
    assert str(year) in kept or str(year + 1) in kept, kept
    assert card.locator("[data-action=reset-billing]").count() == 0
    assert pg.locator(".card[data-meter='%s'] [data-action=reset-billing]" % ids[0]).count() == 1
    card.locator("[data-action=statement][data-month='%s']" % month).first.click()
    st = pg.locator("#statement")
    st.wait_for(timeout=10000)
    assert "Apt 2" in st.inner_text() and "Mme Martin" in st.inner_text()
    assert st.get_attribute("data-closed") == "true"  # final: closed when the meter went
    pg.screenshot(path=os.path.join(artifacts, "billing-deleted-meter-fr.png"), full_page=True)
    assert not pg.errors, pg.errors
