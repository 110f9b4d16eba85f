"""`dingate statement`: a building's monthly statements without a browser, from a backup file
(GET /api/backup carries the billing files) or from a running device. The statements are made
by the firmware's own core (gateway.core.statement) from the device's billing files, or taken
as the device's API returns them; CSV by the same core code as the device's download."""
import html
import json
import os
import shutil
import tempfile

import requests

from gateway.core import statement as S
from gateway.core.billing import Billing


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
            elif "file" in it and "/" not in it["file"]:
                with open(os.path.join(d, it["file"]), "w", encoding="utf-8") as f:
                    f.write(it["text"])
        b = Billing(d, settings.get("timezone"))
        b.config = lambda: cfg
        out = []
        for mid in meters or sorted(b.channels(), key=_natural):
            found = S.month_parts(b, mid, month) if every_part else [S.find(b, mid, month, part)]
            for st in found:
                if st is None:
                    continue
                st["name"] = names.get(mid, mid)
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
    if not meters:
        meters = [m["id"] for m in s.get(url + "/api/meters", timeout=20).json()]
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


def _natural(x):
    return (0, int(x)) if x.isdigit() else (1, x)


def _money(x, cur):
    return "%.2f %s" % (x, cur)


CSS = """@page { size: A4; margin: 15mm; } body { font: 11pt sans-serif; }
table { border-collapse: collapse; width: 100%; } td, th { padding: 2pt 6pt; text-align: left; }
td.n { text-align: right; } tr.total { font-weight: bold; border-top: 1.5pt solid #000; }
section { page-break-after: always; }"""


def render_html(sts):
    """One printable A4 page per statement (English)."""
    e = html.escape
    parts = ["<!doctype html><meta charset=utf-8><title>Statements</title><style>%s</style>" % CSS]
    for st in sts:
        c = st["cost"]
        cur = c["currency"]
        rows = "".join("<tr><td>%s</td><td class=n>%.3f %s</td><td class=n>%s</td><td class=n>%s</td></tr>" % (
            e(ln["label"]), ln["quantity"], e(ln["unit"]), _money(ln["price"], cur),
            _money(ln["amount"], cur)) for ln in c["lines"])
        periods = ", ".join("%s %.3f kWh" % (e(p["name"]), p["kwh"]) for p in st["periods"])
        parts.append(
            "<section><h1>Statement %s%s</h1><p>%s</p><table>"
            "<tr><th>Site</th><td>%s</td></tr><tr><th>Tenant</th><td>%s</td></tr>"
            "<tr><th>Meter</th><td>%s</td></tr><tr><th>Index start</th><td>%s kWh</td></tr>"
            "<tr><th>Index end</th><td>%s kWh</td></tr><tr><th>Consumption</th><td>%s kWh (%s)</td></tr>"
            "</table><h2>Price lines</h2><table><tr><th>Item</th><th>Quantity</th><th>Unit price</th>"
            "<th>Amount</th></tr>%s<tr><td colspan=3>Total excl. VAT</td><td class=n>%s</td></tr>"
            "<tr><td colspan=3>VAT %s %%</td><td class=n>%s</td></tr><tr class=total><td colspan=3>"
            "Total incl. VAT</td><td class=n>%s</td></tr></table></section>" % (
                e(st["month"]), " (part %d)" % st["part"] if st["part"] > 1 else "",
                "closed" if st["closed"] else "month in progress: provisional",
                e(st.get("location") or ""), e(st.get("tenant") or ""),
                e(st.get("name") or st["meter"]), st["index_start"]["import_kwh"],
                st["index_end"]["import_kwh"], st["import_kwh"], periods, rows,
                _money(c["subtotal"], cur), c["vat_pct"], _money(c["vat"], cur),
                _money(c["total"], cur)))
    return "".join(parts)


def write(sts, settings, fmt, out_dir):
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
            f.write(render_html(sts))
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
