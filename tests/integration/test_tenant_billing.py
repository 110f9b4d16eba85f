"""Tenants and billing end to end through the emulator. The emulated clock cannot be moved, so
the device gets 50 days of hourly billing reads made by its own core under a simulated clock,
written into its flash while it is off (dingate.testing.billing_seed); then a tenant sees only
its own meter through every endpoint; statements (JSON, CSV), tariffs, totals, reset."""
import csv
import io
import json
import os
import pathlib
import time

import pytest
import yaml

from dingate.testing.billing_seed import TENANT_PASSWORD as PW
from dingate.testing.billing_seed import billing_site, read_from_flash, write_to_flash

WWW = pathlib.Path(__file__).resolve().parents[2] / "firmware" / "www"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    emu, ids, notes = billing_site(str(tmp_path_factory.mktemp("tenants") / "state"))
    try:
        before = notes["before"]
        # before the first hourly read the page can say when it will be
        assert before[0]["current"] is None and before[0]["next_read"] > time.time() - 60
        assert notes["tenant"]["meters"] == [ids[0]] and notes["tenant"]["role"] == "tenant"
        bad = emu.api("POST", "/api/users", {"user": "ghost", "password": PW, "role": "tenant",
                                             "meters": ["nope"]})
        assert bad.status_code == 400 and bad.json()["field"] == "meters"
        yield emu, ids
    finally:
        emu.cleanup()


def _tenant(emu):
    s = emu.session_as("dupont", PW)
    assert s.login_answer["role"] == "tenant"
    return s


def test_billing_in_kwh_after_the_hourly_read(site):
    emu, ids = site
    bl = emu.api("GET", "/api/billing").json()
    assert [b["meter"] for b in bl] == ids
    cur = bl[0]["current"]
    assert 0 < cur["import_kwh"] < 10**7 and time.time() - cur["ts"] < 3 * 3600  # kWh, not Wh
    assert bl[0]["current_month"]["import_kwh_delta"] > 0
    assert bl[0]["current_month"]["cost"]["currency"] == "EUR"
    assert bl[0]["current_month"]["cost"]["total"] > 0
    m = bl[0]["months"]
    assert 1 <= len(m) <= 2 and m[0]["import_kwh_delta"] > 0
    assert m[0]["import_kwh"] - m[0]["import_kwh_delta"] > 0


def test_gas_meter_billed_in_m3(site):
    emu, ids = site
    g = emu.api("GET", "/api/billing").json()[2]
    assert g["quantity"] == "gas_m3" and g["unit"] == "m3"
    assert g["current"]["gas_m3"] > 0 and "import_kwh" not in g["current"]
    assert g["months"][0]["gas_m3_delta"] > 0 and g["current_month"]["cost"]["total"] > 0
    st = emu.api("GET", "/api/statements?meter=%s&month=%s" % (ids[2], g["months"][0]["month"])).json()
    assert st["unit"] == "m3" and st["gas_m3"] == g["months"][0]["gas_m3_delta"]
    assert st["cost"]["lines"][0]["unit"] == "m3"


def test_tenant_sees_only_its_meter_everywhere(site):
    emu, ids = site
    mine, other = ids[0], ids[1]
    s = _tenant(emu)
    u = emu.url
    now = int(time.time()) + 7200
    me = s.get(u + "/api/me", timeout=10).json()
    assert me["role"] == "tenant" and me["meters"] == [mine]
    assert list(s.get(u + "/api/readings", timeout=10).json()) == [mine]
    assert [m["id"] for m in s.get(u + "/api/meters", timeout=10).json()] == [mine]
    assert s.get(u + "/api/meters/" + mine, timeout=10).status_code == 200
    assert [b["meter"] for b in s.get(u + "/api/billing", timeout=10).json()] == [mine]
    q = "?meter=%s&from=%d&to=%d"
    for path in ("/api/history", "/api/export.csv", "/api/export.json"):
        assert s.get(u + path + q % (mine, now - 86400, now), timeout=10).status_code == 200, path
        r = s.get(u + path + q % (other, now - 86400, now), timeout=10)
        assert r.status_code == 403 and r.json()["field"] == "meter", path
    month = s.get(u + "/api/billing", timeout=10).json()[0]["current_month"]["month"]
    assert s.get(u + "/api/statements?meter=%s&month=%s" % (mine, month), timeout=10).status_code == 200
    assert s.get(u + "/api/statements.csv?meter=%s&month=%s" % (mine, month), timeout=10).status_code == 200
    for path in ("/api/meters/" + other, "/api/statements?meter=%s&month=%s" % (other, month),
                 "/api/statements.csv?meter=%s&month=%s" % (other, month),
                 "/api/statements?meter=" + other):
        r = s.get(u + path, timeout=10)
        assert r.status_code == 403, (path, r.status_code)
    # everything else is closed to a tenant
    for method, path in (("GET", "/api/settings"), ("GET", "/api/users"), ("GET", "/api/events"),
                         ("GET", "/api/genset"), ("GET", "/api/mqtt"), ("GET", "/api/wifi/scan"),
                         ("GET", "/api/system"), ("GET", "/api/bus"), ("GET", "/api/backup"),
                         ("GET", "/api/billing/config"), ("GET", "/api/billing/totals"),
                         ("GET", "/metrics"),
                         ("POST", "/api/meters"), ("PUT", "/api/meters/" + mine),
                         ("DELETE", "/api/meters/" + mine), ("POST", "/api/meters/%s/test" % mine),
                         ("POST", "/api/billing/%s/reset" % mine), ("PUT", "/api/billing/config"),
                         ("PUT", "/api/settings"), ("POST", "/api/users")):
        r = s.request(method, u + path, json={} if method != "GET" else None, timeout=10)
        assert r.status_code == 403, (method, path, r.status_code)


def test_tenant_gets_403_on_every_route_not_open_to_tenants(site):
    """The whole API walked as a tenant from docs/openapi.yaml (x-role): only the routes open to
    tenants (and public ones) answer anything but 403."""
    emu, ids = site
    s = _tenant(emu)
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "openapi.yaml")) as f:
        spec = yaml.safe_load(f)
    wrong = []
    n = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            if op.get("x-role", "admin") in ("public", "tenant"):
                continue
            url = path.replace("{id}", ids[0]).replace("{name}", "dupont")
            if url.startswith("/static/"):
                continue
            kw = {"timeout": 20, "allow_redirects": False}
            if method != "get":
                kw["json"] = []  # refused before any handler acts, were the role check missing
            r = s.request(method.upper(), emu.url + url, **kw)
            n += 1
            if r.status_code != 403:
                wrong.append("%s %s: %s %s" % (method.upper(), path, r.status_code, r.text[:80]))
    assert n > 40 and not wrong, "\n".join(wrong)


def test_statement_json_and_csv(site):
    emu, ids = site
    month = emu.api("GET", "/api/billing").json()[0]["current_month"]["month"]
    st = emu.api("GET", "/api/statements?meter=%s&month=%s" % (ids[0], month)).json()
    assert st["meter"] == ids[0] and st["month"] == month and st["closed"] is False
    assert st["tenant"] == "M. Dupont" and st["location"] == "Les Pins"
    assert st["import_kwh"] > 0 and st["cost"]["currency"] == "EUR"
    assert [ln["kind"] for ln in st["cost"]["lines"]] == ["energy", "energy", "fee"]
    assert [p["name"] for p in st["periods"]] == ["HP", "HC"]
    prev = emu.api("GET", "/api/billing").json()[0]["months"][0]["month"]
    closed = emu.api("GET", "/api/statements?meter=%s&month=%s" % (ids[0], prev)).json()
    assert closed["closed"] is True and closed["cost"]["total"] > 0
    r = emu.api("GET", "/api/statements.csv?meter=%s&month=%s" % (ids[0], month))
    assert r.status_code == 200
    assert 'filename="Les_Pins_Apt_1_%s.csv"' % month in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.text), delimiter=";"))
    assert rows[0] == ["location", "Les Pins"] and rows[-1][0] == "total"
    lst = emu.api("GET", "/api/statements?meter=" + ids[0]).json()
    assert lst[0]["month"] == month and lst[0]["closed"] is False
    bad = emu.api("GET", "/api/statements?meter=%s&month=2025-13" % ids[0])
    assert bad.status_code == 400 and bad.json()["field"] == "month"
    tot = emu.api("GET", "/api/billing/totals").json()
    assert tot["month"] == month and [g["group"] for g in tot["groups"]] == ["Floor 1", "Common"]


def test_host_renders_statements_from_a_backup_and_from_the_device(site, tmp_path):
    from click.testing import CliRunner

    from dingate.cli import main

    emu, ids = site
    month = emu.api("GET", "/api/billing").json()[0]["months"][0]["month"]
    device_csv = emu.api("GET", "/api/statements.csv?meter=%s&month=%s" % (ids[0], month)).text
    r = emu.api("GET", "/api/backup")
    assert r.status_code == 200
    backup = tmp_path / "backup.json"
    backup.write_bytes(r.content)
    run = CliRunner().invoke(main, ["statement", "--from-backup", str(backup), "--month", month,
                                    "--out", str(tmp_path / "a")])
    assert run.exit_code == 0, run.output
    files = sorted(os.listdir(tmp_path / "a"))
    assert files == ["Les_Pins_Apt_1_%s.csv" % month, "Les_Pins_Apt_2_%s.csv" % month,
                     "Les_Pins_Gaz_commun_%s.csv" % month]
    assert (tmp_path / "a" / files[0]).read_bytes().decode() == device_csv
    run = CliRunner().invoke(main, ["statement", "--url", emu.url, "--password", emu.admin_password,
                                    "--month", month, "--meter", ids[0], "--format", "html",
                                    "--out", str(tmp_path / "b")])
    assert run.exit_code == 0, run.output
    page = (tmp_path / "b" / ("Les_Pins_statements_%s.html" % month)).read_text(encoding="utf-8")
    st = emu.api("GET", "/api/statements?meter=%s&month=%s" % (ids[0], month)).json()
    assert "@page { size: A4" in page and "M. Dupont" in page
    assert "%.2f EUR" % st["cost"]["total"] in page
    # every meter (the gas meter's statement in m³) in French, as the page's printable one says it
    run = CliRunner().invoke(main, ["statement", "--from-backup", str(backup), "--month", month,
                                    "--format", "html", "--lang", "fr", "--out", str(tmp_path / "d")])
    assert run.exit_code == 0, run.output
    page = (tmp_path / "d" / ("Les_Pins_statements_%s.html" % month)).read_text(encoding="utf-8")
    fr = json.loads((WWW / "lang-fr.json").read_text(encoding="utf-8"))
    assert page.count("<section>") == 3 and "<html lang=fr>" in page
    names = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    y, m = month.split("-")
    assert page.count("<h1>Décompte %s %s</h1>" % (names.split()[int(m) - 1], y)) == 3
    for key in ("stm.tenant", "stm.idx_start", "stm.consumption", "stm.subtotal", "stm.total"):
        assert fr[key] in page, key
    total = "{:,.2f} EUR".format(st["cost"]["total"]).replace(",", "\u202f").replace(".", ",")
    assert total in page and "%.2f EUR" % st["cost"]["total"] not in page, total
    gas = [s for s in page.split("<section>") if "Gaz commun" in s]
    assert len(gas) == 1 and " m³" in gas[0] and " kWh" not in gas[0], gas
    assert page.count(fr["bill.peak"]) == 2 and fr["bill.peak"] not in gas[0]  # electricity only
    # a month without any billing reading: said, with when readings come
    run = CliRunner().invoke(main, ["statement", "--from-backup", str(backup), "--month", "2019-01",
                                    "--out", str(tmp_path / "c")])
    assert run.exit_code == 1 and "no statement for 2019-01" in run.output
    assert "every hour" in run.output and not os.path.exists(tmp_path / "c")


def test_the_months_table_for_the_accounts(site, tmp_path):
    """GET /api/statements.csv without a meter: a line per statement of the month with each
    statement's own figures (admin: every meter; a tenant: its own); `dingate statement
    --format summary` writes the same table from a backup or from the device."""
    emu, ids = site
    month = emu.api("GET", "/api/billing").json()[0]["months"][0]["month"]
    r = emu.api("GET", "/api/statements.csv?month=" + month)
    assert r.status_code == 200, r.text
    assert 'filename="Les_Pins_statements_%s.csv"' % month in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text), delimiter=";"))
    assert sorted(x["meter"] for x in rows) == sorted(ids[:3])
    for x in rows:
        st = emu.api("GET", "/api/statements?meter=%s&month=%s" % (x["meter"], month)).json()
        assert x["name"] == st["name"] and x["tenant"] == st["tenant"] and x["closed"] == "yes"
        q = st["quantity"]
        assert float(x["consumption"].replace(",", ".")) == round(st[q], 3), (x, st[q])
        assert float(x["total"].replace(",", ".")) == st["cost"]["total"] and x["currency"] == "EUR"
        # the month's quarter-hour peak: an electricity meter's, none for the gas meter
        assert x["peak_kw"] == ("" if st.get("peak_kw") is None else
                                "%.3f" % st["peak_kw"]).replace(".", ","), (x, st.get("peak_kw"))
        assert (st.get("peak_kw") is None) == (q == "gas_m3")
    tenant = _tenant(emu).get(emu.url + "/api/statements.csv?month=" + month, timeout=10)
    assert tenant.status_code == 200
    assert [x["meter"] for x in csv.DictReader(io.StringIO(tenant.text), delimiter=";")] == [ids[0]]
    assert emu.api("GET", "/api/statements.csv?month=2025-13").json()["field"] == "month"
    # the host tool: the same table from a backup, and from the device
    _host_tells_the_same_table(emu, tmp_path, month, r.text)


def _host_tells_the_same_table(emu, tmp_path, month, table):
    """`dingate statement --format summary` from a backup and from the device: ``table``."""
    from click.testing import CliRunner

    from dingate.cli import main

    backup = tmp_path / "backup.json"
    backup.write_bytes(emu.api("GET", "/api/backup").content)
    name = "Les_Pins_statements_%s.csv" % month
    for args, out in ((["--from-backup", str(backup)], "a"),
                      (["--url", emu.url, "--password", emu.admin_password], "b")):
        run = CliRunner().invoke(main, ["statement", *args, "--month", month, "--format", "summary",
                                        "--out", str(tmp_path / out)])
        assert run.exit_code == 0, run.output
        assert (tmp_path / out / name).read_bytes().decode() == table, out


def test_reset_closes_the_tenant_statement(site):
    emu, ids = site
    month = emu.api("GET", "/api/billing").json()[0]["current_month"]["month"]
    r = emu.api("POST", "/api/billing/%s/reset" % ids[1], {})
    assert r.status_code == 400 and r.json()["field"] == "confirm"
    r = emu.api("POST", "/api/billing/%s/reset" % ids[1], {"confirm": True})
    assert r.status_code == 200, r.text
    lst = emu.api("GET", "/api/statements?meter=" + ids[1]).json()
    assert [(x["month"], x["part"], x["closed"]) for x in lst][:2] == [
        (month, 2, False), (month, 1, True)]
    closed = emu.api("GET", "/api/statements?meter=%s&month=%s&part=1" % (ids[1], month)).json()
    assert closed["closed"] is True and closed["tenant"] == "Mme Martin" and "reset" in closed
    ev = emu.api("GET", "/api/events?limit=20").json()
    assert any("billing reset for a new tenant" in e["text"] for e in ev)


def test_a_new_tenant_sees_nothing_of_the_tenant_before(site):
    emu, ids = site
    bl = emu.api("GET", "/api/billing").json()[0]
    prev, month = bl["months"][0]["month"], bl["current_month"]["month"]
    s = _tenant(emu)
    q = "/api/statements?meter=%s&month=%s" % (ids[0], prev)
    assert s.get(emu.url + q, timeout=10).status_code == 200  # still the same tenancy
    r = emu.api("POST", "/api/billing/%s/reset" % ids[0], {"confirm": True})
    assert r.status_code == 200, r.text
    assert s.get(emu.url + q, timeout=10).status_code == 404  # the outgoing tenant's months
    closed = "/api/statements?meter=%s&month=%s&part=1" % (ids[0], month)
    assert s.get(emu.url + closed, timeout=10).status_code == 404
    assert emu.api("GET", closed).json()["reset"] > 0  # the installer still has them
    lst = s.get(emu.url + "/api/statements?meter=" + ids[0], timeout=10).json()
    assert [(x["month"], x["closed"]) for x in lst] == [(month, False)]
    now = int(time.time())
    rows = s.get(emu.url + "/api/history?meter=%s&from=%d&to=%d" % (ids[0], now - 86400, now + 60),
                 timeout=10).json()
    first = s.get(emu.url + "/api/billing", timeout=10).json()[0]["first_init"]
    assert all(r["ts"] >= first for r in rows)


def test_a_meter_replaced_does_not_inherit_the_old_one_s_billing(site, tmp_path):
    """A broken meter deleted and a new one added (the installer's replacement): the new meter
    gets an id of its own, so none of the old meter's month-ends, statements or peaks; the old
    meter's billing stays on the device under its id."""
    emu, ids = site
    old = ids[1]
    history = emu.api("GET", "/api/statements?meter=" + old).json()
    assert history  # its history, seeded
    before = [b for b in emu.api("GET", "/api/billing").json() if b["meter"] == old]
    assert [b["deleted"] for b in before] == [False]
    assert emu.api("DELETE", "/api/meters/" + old).status_code == 200
    new, = emu.add_meters({"name": "Apt 2 new meter", "address": 2, "profile": "sdm120"})
    assert new not in ids, (new, ids)  # the smallest free id would have been the old one's
    bl = [b for b in emu.api("GET", "/api/billing").json() if b["meter"] == new][0]
    assert bl["months"] == [] and bl["current"] is None and bl["first_init"] is None
    assert emu.api("GET", "/api/statements?meter=" + new).json() == []
    # the old meter's part is still the accountant's: its statements under its name, its line
    # in the month's table and in the totals; a tenant reaches none of it
    # its running month's statement closed at its last read: final, as a new tenant's reset
    assert emu.api("GET", "/api/statements?meter=" + old).json() == [
        dict(x, closed=True) for x in history]
    month = history[0]["month"]
    st = emu.api("GET", "/api/statements?meter=%s&month=%s" % (old, month)).json()
    assert st["name"] == "Apt 2" and st["meter"] == old
    table = emu.api("GET", "/api/statements.csv?month=" + month).text
    rows = [x for x in csv.DictReader(io.StringIO(table), delimiter=";") if x["meter"] == old]
    assert rows and {(x["name"], x["closed"]) for x in rows} == {("Apt 2", "yes")}, table
    tot = emu.api("GET", "/api/billing/totals?month=" + month).json()
    assert [m["name"] for g in tot["groups"] for m in g["meters"] if m["meter"] == old] == ["Apt 2"]
    # its billing is listed after the meters, as it was, marked deleted
    bills = emu.api("GET", "/api/billing").json()
    assert [b["meter"] for b in bills] == [ids[0], ids[2], new, old]
    assert bills[-1]["deleted"] is True and bills[-1]["name"] == "Apt 2"
    assert abs(bills[-1]["kept_until"] - (time.time() + 13 * 31 * 86400)) < 600  # from now
    for k in ("current", "months", "first_init"):
        assert bills[-1][k] == before[0][k], k
    tenant = _tenant(emu)
    r = tenant.get(emu.url + "/api/statements?meter=" + old, timeout=10)
    assert r.status_code == 403, r.text
    assert [b["meter"] for b in tenant.get(emu.url + "/api/billing", timeout=10).json()] == [ids[0]]
    _host_tells_the_same_table(emu, tmp_path, month, table)  # from a backup, from the device


def test_a_tenant_s_meter_is_not_deleted_and_a_deleted_meter_s_id_is_not_given_again(site):
    """A meter deleted before its first billing read leaves no billing channel; its id is still
    not given to the next meter (its ring samples stay under it). While a tenant is bound to a
    meter, the meter cannot be deleted: the tenant would be left bound to nothing."""
    emu, ids = site
    gone, = emu.add_meters({"name": "Apt 9 (wrong address)", "address": 9, "profile": "sdm120"})
    r = emu.api("POST", "/api/users", {"user": "martin", "password": PW, "role": "tenant",
                                       "meters": [gone]})
    assert r.status_code == 201, r.text
    r = emu.api("DELETE", "/api/meters/" + gone)
    assert r.status_code == 409 and r.json()["code"] == "in_use_tenant", r.text
    assert emu.session_as("martin", PW).get(emu.url + "/api/me", timeout=10).json()["meters"] == [gone]
    assert emu.api("DELETE", "/api/users/martin").status_code == 200
    assert emu.api("DELETE", "/api/meters/" + gone).status_code == 200
    assert gone not in [b["meter"] for b in emu.api("GET", "/api/billing").json()]
    new, = emu.add_meters({"name": "Apt 9", "address": 4, "profile": "sdm120"})
    assert new != gone and int(new) > int(gone)


def test_a_meter_deleted_by_older_firmware_has_its_billing_ended_at_boot(site):
    """Firmware before the sixteenth session left a deleted meter's running month open for
    ever, its billing never dropped. At boot, a billing channel of no meter is ended at its
    last read: its statement closed once, kept 13 months from that read. (Last in this module:
    it deletes a meter and restarts the device.)"""
    emu, ids = site
    gas = ids[2]
    assert emu.api("DELETE", "/api/meters/" + gas).status_code == 200
    emu.stop()
    # the flash as older firmware left it: no end, no final statement
    ch, st = "/data/billing/ch_%s.json" % gas, "/data/billing/st_%s.json" % gas
    doc = json.loads(read_from_flash(emu.state_dir, ch))
    del doc["end"]
    closed = json.loads(read_from_flash(emu.state_dir, st))
    write_to_flash(emu.state_dir, {ch: json.dumps(doc).encode(),
                                   st: json.dumps(closed[:-1]).encode()})
    emu.start()
    emu.login()
    bl, = [b for b in emu.api("GET", "/api/billing").json() if b["meter"] == gas]
    assert bl["deleted"] is True
    assert bl["kept_until"] == bl["current"]["ts"] + 13 * 31 * 86400
    lst = emu.api("GET", "/api/statements?meter=" + gas).json()
    assert lst[0]["closed"] is True and lst[0]["to"] == bl["current"]["ts"]
    assert [x["month"] for x in lst].count(lst[0]["month"]) == 1

