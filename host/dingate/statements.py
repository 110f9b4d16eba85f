"""`dingate statement`: a building's monthly statements without a browser, from a backup file
(GET /api/backup carries the billing files) or from a running device. The statements are made
by the firmware's own core (gateway.core.statement) from the device's billing files, or taken
as the device's API returns them; CSV by the same core code as the device's download."""
import csv
import html
import io
import json
import os
import shutil
import tempfile

import requests

from gateway.core import statement as S
from gateway.core.billing import Billing

from .paths import FIRMWARE


class StatementError(Exception):
    pass


def from_backup(path, month, meters=None, part=None, every_part=False):
    """(statements, settings) for ``month`` from a backup file's "billing" document
    (``every_part``: each part of a meter reset mid-month, as the month's table lists them)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise StatementError("cannot read the backup %s: %s" % (path, e))
    items = doc.get("billing")
    if not isinstance(items, list) or not items:
        raise StatementError("%s has no billing data (a backup from firmware with billing)" % path)
    settings = doc.get("settings") or {}
    names = {str(m.get("id")): m.get("name") for m in doc.get("meters") or []}
    cfg = {}
    d = tempfile.mkdtemp(prefix="dgt_stm_")
    try:
        for it in items:
            if "config" in it:
                cfg = it["config"] or {}
            elif "names" in it:  # deleted meters' (their billing stays)
                for k, v in (it["names"] or {}).items():
                    names.setdefault(k, v)
            elif "file" in it and "/" not in it["file"]:
                with open(os.path.join(d, it["file"]), "w", encoding="utf-8") as f:
                    f.write(it["text"])
        b = Billing(d, settings.get("timezone"))
        b.config = lambda: cfg
        out = []
        for mid in meters or sorted(b.channels(), key=S.meter_order):
            found = S.month_parts(b, mid, month) if every_part else [S.find(b, mid, month, part)]
            for st in found:
                if st is None:
                    continue
                st["name"] = S.meter_name(names.get(mid), mid)  # as the device names it
                st["location"] = settings.get("location", "")
                out.append(st)
        return out, settings
    finally:
        shutil.rmtree(d, ignore_errors=True)


def from_url(url, user, password, month, meters=None, part=None, every_part=False):
    """(statements, settings) for ``month`` from a running device (its API; ``every_part``:
    each part of a month, from the statements the device lists)."""
    s = requests.Session()
    url = url.rstrip("/")
    r = s.post(url + "/api/login", json={"user": user, "password": password}, timeout=20)
    if r.status_code != 200:
        raise StatementError("login refused: %s" % r.text[:200])
    settings = {}
    rs = s.get(url + "/api/settings", timeout=20)
    if rs.status_code == 200:
        settings = rs.json()
    if not meters:  # the month's table names them, a deleted meter's billing included
        r = s.get(url + "/api/statements.csv", params={"month": month}, timeout=60)
        if r.status_code != 200:
            raise StatementError("the month's table: %s" % r.text[:200])
        rows = csv.DictReader(io.StringIO(r.text), delimiter=settings.get("csv_separator", ";"))
        meters = list(dict.fromkeys(x["meter"] for x in rows))
    out = []
    for mid in meters:
        parts = [part]
        if every_part:
            r = s.get(url + "/api/statements", params={"meter": mid}, timeout=30)
            parts = [x["part"] for x in (r.json() if r.status_code == 200 else []) if x["month"] == month]
            parts.reverse()  # the listing is newest first
        for p in parts:
            q = {"meter": mid, "month": month}
            if p:
                q["part"] = p
            r = s.get(url + "/api/statements", params=q, timeout=30)
            if r.status_code == 404:
                continue
            if r.status_code != 200:
                raise StatementError("meter %s: %s" % (mid, r.text[:200]))
            out.append(r.json())
    return out, settings


LANGS = ("en", "fr", "nl")  # the page's catalogues (firmware/www/lang-<lang>.json)
# digit grouping and decimal mark, as the page shows numbers in each
NUMBERS = {"en": (",", "."), "fr": ("\u202f", ","), "nl": (".", ",")}
# month names as the page's title gives them (the browser's Intl there; Python has no
# locale-free names)
MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
}


class Words:
    """A statement's words and numbers in ``lang``: the page's own catalogue (stm.* keys), so
    the printed statement says what the page's printable one says."""

    def __init__(self, lang):
        if lang not in LANGS:
            raise StatementError("no words for language %r (%s)" % (lang, ", ".join(LANGS)))
        with open(os.path.join(FIRMWARE, "www", "lang-%s.json" % lang), encoding="utf-8") as f:
            self.cat = json.load(f)
        self.lang = lang

    def __call__(self, key, **params):
        text = self.cat[key]
        for k, v in params.items():
            text = text.replace("{%s}" % k, str(v))
        return text

    def num(self, x, decimals):
        group, mark = NUMBERS[self.lang]
        text = "{:,.{}f}".format(x, decimals)
        return text.replace(",", "\0").replace(".", mark).replace("\0", group)

    def money(self, x, currency):
        return "%s %s" % (self.num(x, 2), currency)

    def month(self, ym):
        """"2026-11" -> "November 2026" / "novembre 2026" / "november 2026"."""
        y, m = ym.split("-")
        return "%s %s" % (MONTHS[self.lang].split()[int(m) - 1], y)

    def when(self, zone, ts):
        """Date and time of ``ts`` in ``zone``: 2026-11-30 23:59, 30/11/2026 23:59, 30-11-2026 23:59."""
        y, m, d, hh, mm = zone.parts(ts)[:5]
        if self.lang == "en":
            return "%04d-%02d-%02d %02d:%02d" % (y, m, d, hh, mm)
        sep = "/" if self.lang == "fr" else "-"
        return "%02d%s%02d%s%04d %02d:%02d" % (d, sep, m, sep, y, hh, mm)


CSS = """@page { size: A4; margin: 15mm; } body { font: 11pt sans-serif; }
table { border-collapse: collapse; width: 100%; } td, th { padding: 2pt 6pt; text-align: left; }
td.n { text-align: right; } tr.total { font-weight: bold; border-top: 1.5pt solid #000; }
section { page-break-after: always; }"""


def _line(w, ln, cur):
    """One price line as the page shows it: its kind's words, quantity, unit price, amount."""
    e = html.escape
    if ln["kind"] == "energy":
        label = w("stm.k.energy", n="" if ln["label"] == "base" else e(ln["label"])).strip()
    else:
        label = w("stm.k." + ln["kind"])
    if ln["unit"] == "month":
        qty = w.num(ln["quantity"] * 100, 1) + " %"
    else:
        qty = "%s %s" % (w.num(ln["quantity"], 3), "m³" if ln["unit"] == "m3" else e(ln["unit"]))
    return "<tr><td>%s</td><td class=n>%s</td><td class=n>%s</td><td class=n>%s</td></tr>" % (
        label, qty, w.money(ln["price"], cur), w.money(ln["amount"], cur))


def render_html(sts, lang="en", timezone=None):
    """One printable A4 page per statement, in ``lang``, times in the site's ``timezone``."""
    from gateway.core import tz

    w, e, zone = Words(lang), html.escape, tz.get(timezone)
    parts = ["<!doctype html><html lang=%s><meta charset=utf-8><title>%s</title><style>%s</style>"
             % (lang, e(w("stm.title", m="")).strip(), CSS)]
    for st in sts:
        c, q = st["cost"], st.get("quantity") or "import_kwh"
        unit = "m³" if st.get("unit") == "m3" else "kWh"
        rows = [(w("stm.location"), e(st.get("location") or "—")),
                (w("stm.tenant"), e(st.get("tenant") or "—")),
                (w("stm.meter"), e(st.get("name") or st["meter"])),
                (w("stm.period"), "%s – %s" % (w.when(zone, st["from"]), w.when(zone, st["to"]))),
                (w("stm.idx_start"), "%s %s" % (w.num(st["index_start"][q], 3), unit)),
                (w("stm.idx_end"), "%s %s" % (w.num(st["index_end"][q], 3), unit)),
                (w("stm.consumption"), "%s %s (%s)" % (w.num(st[q], 3), unit, " · ".join(
                    ("" if p["name"] == "base" else e(p["name"]) + " ")
                    + w.num(p.get("kwh", p.get("m3", 0)), 3) for p in st["periods"])))]
        if st.get("export_kwh"):
            rows.append((w("stm.export"), "%s kWh" % w.num(st["export_kwh"], 3)))
        if st.get("peak_kw") is not None:  # the month's highest quarter-hour average import
            rows.append((w("bill.peak"), "%s kW · %s" % (w.num(st["peak_kw"], 2),
                                                          w.when(zone, st["peak_ts"]))))
        title = w("stm.title", m=w.month(st["month"]))
        if st["part"] > 1:
            title += " (%s)" % w("stm.part", n=st["part"])
        cur = e(c.get("currency") or "")
        if c.get("tariff") is False:
            prices = "<p>%s</p>" % w("stm.notariff")
        else:
            prices = ("<table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>%s"
                      "<tr><td colspan=3>%s</td><td class=n>%s</td></tr>"
                      "<tr><td colspan=3>%s</td><td class=n>%s</td></tr>"
                      "<tr class=total><td colspan=3>%s</td><td class=n>%s</td></tr></table>" % (
                          w("stm.line"), w("stm.qty"), w("stm.price"), w("stm.amount"),
                          "".join(_line(w, ln, cur) for ln in c["lines"]),
                          w("stm.subtotal"), w.money(c["subtotal"], cur),
                          w("stm.vat", p=w.num(c["vat_pct"], 2)), w.money(c["vat"], cur),
                          w("stm.total"), w.money(c["total"], cur)))
        parts.append("<section><h1>%s</h1><p>%s</p><table>%s</table>%s</section>" % (
            title, w("stm.closed") if st["closed"] else w("stm.open"),
            "".join("<tr><th>%s</th><td>%s</td></tr>" % r for r in rows), prices))
    return "".join(parts)


def write(sts, settings, fmt, out_dir, lang=None):
    """Write the statements (one file per statement; html, summary: one file for all). Returns
    the paths."""
    os.makedirs(out_dir, exist_ok=True)
    loc = settings.get("location", "")
    paths = []
    if fmt == "summary":
        p = os.path.join(out_dir, S.filename(loc, "statements", sts[0]["month"], 1, "csv"))
        with open(p, "w", encoding="utf-8", newline="") as f:
            f.write("".join(S.summary_lines(sts, settings.get("csv_separator", ";"),
                                            settings.get("csv_decimal", ","))))
        return [p]
    if fmt == "html":
        month = sts[0]["month"] if sts else "none"
        p = os.path.join(out_dir, S.filename(loc, "statements", month, 1, "html"))
        with open(p, "w", encoding="utf-8") as f:
            f.write(render_html(sts, lang or settings.get("language") or "en",
                                settings.get("timezone")))
        return [p]
    for st in sts:
        p = os.path.join(out_dir, S.filename(loc, st.get("name") or st["meter"], st["month"],
                                             st["part"], fmt))
        with open(p, "w", encoding="utf-8", newline="") as f:
            if fmt == "json":
                json.dump(st, f, indent=1, ensure_ascii=False)
            else:
                f.write("".join(S.csv_lines(st, settings.get("csv_separator", ";"),
                                            settings.get("csv_decimal", ","), loc)))
        paths.append(p)
    return paths
