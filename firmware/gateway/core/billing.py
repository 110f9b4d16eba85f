"""Billing per channel (MEGA style): hourly billing reads, month-end readings, consumption.

Counter 1 = import (Wh+, consumption), counter 2 = export (Wh-, injection); values are integer
Wh (records.fixed("import_kwh", kwh)). Month boundaries are local midnights on the 1st in the
site's time zone (DST-correct, see tz.py).

    b = Billing("/data/bill", zone="Europe/Paris")
    b.read_all(ts, {"3": (import_wh, export_wh), ...})  # the hourly read (at hh:02, see below)
    b.get("3")        # current reading, 11 previous month-ends, monthly consumption
    b.reset("3", now, confirm=True)                     # new tenant: cannot be undone
    b.end("3", now)   # the meter is deleted: its last statement closes at its last read
    b.prune(now)      # the billing of meters deleted over KEEP_ENDED_S ago is dropped

Month-end reading of month M: of the read just before the local start of month M+1 and the
first read after it, the one closer to the boundary (normally the 00:02 read); its real time is
kept in "ts". Months skipped while the device was off get the same rule (their consumption is
then attributed to the months around them).

Flash: ``ch_<id>.json`` per channel (first init, the reading at init, the last 12 month-ends,
the reading when written) is written atomically when a month closes, on reset and on a new
channel; it is never rotated away. The heap keeps of each channel its first init, its base, its
current reading and its last month-end only (12 month-ends of 32 meters would be ~20 KB on an
ESP32 after a year): the month-ends are read from the file to show them (``get``) and to close
a month. The hourly current readings of all channels go into one
``current.json`` written atomically once per read cycle (one write for all channels).

A deleted meter's channel ends (``end``): its running month closes at its last read, as a
reset closes the outgoing tenant's, so its last statement is final and priced at the deletion;
nothing more is read on it (a read after it, a restore bringing the meter back, starts its
billing afresh, as a new tenant's). Its files stay for the accounts KEEP_ENDED_S, as long as
a live meter keeps its oldest statement, then go (``prune``, at the hourly read): channels,
kept in RAM, do not pile up over the device's life of replaced meters.

Costs and statements (gateway.core.statement, loaded on demand by flush()): each read's import
difference is queued as a span and added to the month's hour-of-week counters; each month close
and each reset queues a closing that freezes a statement with the tariff of that moment
(``config()``: the billing configuration, see gateway.core.tariff).
"""

import json
import os

from gateway.core import tz as _tz
from gateway.core.configstore import atomic_write, dumps, mkdirs, read_file
from gateway.core.errors import ValidationError

# billing.qh[ch] (gateway.core.demand): the last quarter-hour read and the latest measured
# month's quarter-hour peak (month as YYYYMM, 0 = none yet)
QH_Q, QH_T, QH_WH, QH_MONTH, QH_W, QH_PEAK = range(6)


def month_text(yyyymm):
    """202611 -> "2026-11" (the month of a quarter-hour peak)."""
    return "%04d-%02d" % divmod(yyyymm, 100)


KEEP_MONTHS = 12  # stored month-ends: the 11 shown plus the one before (for their consumption)
KEEP_ENDED_S = 13 * 31 * 86400  # a deleted meter's billing: 13 months (statement.KEEP)
MAX_QUEUE = 1024  # spans/closings waiting for a flash write that keeps failing
SHOW_MONTHS = 11
BILLING_MINUTE = 2


def next_billing_read(now, zone=None, minute=BILLING_MINUTE):
    """The next billing read time strictly after ``now``: the next hh:02:00 local time.
    Pure function of now (epoch s) and the zone (for half-hour offsets)."""
    z = _tz.get(zone) if zone is not None else _tz.get("UTC")
    now = int(now)
    best = None
    for off in (z.offset(now), z.offset(now + 3600)):
        t = now + ((minute * 60 - off - now) % 3600)
        if t <= now:
            t += 3600
        if (t + z.offset(t)) % 3600 == minute * 60 and (best is None or t < best):
            best = t
    if best is None:  # offset changes by a non-hour amount right here: fall back to UTC hours
        best = now + ((minute * 60 - now) % 3600) or now + 3600
    return best


def _safe(ch):
    out = []
    for c in ch:
        if c.isalpha() and ord(c) < 128 or c.isdigit() or c in "-_":
            out.append(c)
        else:
            out.append("~%02x" % ord(c))
    return "".join(out)


def _sub(a, b):
    if a is None or b is None:
        return None
    return a - b


class Billing:
    def __init__(self, root, zone=None):
        self.root = root.rstrip("/") if root != "/" else root
        self.zone = _tz.get(zone)
        self.bytes_written = 0
        self.problems = []  # (channel or file, detail) found while loading
        self._ch = {}
        self._dirty = False
        self.queue = []  # spans ("h", ch, t0, t1, wh) and closings ("c", ...) for statement.py
        self.config = lambda: {}
        self.qh = None  # quarter-hour demand (gateway.core.demand), made there on first use
        self.peaks_rev = 0  # counts the changes of the peaks in qh (the MQTT uplink follows it)
        mkdirs(self.root)
        self._load()

    # ---- persistence ------------------------------------------------------------------

    def _path(self, ch):
        return "%s/ch_%s.json" % (self.root, _safe(ch))

    def _load(self):
        for n in os.listdir(self.root):
            if not (n.startswith("ch_") and n.endswith(".json")):
                continue
            try:
                d = json.loads(read_file(self.root + "/" + n))
                ch = d["ch"]
                me = d.get("me") or []
                if not isinstance(ch, str) or not isinstance(me, list):
                    raise ValueError("bad channel file")
                st = {"init": d["init"], "base": d.get("base"), "cur": d.get("cur"),
                      "last": me[0] if me else None}
                for k in ("q", "end"):
                    if d.get(k):
                        st[k] = d[k]
                self._ch[ch] = st
            except (OSError, ValueError, KeyError, TypeError) as e:
                self.problems.append((n, "unreadable billing file: %r" % (e,)))
        try:
            d = json.loads(read_file(self.root + "/current.json"))
            cur = d.get("cur") or {}
            for ch in cur:
                st = self._ch.get(ch)
                r = cur[ch]
                if st is not None and (st["cur"] is None or r[0] > st["cur"][0]):
                    st["cur"] = r
        except OSError:
            pass
        except (ValueError, KeyError, TypeError, IndexError) as e:
            self.problems.append(("current.json", "unreadable: %r" % (e,)))

    def _months(self, ch):
        """The channel's stored month-ends, newest first (read from its file)."""
        try:
            me = json.loads(read_file(self._path(ch))).get("me")
        except (OSError, ValueError, AttributeError):
            return []
        return me if isinstance(me, list) else []

    def _save_channel(self, ch, me):
        st = self._ch[ch]
        st["last"] = me[0] if me else None
        doc = {"v": 1, "ch": ch, "init": st["init"], "base": st["base"], "cur": st["cur"]}
        doc["me"] = me
        for k in ("q", "end"):
            if st.get(k):
                doc[k] = st[k]
        self.bytes_written += atomic_write(self._path(ch), dumps(doc))

    def flush(self):
        """Persist the queued spans and closings (gateway.core.statement) and the current
        readings of all channels (one atomic write) if they changed."""
        if self.queue:
            from gateway.core import ondemand

            q = self.queue
            self.queue = []
            try:
                ondemand.call("gateway.core.statement", "apply", self, q)
            except OSError:
                self.queue = (q + self.queue)[-MAX_QUEUE:]
                raise
        if not self._dirty:
            return 0
        cur = {}
        for ch in self._ch:
            if self._ch[ch]["cur"] is not None:
                cur[ch] = self._ch[ch]["cur"]
        n = atomic_write(self.root + "/current.json", dumps({"v": 1, "cur": cur}))
        self.bytes_written += n
        self._dirty = False
        return n

    # ---- reads ------------------------------------------------------------------------

    def read(self, ch, ts, import_wh, export_wh=None, quantity=None):
        """One billing read of channel ch at ts (epoch s); counters in Wh (None = not read);
        ``quantity``: the counter billed when it is not import_kwh ("gas_m3", "water_m3":
        then in litres). Closes the months whose boundary lies since the previous read (written
        at once). Returns the list of month keys closed. Reads not newer than the last one are
        ignored."""
        ch = str(ch)
        ts = int(ts)
        r = [ts, import_wh, export_wh]
        st = self._ch.get(ch)
        if st is not None and st.get("end"):
            if ts <= st["end"]:
                return []
            st = None  # the meter is back (a restore): its billing starts afresh, as a reset
        if st is None:
            self._ch[ch] = {"init": ts, "base": r, "cur": r, "last": None}
            if quantity:
                self._ch[ch]["q"] = quantity
            self._save_channel(ch, [])
            self._dirty = True
            return []
        if quantity and not st.get("q"):
            st["q"] = quantity
        cur = st["cur"]
        closed = []
        if cur is not None and ts <= cur[0]:
            return closed
        if cur is None:
            if st["base"] is None:
                st["base"] = r
        else:
            if cur[1] is not None and import_wh is not None and import_wh >= cur[1]:
                self.queue.append(("h", ch, cur[0], ts, import_wh - cur[1]))
            ref = self._month_start(st)
            z = self.zone
            b = z.next_month(cur[0])
            new = []
            last = st["last"][0] if st["last"] else None
            while b <= ts:
                month = z.month_key(b - 1)
                pick = cur if b - cur[0] < ts - b else r
                # month-ends close in order: one not after the last stored one is there already
                if (last is None or month > last) and (st["init"] is None or b > st["init"]):
                    new.append([month, pick[0], pick[1], pick[2]])
                    closed.append(month)
                    self.queue.append(("c", ch, month, ref, list(pick)))
                    ref = list(pick)
                    last = month
                b = z.next_month(b)
        st["cur"] = r
        self._dirty = True
        if closed:  # newest first, as stored
            self._save_channel(ch, (new[::-1] + self._months(ch))[:KEEP_MONTHS])
        return closed

    def read_all(self, ts, readings):
        """The hourly billing read of every channel: readings {ch: (import_wh, export_wh)};
        persisted at once (month-end files if a month closed, then the current readings)."""
        closed = {}
        for ch in readings:
            v = readings[ch]
            c = self.read(ch, ts, v[0], v[1] if len(v) > 1 else None, v[2] if len(v) > 2 else None)
            if c:
                closed[ch] = c
        self.flush()
        return closed

    # ---- queries / reset --------------------------------------------------------------

    def _month_start(self, st):
        """The reading the open month starts from: the last month-end, else the first one."""
        e = st["last"]
        if e:
            return [e[1], e[2], e[3]]
        return list(st["base"]) if st["base"] else None

    def open_month(self, ch):
        """(month key, start reading, current reading) of the channel's open statement (None
        after its end: the last one is closed)."""
        st = self._ch.get(str(ch))
        if st is None or st["cur"] is None or st.get("end"):
            return None
        return self.zone.month_key(st["cur"][0]), self._month_start(st), list(st["cur"])

    def quantity(self, ch):
        """The counter channel ch is billed on: "import_kwh" (Wh), "gas_m3"/"water_m3" (litres)."""
        st = self._ch.get(str(ch))
        return (st and st.get("q")) or "import_kwh"

    def channels(self):
        return sorted(self._ch)

    def peak(self, ch):
        """(month YYYYMM, W, quarter start) of channel ch's (a meter id: str) latest measured
        quarter-hour peak, or None (before the first quarter read since boot too): read without
        loading anything."""
        s = self.qh.get(ch) if self.qh else None
        return (s[QH_MONTH], s[QH_W], s[QH_PEAK]) if s is not None and s[QH_MONTH] else None

    def get(self, ch):
        """Billing view of channel ch (None if unknown):
        {"channel", "first_init", "current": {"ts", "import_wh", "export_wh"} | None,
         "current_month": {"month", "import_wh", "export_wh"} (consumption so far),
         "months": [{"month": "YYYY-MM", "ts", "import_wh", "export_wh",
                     "import_consumption_wh", "export_consumption_wh"}, ...]  newest first, <= 11}
        Consumption = reading - previous month's reading (or the reading at first init)."""
        ch = str(ch)
        st = self._ch.get(ch)
        if st is None:
            return None
        me = self._months(ch) if st["last"] else []
        base = st["base"]
        out = {"channel": ch, "first_init": st["init"], "current": None, "current_month": None}
        cur = st["cur"]
        prev = me[0] if me else None
        if cur is not None:
            out["current"] = {"ts": cur[0], "import_wh": cur[1], "export_wh": cur[2]}
            ref = (prev[2], prev[3]) if prev else ((base[1], base[2]) if base else (None, None))
            out["current_month"] = {
                "month": self.zone.month_key(cur[0]),
                "import_wh": _sub(cur[1], ref[0]),
                "export_wh": _sub(cur[2], ref[1]),
            }
        months = []
        for i in range(min(len(me), SHOW_MONTHS)):
            e = me[i]
            if i + 1 < len(me):
                p = (me[i + 1][2], me[i + 1][3])
            elif base is not None and base[0] <= e[1]:
                p = (base[1], base[2])
            else:
                p = (None, None)
            months.append(
                {
                    "month": e[0],
                    "ts": e[1],
                    "import_wh": e[2],
                    "export_wh": e[3],
                    "import_consumption_wh": _sub(e[2], p[0]),
                    "export_consumption_wh": _sub(e[3], p[1]),
                }
            )
        out["months"] = months
        return out

    @staticmethod
    def _recorded(st):
        """The time of a channel's last read or reset: a reset or an end is never before it."""
        return max(st["init"] or 0, st["cur"][0] if st["cur"] else 0)

    def _close_running(self, ch, st, reset=None):
        """Queue the closing of the channel's running month at its last read (a statement
        part, marked with the time of a tenant ``reset``)."""
        cur = st["cur"]
        if cur is not None:
            e = ("c", ch, self.zone.month_key(cur[0]), self._month_start(st), list(cur))
            self.queue.append(e if reset is None else e + (int(reset),))

    def end(self, ch, now=None):
        """Channel ch's meter is deleted: its running month's statement closes at its last read
        (final), nothing more is read on it, and its files go KEEP_ENDED_S after ``now`` (by
        default, and at the earliest, its last read or reset)."""
        ch = str(ch)
        st = self._ch.get(ch)
        if st is None or st.get("end"):
            return
        self._close_running(ch, st)
        last = self._recorded(st)
        st["end"] = last if now is None else max(int(now), last)
        self._save_channel(ch, self._months(ch))
        self.flush()

    def ended(self, ch):
        """When channel ch's meter was deleted (epoch s), None while it is billed."""
        st = self._ch.get(str(ch))
        return st.get("end") if st else None

    def kept_until(self, ch):
        """When an ended channel's billing is dropped (epoch s), None while it is billed."""
        end = self.ended(ch)
        return end + KEEP_ENDED_S if end else None

    def end_others(self, meter_ids):
        """End the channels of no meter in ``meter_ids``, at their last read: meters deleted by
        a firmware that left their billing open (once; an ended channel is skipped)."""
        for ch in self.channels():
            if ch not in meter_ids and not self._ch[ch].get("end"):
                self.end(ch)

    def prune(self, now):
        """Drop the billing (every file) of the channels ended over KEEP_ENDED_S before
        ``now``; returns their ids."""
        old = [ch for ch in self._ch if (self.kept_until(ch) or now) < now]
        if not old:
            return old
        from gateway.core import ondemand

        for ch in old:
            del self._ch[ch]
            try:
                os.remove(self._path(ch))
            except OSError:
                pass
            ondemand.call("gateway.core.statement", "forget", self, ch)
            ondemand.call("gateway.core.demand", "forget", self, ch)
        self._dirty = True  # current.json without them
        return old

    def reset(self, ch, now, confirm=False):
        """New tenant on channel ch: forget its month-ends, record ``now`` as first init and the
        current reading as the starting point. Cannot be undone: needs confirm=True."""
        if confirm is not True:
            raise ValidationError("confirm", "a billing reset cannot be undone: confirm it", "required")
        ch = str(ch)
        st = self._ch.get(ch)
        if st is None:
            st = {"init": None, "base": None, "cur": None, "last": None}
            self._ch[ch] = st
        now = max(int(now), self._recorded(st))  # the clock may have been set back
        self._close_running(ch, st, now)  # the outgoing tenant's statement
        st["init"] = now
        st["base"] = st["cur"]
        self._save_channel(ch, [])
        self.flush()
        from gateway.core import ondemand

        ondemand.call("gateway.core.demand", "forget", self, ch)  # the new tenant's peaks
        return self.get(ch)
