"""Every page of the web page in a real headless browser (Debian chromium, playwright), at 320x640
and 390x844, in English, French and Dutch, against the emulated demo gateway: no label is cut,
nothing overflows the screen, no catalogue key and no English text shows in FR/NL; the chart is
drawn from /api/history, the energy flow balances, live values come pushed (Server-Sent Events)
and the page falls back to polling when the device refuses another stream; a refused form says
why in the reader's language next to the field, naming the meter of a nested field.
Screenshots: build/test-artifacts/page-<lang>-<width>-<page>.png."""
import json
import os
import shutil
import socket
import threading
import time

import pytest
import requests

from dingate.testing.emuproc import SCENARIOS, EmulatorProcess

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Debian chromium not installed (make setup)")
WWW = os.path.join(os.path.dirname(__file__), "..", "..", "firmware", "www")
SIZES = [(320, 640), (390, 844)]
LANGS = ["en", "fr", "nl"]
PAGES = ["home", "readings", "meters", "genset", "network/wifi", "network/mqtt", "system/general",
         "system/modbus", "system/maint", "events", "users", "account"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# elements whose text must be whole (a cut label is an ellipsis or a hidden overflow)
CUT_JS = """() => {
  const bad = [];
  const sel = 'label, button, .tabs a span, .tabs .more span, h1, h2, h3, legend, th, dt, .node span, .node b, .node small, .parts span, .who, .subtabs a, .badge, summary, .lb';
  for (const e of document.querySelectorAll(sel)) {
    if (!e.offsetParent || !e.textContent.trim()) continue;
    if (e.scrollWidth > e.clientWidth + 1) bad.push(e.tagName + '.' + e.className + ': ' + e.textContent.trim().slice(0, 40) + ' (' + e.scrollWidth + '>' + e.clientWidth + ')');
  }
  const w = document.documentElement;
  if (w.scrollWidth > w.clientWidth) bad.push('page ' + w.scrollWidth + '>' + w.clientWidth);
  // the body hides horizontal overflow: look for anything reaching past the screen's edge
  const scrolls = (e) => { for (; e; e = e.parentElement) if (/auto|scroll/.test(getComputedStyle(e).overflowX)) return true; return false; };
  for (const e of document.querySelectorAll('#main *, .top *, .tabs *')) {
    const r = e.getBoundingClientRect();
    if (r.width && e.offsetParent && r.right > w.clientWidth + 1 && !scrolls(e.parentElement)) { bad.push('past the edge: ' + e.tagName + '.' + e.className + ' ' + e.textContent.trim().slice(0, 30)); break; }
  }
  return bad;
}"""
# the visible text pieces of the page (text nodes and the values of buttons, options, placeholders)
TEXTS_JS = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode());) {
    const p = n.parentElement;
    if (!p || p.closest('script,style,datalist') || !n.textContent.trim()) continue;
    if (p.closest('select') && !p.closest('option')) continue;
    out.push(n.textContent.trim());
  }
  for (const e of document.querySelectorAll('[placeholder],[aria-label],[title]')) {
    for (const a of ['placeholder', 'aria-label', 'title']) if (e.getAttribute(a)) out.push(e.getAttribute(a).trim());
  }
  return out;
}"""


def _catalogue(lang):
    with open(os.path.join(WWW, "lang-%s.json" % lang), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def demo():
    with EmulatorProcess(scenario=os.path.join(SCENARIOS, "demo.json")) as emu:
        emu.login()
        emu.wait_for(lambda: len(emu.api("GET", "/api/meters").json()) >= 4, timeout=60, what="demo meters")
        emu.wait_for(lambda: all(r.get("status") == "ok" for r in emu.api("GET", "/api/readings").json().values()),
                     timeout=60, what="demo meters read")
        csrf = emu.api("GET", "/api/me").json()["csrf"]
        r = emu.api("PUT", "/api/settings", {"sample_interval_s": 5}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        yield emu


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, emu, lang, size, login=True):
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale={"en": "en-GB", "fr": "fr-FR", "nl": "nl-BE"}[lang])
    pg = ctx.new_page()
    pg.seen = []
    pg.on("request", lambda r: pg.seen.append(r.url))
    pg.on("dialog", lambda d: d.dismiss())
    pg.goto(emu.url + "/")
    if login:
        try:
            pg.wait_for_selector("#login input[name=user]", timeout=15000)
        except Exception:
            print("DEBUG", pg.content()[-300:], requests.get(emu.url + "/api/status", timeout=5).json(), "\nLOG", emu.log()[-1500:])
            raise
        pg.fill("#login input[name=user]", "admin")
        pg.fill("#login input[name=password]", emu.admin_password)
        pg.click("[data-action=login]")
        pg.wait_for_selector("nav.tabs")
        assert pg.evaluate("document.documentElement.lang") == lang
    return ctx, pg


def _settle(pg):
    """Wait until the page shows no "Loading…" any more (every card got its data)."""
    pg.wait_for_function("() => !document.querySelector('#main p.muted') || ![...document.querySelectorAll('#main p.muted')].some(p => /…$/.test(p.textContent))",
                         timeout=15000)


def test_flow_balances_and_comes_live_by_server_sent_events(demo, browser, artifacts):
    ctx, pg = _open(browser, demo, "en", (390, 844))
    try:
        pg.wait_for_function("document.querySelector('#main').dataset.live === 'sse'", timeout=15000)
        pg.wait_for_function("+document.querySelector('#flow').dataset.in > 0", timeout=15000)
        base = len([u for u in pg.seen if "/api/readings" in u])
        shown = pg.inner_text("#flow-grid b")
        for _ in range(3):  # three pushed updates, no request for them
            old = pg.get_attribute("#flow", "data-in")
            pg.wait_for_function("document.querySelector('#flow').dataset.in !== %s" % json.dumps(old), timeout=20000)
            flow = pg.evaluate("""() => { const w = (r) => +(document.querySelector('#flow-' + r).dataset.w || 0);
              return { grid: w('grid'), pv: w('pv'), battery: w('battery'), genset: w('genset'), load: w('load'),
                       in: +document.querySelector('#flow').dataset.in, out: +document.querySelector('#flow').dataset.out }; }""")
            ins = max(flow["grid"], 0) + flow["pv"] + max(-flow["battery"], 0) + flow["genset"]
            outs = max(-flow["grid"], 0) + max(flow["battery"], 0) + flow["load"]
            assert ins > 100 and abs(ins - outs) <= 0.02 * ins, flow
            assert abs(ins - flow["in"]) <= 3 and abs(outs - flow["out"]) <= 3, flow
        assert [u for u in pg.seen if "/api/readings" in u][base:] == [], "polled while the stream was up"
        assert pg.inner_text("#flow-grid b") and shown  # numbers shown
        pg.screenshot(path=os.path.join(artifacts, "page-flow-live.png"), full_page=True)
        assert not pg.is_visible("#flow-genset")  # no generator meter, generator stopped
        # the generator runs (manual start): it appears, pushed by the stream, and the sums still hold
        demo.login()
        csrf = demo.api("GET", "/api/me").json()["csrf"]
        r = demo.api("PUT", "/api/genset", {"min_rest_s": 0, "mode": "on"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        try:
            pg.wait_for_selector("#flow-genset", state="visible", timeout=20000)
            assert pg.inner_text("#genset-relay b") == "ON (closed)"
            flow = pg.evaluate("() => [+document.querySelector('#flow').dataset.in, +document.querySelector('#flow').dataset.out]")
            assert abs(flow[0] - flow[1]) <= 0.02 * flow[0], flow
            pg.screenshot(path=os.path.join(artifacts, "page-flow-genset.png"), full_page=True)
        finally:
            demo.api("PUT", "/api/genset", {"mode": "off"}, headers={"X-CSRF-Token": csrf})
    finally:
        ctx.close()


def _stream(demo, cookies):
    return requests.get(demo.url + "/api/live", cookies=cookies, stream=True, timeout=30,
                        headers={"Accept": "text/event-stream"})


def _granted(demo, cookies):
    """A stream the device accepted, or None (refused: 429)."""
    r = _stream(demo, cookies)
    if r.status_code == 200:
        return r
    r.close()
    return None


def test_live_stream_is_bounded_and_the_page_falls_back_to_polling(demo, browser):
    demo.login()  # the browser logins of other tests may have pushed this session out
    cookies = demo.session.cookies
    held, stop = [], threading.Event()

    def hold(r):
        with r:
            for _ in r.iter_content(64):
                if stop.is_set():
                    break

    threads = []
    try:
        for _ in range(2):  # a page closed just before frees its slot at the stream's next write
            r = demo.wait_for(lambda: _granted(demo, cookies), timeout=45, what="a stream slot")
            held.append(r.status_code)
            threads.append(threading.Thread(target=hold, args=(r,), daemon=True))
            threads[-1].start()
        r = demo.api("GET", "/api/live", headers={"Accept": "text/event-stream"}, timeout=5)
        assert r.status_code == 429 and r.json()["code"] == "busy"
        ctx, pg = _open(browser, demo, "en", (390, 844))
        try:
            pg.wait_for_function("document.querySelector('#main').dataset.live === 'poll'", timeout=20000)
            pg.wait_for_function("+document.querySelector('#flow').dataset.in > 0", timeout=30000)
            # the PRG button's setup window shows on a polling page too
            assert demo.hw_post("/api/hw/button", {"name": "prg", "hold_ms": 300}).status_code == 200
            assert "min left" in pg.wait_for_selector("#setup-note", timeout=20000).inner_text()
        finally:
            ctx.close()
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=30)
    # the slots come back once the clients are gone
    demo.wait_for(lambda: (lambda r: r and (r.close() or True))(_granted(demo, cookies)),
                  timeout=30, what="a free stream slot")


def test_live_snapshot_and_a_tenants_stream_hold_only_its_meters(demo):
    demo.login()
    csrf = demo.api("GET", "/api/me").json()["csrf"]
    snap = demo.api("GET", "/api/live").json()  # no event-stream Accept: one snapshot
    assert set(snap["readings"]) >= {"1", "2"} and snap["genset"]["mode"] in ("auto", "on", "off")
    r = demo.api("POST", "/api/users", {"user": "flat2", "password": "tenant-pass-2", "role": "tenant",
                                         "meters": ["2"]}, headers={"X-CSRF-Token": csrf})
    assert r.status_code in (200, 201), r.text
    t = demo.session_as("flat2", "tenant-pass-2")
    snap = t.get(demo.url + "/api/live", timeout=10).json()
    assert list(snap["readings"]) == ["2"] and snap["genset"] is None
    # a stream closed by an earlier test frees its slot at that stream's next write
    with demo.wait_for(lambda: _granted(demo, t.cookies), timeout=45, what="a stream slot") as r:
        text = ""
        for chunk in r.iter_content(256, decode_unicode=True):
            text += chunk
            if text.count("event: readings") >= 2:
                break
    for msg in text.split("\n\n")[:-1]:  # the complete messages
        if msg.startswith("event: readings"):
            assert list(json.loads(msg.split("data: ", 1)[1])) == ["2"], msg
    assert "event: genset" not in text and "event: status" not in text


def test_chart_draws_from_history(demo, browser, artifacts):
    demo.login()
    now = int(time.time())
    demo.wait_for(lambda: demo.api("GET", "/api/history?meter=1&from=%d&to=%d" % (now - 3600, now + 3600)).json(),
                  timeout=60, what="recorded samples")
    csrf = demo.api("GET", "/api/me").json()["csrf"]
    r = demo.api("PUT", "/api/billing/config", {"currency": "EUR", "meters": {"1": {"group": "Bloc A"}, "2": {"group": "Bloc A"}}},
                 headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        pg.goto(demo.url + "/#/readings")
        for view, qs in (("power", ("power_w",)), ("hour", ("import_kwh_delta", "export_kwh_delta"))):
            pg.select_option("#chart-form select[name=view]", view)
            pg.wait_for_selector("#chart[data-view=%s] svg.chart, #chart[data-view=%s] p" % (view, view))
            q = [u for u in pg.seen if "/api/history" in u][-1]
            rows = demo.api("GET", q[len(demo.url):]).json()
            assert rows, "no history yet"
            assert pg.get_attribute("#chart svg.chart", "data-n") == str(len(rows))
            marks = pg.locator("#chart svg.chart path.ln, #chart svg.chart rect, #chart svg.chart circle.dot").count()
            values = [v for r in rows for k, v in r.items() if k in qs and v]
            assert marks >= (1 if values else 0), (rows, marks)
            # each bucket at its time: the demo's few minutes of history sit at the right end of
            # the span, not spread over the whole width, under time labels of a readable size
            left = pg.evaluate("""() => {
                const s = document.querySelector('#chart svg.chart'), w = s.viewBox.baseVal.width;
                const xs = [...s.querySelectorAll('path.ln, rect, circle.dot')].map((e) => e.getBBox().x);
                return Math.min(...xs) / w; }""")
            assert left > 0.75, left
            sizes = pg.evaluate("[...document.querySelectorAll('#chart svg.chart text.xl')].map((e) => e.getBoundingClientRect().height)")
            assert len(sizes) >= 3 and all(8 < s < 16 for s in sizes), sizes
            pg.click("#chart svg.chart")  # tap: the value is read out
            assert "·" in pg.inner_text("#chart .readout")
            pg.screenshot(path=os.path.join(artifacts, "page-chart-%s.png" % view), full_page=True)
        # earlier / later: the span before the latest one, then back (the demo has no older data)
        pg.select_option("#chart-form select[name=view]", "power")
        pg.wait_for_selector("#chart[data-view=power] svg.chart")
        assert pg.is_disabled("[data-action=chart-next]")
        latest = [u for u in pg.seen if "/api/history" in u][-1]
        pg.click("[data-action=chart-prev]")
        pg.wait_for_selector("#chart p.muted:has-text('Pas encore de valeurs')")
        earlier = [u for u in pg.seen if "/api/history" in u][-1]
        q = lambda u: dict(x.split("=") for x in u.split("?")[1].split("&"))  # noqa: E731
        # (the span ends at the next quarter hour: a load after one has passed moves by 900 s)
        assert int(q(earlier)["to"]) - int(q(latest)["from"]) in (0, 900) and q(earlier)["step"] == "15m"
        assert not pg.is_disabled("[data-action=chart-next]") and " – " in pg.inner_text("#chart-span")
        pg.click("[data-action=chart-next]")
        pg.wait_for_selector("#chart svg.chart")
        assert int(q([u for u in pg.seen if "/api/history" in u][-1])["from"]) - int(q(latest)["from"]) in (0, 900)
        assert pg.is_disabled("[data-action=chart-next]")
        # a group's chart: its meters' power summed per bucket
        pg.select_option("#chart-form select[name=view]", "power")
        pg.select_option("#chart-form select[name=meter]", "g:Bloc A")
        pg.wait_for_function("document.querySelector('#chart svg.chart') && document.querySelector('#chart-form select[name=meter]').value === 'g:Bloc A' && !document.querySelector('#chart p.muted')")
        urls = [u for u in pg.seen if "/api/history" in u][-2:]
        assert "meter=1&" in urls[0] and "meter=2&" in urls[1], urls
        rows = [demo.api("GET", u[len(demo.url):]).json() for u in urls]
        pg.click("#chart svg.chart")
        one = {r["ts"]: r["power_w"] for r in rows[0]}
        total = {r["ts"]: one.get(r["ts"], 0) + r["power_w"] for r in rows[1]}
        assert int(pg.get_attribute("#chart svg.chart", "data-n")) == len(set(one) | set(total))
        pg.screenshot(path=os.path.join(artifacts, "page-chart-group.png"), full_page=True)
    finally:
        ctx.close()


def test_refused_input_is_explained_in_french_next_to_the_field(demo, browser, artifacts):
    demo.login()  # before the browser's login: a new session may push older ones out
    backup = demo.api("GET", "/api/backup").json()
    backup["meters"][1]["address"] = 999
    ctx, pg = _open(browser, demo, "fr", (320, 640))
    try:
        pg.goto(demo.url + "/#/meters")
        pg.click("[data-action=add-meter]")
        pg.fill("#meter-form input[name=name]", "Cuisine")
        pg.fill("#meter-form input[name=address]", "300")
        pg.click("[data-action=save-meter]")
        err = pg.wait_for_selector("#meter-form .err[data-field=address]")
        assert err.inner_text() == "Adresse : entre 1 et 247"
        pg.screenshot(path=os.path.join(artifacts, "page-fr-320-error.png"))
        # a nested field of a restored backup names the meter: "Compteur 2 — Adresse"
        pg.goto(demo.url + "/#/system/maint")

        def refused(form, data):
            pg.set_input_files("#%s-form input[name=%s]" % (form, form), files=[{
                "name": "file", "mimeType": "application/octet-stream", "buffer": data}])
            for _ in range(3):  # "busy, try again" (503: the heap is short for a moment) is retried
                pg.click("[data-action=%s]" % form)
                pg.click("dialog [data-action=confirm]")
                pg.wait_for_selector("#%s-form .err" % form)
                text = pg.inner_text("#%s-form .err" % form)
                if text != "La passerelle est occupée, réessayez":
                    return text
                pg.wait_for_timeout(2000)
            return text

        assert refused("restore", json.dumps(backup).encode()) == "Compteur 2 — Adresse : entre 1 et 247"
        # what is wrong with a file as a whole is said as such, not as "Format : valeur refusée"
        assert refused("restore", b'{"meters": []}') == "Ce fichier n’est pas une sauvegarde dingate"
        newer = dict(backup, version=backup["version"] + 1)
        assert refused("restore", json.dumps(newer).encode()).startswith(
            "Cette sauvegarde vient d’un micrologiciel plus récent")
        assert refused("firmware", b"\0" * 3000) == \
            "Ce fichier n’est pas un paquet de micrologiciel dingate, ou il est abîmé : rien n’a changé"
        pg.screenshot(path=os.path.join(artifacts, "page-fr-320-restore-error.png"))
    finally:
        ctx.close()


def test_event_log_and_generator_reason_in_dutch(demo, browser, artifacts):
    ctx, pg = _open(browser, demo, "nl", (390, 844))
    try:
        pg.goto(demo.url + "/#/events")
        pg.wait_for_selector("#event-list li p")
        texts = pg.eval_on_selector_all("#event-list li p", "ps => ps.map(p => p.textContent)")
        assert any(x.startswith("Opgestart (") for x in texts), texts
        assert any(x.startswith("Meter Main meter toegevoegd") for x in texts), texts
        english = [x for x in texts if x.startswith(("boot ", "reboot:", "meter ", "mode ", "user ", "start: ", "stop after",
                                                       "generator control"))]
        assert english == [], english
        sources = pg.eval_on_selector_all("#event-list li .src", "s => s.map(e => e.textContent)")
        assert "Gateway" in sources and not [s for s in sources if s.startswith("meter ")], sources
        pg.screenshot(path=os.path.join(artifacts, "page-nl-390-events-log.png"), full_page=True)
        # every type can be chosen, met or not (no alarm has been logged), each in Dutch
        types = pg.eval_on_selector_all("#ev-type option", "os => os.map(o => o.value)")
        assert {"alarm", "threshold", "comm", "genset"} <= set(types), types
        assert demo.api("GET", "/api/events?type=alarm").json() == []
        pg.select_option("#ev-type", "alarm")
        pg.wait_for_selector("#event-list li.muted")
        assert "Geen gebeurtenis" in pg.inner_text("#event-list")
        # one source: the device filters (the page holds the last 200 events, not a copy)
        pg.select_option("#ev-type", "")
        pg.wait_for_selector("#event-list li p")
        pg.select_option("#ev-source", "meter 1")
        pg.wait_for_function("[...document.querySelectorAll('#event-list li .src')].every(e => e.textContent === 'Meter Main meter')"
                             " && document.querySelectorAll('#event-list li p').length > 0")
        seen = [u for u in pg.seen if "/api/events" in u][-1]
        assert "source=meter%201" in seen, seen
        assert all(e["source"] == "meter 1" for e in demo.api("GET", seen[len(demo.url):]).json())
        pg.goto(demo.url + "/#/genset")
        reason = pg.wait_for_selector("#genset-reason").inner_text()
        assert not any(w in reason for w in ("not ", "warm-up", "cool-down", "quiet", "retry", "manual run")), reason
    finally:
        ctx.close()


def test_a_busy_answer_is_asked_again_when_the_gateway_says(demo, browser):
    """The gateway's 503 "busy" (web/guard.py BUSY, the heap short for a moment) says when to
    come back (Retry-After): the page reads again then, and the reader sees the log, no error."""
    from gateway.web.guard import BUSY

    head, body = BUSY.split(b"\r\n\r\n")
    after = [x.split(b": ")[1].decode() for x in head.split(b"\r\n") if x.startswith(b"Retry-After")][0]
    asked = []

    def busy_once(route):
        asked.append(time.monotonic())
        if len(asked) == 1:
            route.fulfill(status=503, body=body, headers={"Retry-After": after,
                                                        "Content-Type": "application/json"})
        else:
            route.continue_()

    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        pg.route("**/api/events*", busy_once)
        pg.goto(demo.url + "/#/events")
        pg.wait_for_selector("#event-list li p")
        assert len(asked) == 2 and asked[1] - asked[0] >= int(after) - 0.1, asked
        assert pg.locator("#events .err, #event-list .err").count() == 0
    finally:
        ctx.close()


def test_a_busy_answer_to_a_write_is_sent_again_only_when_repeating_it_changes_nothing(demo, browser):
    """A 503 "busy" may come after a write took effect (the heap ran short building the
    answer): the page sends a setting again after Retry-After (the same setting twice is
    one), but not a password change, whose old password may be gone: that one says busy."""
    from gateway.web.guard import BUSY

    head, body = BUSY.split(b"\r\n\r\n")
    sent = []

    def busy_first(route):
        sent.append(route.request.url)
        if len(sent) == 1:
            route.fulfill(status=503, body=body, headers={"Retry-After": "1",
                                                        "Content-Type": "application/json"})
        else:
            route.continue_()

    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        pg.route("**/api/settings", lambda r: busy_first(r) if r.request.method == "PUT" else r.continue_())
        pg.goto(demo.url + "/#/system")
        pg.fill("#settings input[name=location]", "Résidence Busy")
        pg.click("[data-action=save-settings]")
        pg.wait_for_selector("#toast >> text=" + _catalogue("fr")["saved"])
        assert len(sent) == 2, sent
        demo.login()
        assert demo.api("GET", "/api/settings").json()["location"] == "Résidence Busy"

        sent.clear()
        pg.route("**/api/me/password", busy_first)
        pg.goto(demo.url + "/#/account")
        pg.fill("input[name=old_password]", demo.admin_password)
        pg.fill("input[name=password]", "never-sent-twice-Pw-1")
        pg.fill("input[name=password2]", "never-sent-twice-Pw-1")
        pg.click("[data-action=change-password]")
        pg.wait_for_selector("#password-form .err >> text=" + _catalogue("fr")["err.busy"])
        assert len(sent) == 1, sent
    finally:
        ctx.close()
    assert demo.login().status_code == 200  # the password unchanged


def test_the_generator_s_soc_meter_is_not_deleted_and_the_page_says_why_in_french(demo, browser):
    demo.login()  # before the browser's login: a new session may push older ones out
    soc = demo.api("GET", "/api/genset").json()["soc_source"]["meter"]
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        pg.goto(demo.url + "/#/meters")
        pg.click(".meter[data-id='%s'] [data-action=delete-meter]" % soc)
        pg.click("dialog [data-action=confirm]")
        pg.wait_for_selector("#toast.bad")
        assert pg.inner_text("#toast") == \
            "Le groupe électrogène démarre d’après ce compteur : choisissez d’abord une autre source"
        assert soc in [m["id"] for m in demo.api("GET", "/api/meters").json()]
        assert pg.locator(".meter[data-id='%s']" % soc).count() == 1
    finally:
        ctx.close()


def test_prg_button_setup_window_shows_on_the_page(demo, browser, artifacts):
    ctx, pg = _open(browser, demo, "en", (390, 844))
    try:
        pg.wait_for_selector("#flow[data-in]")
        r = demo.hw_post("/api/hw/button", {"name": "prg", "hold_ms": 300})
        assert r.status_code == 200, r.text
        note = pg.wait_for_selector("#setup-note", timeout=20000)  # pushed by the live stream
        assert "PRG button pressed" in note.inner_text() and "min left" in note.inner_text()
        pg.goto(demo.url + "/#/network/wifi")
        assert pg.wait_for_selector("#setup-window").inner_text().startswith("open, ")
        pg.screenshot(path=os.path.join(artifacts, "page-en-390-prg-window.png"))
    finally:
        ctx.close()


# last: it opens every page 36 times, the heaviest use of the device
@pytest.mark.parametrize("lang", LANGS)
def test_every_page_fits_and_speaks_the_language(demo, browser, artifacts, lang):
    en, cat = _catalogue("en"), _catalogue(lang)
    keys = set(en)
    # English words that are not also words of this language's catalogue ("Start" is Dutch too)
    english = {v for k, v in en.items() if len(v) > 3 and not k.startswith("_")} - set(cat.values())
    problems = []
    for size in SIZES:
        ctx, pg = _open(browser, demo, lang, size)
        try:
            for page in PAGES:
                pg.goto(demo.url + "/#/" + page)
                pg.wait_for_selector("#main[data-page='%s']" % page.split("/")[0])
                _settle(pg)
                if page == "home":
                    pg.wait_for_selector("#flow[data-in]")
                    pg.wait_for_selector("#main .meter")
                name = "page-%s-%d-%s.png" % (lang, size[0], page.replace("/", "-"))
                pg.screenshot(path=os.path.join(artifacts, name), full_page=True)
                for b in pg.evaluate(CUT_JS):
                    problems.append("%s %s: cut %s" % (size[0], page, b))
                for txt in pg.evaluate(TEXTS_JS):
                    if txt in keys:
                        problems.append("%s %s: untranslated key %r" % (size[0], page, txt))
                    if lang != "en" and txt in english:
                        problems.append("%s %s: English text %r" % (size[0], page, txt))
            # the "More" menu opens and its labels fit too
            if pg.locator(".tabs .more").is_visible():
                pg.click("[data-action=nav-more]")
                pg.wait_for_selector("#nav-menu a", state="visible")
                pg.screenshot(path=os.path.join(artifacts, "page-%s-%d-menu.png" % (lang, size[0])))
                for b in pg.evaluate(CUT_JS):
                    problems.append("%s menu: cut %s" % (size[0], b))
        finally:
            ctx.close()
    assert not problems, "\n".join(problems[:40])


def test_relay_outputs_switch_from_the_generator_page(demo, browser, artifacts):
    """The generator page lists the board's other relays (plain outputs); a click switches one
    (the emulated pin follows) and the event log says so in French."""
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    text = "(s) => document.querySelector(s).textContent"
    try:
        pg.goto(demo.url + "/#/genset")
        pg.wait_for_selector("[data-action=output-aux]")
        assert demo.hw()["relays"]["aux"] is False
        assert pg.evaluate(text, "[data-action=output-aux]") == "Activer"
        pg.click("[data-action=output-aux]")
        demo.wait_for(lambda: demo.hw()["relays"]["aux"] is True, timeout=15, what="aux closed")
        pg.wait_for_function("document.querySelector('#output-aux-relay b').textContent"
                             ".startsWith('MARCHE')", timeout=15000)
        assert pg.evaluate(text, "[data-action=output-aux]") == "Désactiver"
        pg.screenshot(path=os.path.join(artifacts, "page-fr-390-outputs.png"), full_page=True)
        pg.click("[data-action=output-aux]")
        demo.wait_for(lambda: demo.hw()["relays"]["aux"] is False, timeout=15, what="aux open")
        pg.goto(demo.url + "/#/events")
        pg.wait_for_selector("#event-list li p")
        texts = pg.eval_on_selector_all("#event-list li p", "ps => ps.map(p => p.textContent)")
        assert "aux activée par admin" in texts and "aux désactivée par admin" in texts, texts
        assert any(x.startswith("Sortie aux (aux) configurée par") for x in texts), texts
        sources = pg.eval_on_selector_all("#event-list li .src", "s => s.map(e => e.textContent)")
        assert "Sortie aux" in sources, sources
    finally:
        ctx.close()


def test_an_installer_sets_up_a_relay_output_on_the_page(demo, browser, artifacts):
    """The aux relay's settings (Legrand-style NO/NC, maintained/pulse/blink) from the generator
    page in French: a pulse of 2.5 s typed in seconds is stored in ms and the relay opens by
    itself; a time below the minimum is refused next to its field in seconds, nothing changed."""
    demo.login()
    keys = ("name", "contact", "mode", "on_ms", "off_ms", "edges", "power_on")
    before = demo.api("GET", "/api/outputs/aux").json()
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    form = "#output-aux-form"
    visible = "(s) => !document.querySelector(s).closest('.f').hidden"
    try:
        pg.goto(demo.url + "/#/genset")
        pg.click("text=Réglages · aux")
        assert pg.input_value(form + " select[name=mode]") == before["mode"] == "maintained"
        assert not pg.evaluate(visible, form + " input[name=on_ms]")
        pg.select_option(form + " select[name=mode]", "pulse")
        assert pg.evaluate(visible, form + " input[name=on_ms]")
        assert pg.evaluate(visible, form + " select[name=edges]")
        assert not pg.evaluate(visible, form + " input[name=off_ms]")  # blinking only
        pg.fill(form + " input[name=name]", "Pompe")
        pg.fill(form + " input[name=on_ms]", "2.5")
        pg.click("[data-action=save-output-aux]")
        pg.wait_for_function("document.querySelector('#output-aux-relay span').textContent"
                             " === 'Pompe'", timeout=15000)
        got = demo.api("GET", "/api/outputs/aux").json()
        assert (got["name"], got["mode"], got["on_ms"], got["off_ms"]) == (
            "Pompe", "pulse", 2500, before["off_ms"]), got
        for _ in range(2):  # a pulse each time: closes, then opens by itself
            pg.wait_for_function("document.querySelector('[data-action=output-aux]')"
                                 ".textContent === 'Envoyer une impulsion'", timeout=15000)
            pg.click("[data-action=output-aux]")
            demo.wait_for(lambda: demo.hw()["relays"]["aux"] is True, timeout=15,
                          what="aux closed")
            demo.wait_for(lambda: demo.hw()["relays"]["aux"] is False, timeout=15,
                          what="pulse end")
        pg.fill(form + " input[name=on_ms]", "0.05")
        pg.click("[data-action=save-output-aux]")
        err = pg.wait_for_selector(form + " .err[data-field=on_ms]").text_content()
        assert err.replace("\u202f", " ") == "Durée ON (s) : entre 0,1 et 3 600", err
        pg.screenshot(path=os.path.join(artifacts, "page-fr-390-output-settings.png"),
                      full_page=True)
        assert demo.api("GET", "/api/outputs/aux").json()["on_ms"] == 2500
    finally:
        ctx.close()
        if before["configured"]:
            demo.api("PUT", "/api/outputs/aux", {k: before[k] for k in keys})
        else:
            demo.api("DELETE", "/api/outputs/aux")


def test_a_manual_generator_run_is_explained_in_french(demo, browser, artifacts):
    """The generator's reason comes in English from the device; a manual run, its time left
    and its warm-up are said in the reader's language (app.js devText)."""
    demo.login()
    before = demo.api("GET", "/api/genset").json()
    r = demo.api("PUT", "/api/genset", {"mode": "on", "manual_run_s": 600})
    assert r.status_code == 200, r.text
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        pg.goto(demo.url + "/#/genset")
        pg.wait_for_function("/marche manuelle, encore/.test("
                             "(document.querySelector('#genset-reason') || {}).textContent)",
                             timeout=15000)
        reason = pg.inner_text("#genset-reason")
        assert "manual run" not in reason and " left" not in reason, reason
    finally:
        ctx.close()
        demo.api("PUT", "/api/genset", {"mode": before["mode"],
                                        "manual_run_s": before["manual_run_s"]})


def test_the_generator_service_reminder_is_set_and_recorded_from_the_page(demo, browser, artifacts):
    """An installer sets a service interval in the generator form; the state says when the
    service falls due, "Entretien fait" records one (confirmed), the log says who, and
    /metrics gives the hours left for an alert rule."""
    demo.login()
    before = demo.api("GET", "/api/genset").json()
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        pg.goto(demo.url + "/#/genset")
        pg.fill("#genset-form input[name=service_interval_h]", "250")
        pg.click("[data-action=save-genset]")
        pg.wait_for_selector("#genset-service")
        st = demo.api("GET", "/api/genset").json()
        assert st["service_interval_h"] == 250 and st["service_due"] is False
        left = st["service_due_in_h"]
        assert abs(left - (250 - st["run_s"] / 3600)) <= 0.1, st  # never serviced: from 0 run hours
        shown = pg.inner_text("#genset-service")
        words = ("%g" % left).replace(".", ",")  # French decimals, as the API's hours left
        assert shown.replace("\u202f", " ") == "dans %s h" % words, (shown, left)
        pg.click("[data-action=genset-serviced]")
        assert "250 heures de marche" in pg.inner_text("dialog")
        pg.click("dialog [data-action=confirm]")
        demo.wait_for(lambda: any(e.get("code") == "gs.serviced" for e in demo.api("GET", "/api/events?source=genset").json()),
                      timeout=15, what="the service in the log")
        assert demo.api("GET", "/api/genset").json()["service_due_in_h"] == 250
        metrics = demo.api("GET", "/metrics").text
        assert "dingate_genset_service_due_in_hours 250" in metrics, metrics[-800:]
        pg.goto(demo.url + "/#/events")
        pg.wait_for_selector("#event-list li p")
        texts = pg.eval_on_selector_all("#event-list li p", "ps => ps.map(p => p.textContent)")
        assert "Entretien enregistré par admin" in texts, texts
    finally:
        ctx.close()
        demo.api("PUT", "/api/genset", {"service_interval_h": before["service_interval_h"]})


def test_an_admin_gives_a_tenant_its_meters_on_the_page(demo, browser, artifacts):
    """Users page in French: a new tenant account without a meter is refused next to the meter
    list; with one ticked it is made, bound to that meter only; the ticks are checkboxes of a
    finger's size, not 40 px boxes."""
    demo.login()
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        pg.goto(demo.url + "/#/users")
        pg.click("[data-action=add-user]")
        pg.fill("#user-form input[name=user]", "dupont")
        pg.fill("#user-form input[name=password]", "locataire-12345")
        pg.select_option("#user-form select[name=role]", "tenant")
        boxes = pg.eval_on_selector_all("#tenant-meters input[type=checkbox]",
                                        "els => els.map(e => e.getBoundingClientRect().width)")
        assert len(boxes) == len(demo.api("GET", "/api/meters").json()) and all(16 <= w <= 26 for w in boxes), boxes
        pg.click("[data-action=save-user]")
        err = pg.wait_for_selector("#tenant-meters .err")
        assert err.inner_text() == "Compteurs de ce locataire : obligatoire", err.inner_text()
        pg.check("#tenant-meters label:has-text('Workshop') input")
        pg.click("[data-action=save-user]")
        pg.wait_for_selector("#user-form", state="detached")
        u = [x for x in demo.api("GET", "/api/users").json() if x["user"] == "dupont"][0]
        workshop = [m["id"] for m in demo.api("GET", "/api/meters").json() if m["name"] == "Workshop"]
        assert (u["role"], u["meters"], u["must_change"]) == ("tenant", workshop, True)
        card = pg.inner_text(".card.user[data-user=dupont]")
        assert "Compteurs de ce locataire" in card and "Workshop" in card and "Main meter" not in card, card
        pg.screenshot(path=os.path.join(artifacts, "page-fr-390-tenant-user.png"), full_page=True)
    finally:
        ctx.close()
        demo.api("DELETE", "/api/users/dupont")


def test_the_mqtt_links_error_is_said_in_french(demo, browser, artifacts):
    """A broker that refuses the connection: the page says so in the reader's language, the
    device's own text kept in the title for whoever needs it."""
    demo.login()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = demo.api("PUT", "/api/mqtt", {"enabled": True, "host": "127.0.0.1", "port": port})
    assert r.status_code == 200, r.text
    ctx, pg = _open(browser, demo, "fr", (390, 844))
    try:
        demo.wait_for(lambda: "ECONNREFUSED" in demo.api("GET", "/api/mqtt").json()["state"]
                      ["last_error"], timeout=30, what="the refused connection")
        pg.goto(demo.url + "/#/network/mqtt")
        err = pg.wait_for_selector("#mqtt-error")
        assert err.inner_text() == "connexion refusée par le broker"
        assert "ECONNREFUSED" in err.get_attribute("title")
    finally:
        ctx.close()
        demo.api("PUT", "/api/mqtt", {"enabled": False, "host": ""})
