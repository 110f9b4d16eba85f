"""Quarter-hour demand: each electricity meter's highest quarter-hour average import power per
month, with its quarter. Flanders bills it (capacity tariff, "maandpiek"); a Linky shows the same
idea as "puissance maximale atteinte".

Loaded on demand (gateway.core.ondemand) by the recorder at each quarter hour and by the billing
API; its state sits in ``billing.qh`` (gateway.core.billing), so none of its code stays loaded.

    read(billing, q, {ch: (reading_ts, import_wh)})   # the read at quarter boundary q
    view(billing, ch) -> (latest month's peak | None, [past months' peaks, newest first])
    forget(billing, ch)                               # a new tenant (billing reset)

A quarter is [q, q + 900) on UTC multiples of 900 s: local quarter hours in every zone with
whole-, half- or quarter-hour offsets. Its power is the import between the readings taken at its
two ends, per hour: W = Wh * 3600 / s, over the readings' own times (a poll cycle's lag cancels
out). Only a quarter seen whole counts: both ends read, consecutive, the index not gone backwards
(a meter swapped or reset). The device off, a silent meter or a clock jump leaves the quarter
out: a peak is always a real quarter's. Its month is its start's, in the site's time zone.

``billing.qh``: {ch: array("q", [q, reading_ts, wh, month, peak_w, peak_q])}: the last read
(q 0 = none yet) and the latest measured month's peak (month as YYYYMM, 0 = none); integers in
an array, so nothing is boxed on a 32-bit board: ~100 bytes a meter. Flash, in the billing
directory: ``peaks.json`` {"v": 1, "open": {ch: ["YYYY-MM", w, q]}}, written at a read where a
peak rose (at most once a quarter, rarely after a month's first days), and ``pk_<ch>.json``
[["YYYY-MM", w, q], ...] the past months, newest first, at most KEEP, written when a month
closes. After a restart the peaks come back; the quarter under way is lost.
"""
import json
import os
from array import array

from gateway.core.billing import QH_MONTH, QH_PEAK, QH_Q, QH_T, QH_W, QH_WH, _safe
from gateway.core.billing import month_text as _key
from gateway.core.configstore import atomic_write, dumps, read_file

QUARTER = 900
KEEP = 12  # past months' peaks kept per meter (a capacity tariff averages the last 12)


def _path(b, ch=None):
    if ch is None:
        return b.root + "/peaks.json"
    return "%s/pk_%s.json" % (b.root, _safe(ch))


def _json(path, default):
    try:
        return json.loads(read_file(path))
    except (OSError, ValueError):
        return default


def _state(b):
    """billing.qh, made from peaks.json on first use after a boot."""
    if b.qh is None:
        b.qh = {}
        b.peaks_rev += 1
        d = _json(_path(b), {})
        opened = d.get("open") if isinstance(d, dict) else None
        for ch in opened or {}:
            try:
                month, w, q = opened[ch]
                b.qh[ch] = array("q", [0, 0, 0, int(month[:4]) * 100 + int(month[5:]), w, q])
            except (ValueError, TypeError, IndexError, OverflowError):  # a damaged entry: dropped
                pass
    return b.qh


def _past(b, ch):
    p = _json(_path(b, ch), [])
    return p if isinstance(p, list) else []


def _save(b):
    opened = {}
    for ch, s in b.qh.items():
        if s[QH_MONTH]:
            opened[ch] = [_key(s[QH_MONTH]), s[QH_W], s[QH_PEAK]]
    b.bytes_written += atomic_write(_path(b), dumps({"v": 1, "open": opened}))


def read(b, q, readings):
    """The read at quarter boundary ``q`` (epoch s, a multiple of 900) of every billed electricity
    meter: ``readings`` {ch: (reading_ts, import_wh)}. Returns {ch: W} of the quarters that just
    ended whole (after q - 900)."""
    st = _state(b)
    zone = b.zone
    powers = {}
    rose = False
    for ch in readings:
        t, wh = readings[ch]
        t, wh = int(t), int(wh)
        s = st.get(ch)
        if s is None:
            s = st[ch] = array("q", [0] * 6)
        if s[QH_Q] and s[QH_Q] == q - QUARTER and t > s[QH_T] and wh >= s[QH_WH]:
            start = q - QUARTER
            w = (wh - s[QH_WH]) * 3600 // (t - s[QH_T])
            y, m, _ = zone.date(start)
            month = y * 100 + m
            if month != s[QH_MONTH]:
                if s[QH_MONTH]:  # the month before closes with its peak
                    past = ([[_key(s[QH_MONTH]), s[QH_W], s[QH_PEAK]]] + _past(b, ch))[:KEEP]
                    b.bytes_written += atomic_write(_path(b, ch), dumps(past))
                s[QH_MONTH], s[QH_W], s[QH_PEAK] = month, w, start
                rose = True
            elif w > s[QH_W]:
                s[QH_W], s[QH_PEAK] = w, start
                rose = True
            powers[ch] = w
        s[QH_Q], s[QH_T], s[QH_WH] = q, t, wh
    if rose:
        b.peaks_rev += 1
        _save(b)
    return powers


def view(b, ch):
    """(open, past) of channel ch: the peak of its latest measured month {"month", "w", "ts"}
    (ts = the quarter's start) or None, and the months before it, newest first."""
    ch = str(ch)
    s = _state(b).get(ch)
    cur = None
    if s is not None and s[QH_MONTH]:
        cur = {"month": _key(s[QH_MONTH]), "w": s[QH_W], "ts": s[QH_PEAK]}
    return cur, [{"month": e[0], "w": e[1], "ts": e[2]} for e in _past(b, ch)]


def forget(b, ch):
    """A new tenant on channel ch (billing reset): its peaks start afresh."""
    ch = str(ch)
    if _state(b).pop(ch, None) is not None:
        b.peaks_rev += 1
        _save(b)
    try:
        os.remove(_path(b, ch))
    except OSError:
        pass
