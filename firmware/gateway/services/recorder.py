"""Recorder service: samples the latest readings into RAM, flushes them to the flash ring in
batches, takes the hourly billing reads.

    rec = Recorder(ring, poller.readings, settings=lambda: cfg["settings"], billing=billing)
    tasks.spawn("recorder", rec.run)
    ...
    rec.flush()          # before a reboot
    await rec.flushed.wait(); rec.flushed.clear()   # MQTT uplink: new samples on flash

Every ``sample_interval_s`` (ticks aligned to multiples of the interval, UTC) the latest reading
of each meter whose status is "ok" and whose reading is not older than the interval becomes a
sample stamped with the tick time. Samples wait in RAM (at most ``max_pending``) and are written
in one append at most every ``flush_interval_s`` seconds, when the buffer is full, at the hourly
billing read and on flush(). Billing reads happen at hh:02 local time (billing.next_billing_read)
and are persisted at once. Time comes from ``clock`` (epoch seconds); while the clock is not set
(before 2020) or after it went backwards, nothing is recorded.
"""

import asyncio

from gateway.core import records as R
from gateway.core.billing import next_billing_read

QUARTER = 900  # the quarter-hour demand reads (gateway.core.demand)
MAX_PENDING = 512  # samples in RAM between writes (a board file's recorder_pending)
CLOCK_VALID = 1577836800  # 2020-01-01: earlier means the RTC was not set yet
BILLED = ("import_kwh", "gas_m3", "water_m3")  # the counter a meter is billed on, first found


async def _sleep(s):
    await asyncio.sleep(s)


class Recorder:
    def __init__(
        self,
        ring,
        readings,
        settings=None,
        billing=None,
        clock=None,
        quantities=None,
        max_pending=MAX_PENDING,
        on_flush=None,
        log=None,
        sleep=None,
    ):
        """ring: core.ring.Ring; readings: callable -> {meter_id: {"status", "ts", "values"}};
        settings: dict or callable -> dict with sample_interval_s, flush_interval_s, timezone;
        billing: core.billing.Billing or None; clock: callable -> epoch s (default time.time);
        quantities: names to record (None = every numeric value of the readings);
        on_flush(last_id): called after samples were written; log(type, code, params): event sink
        (gateway.core.event_codes)."""
        if clock is None:
            from gateway.core.ticks import unix_time

            clock = unix_time
        self.ring = ring
        self.readings = readings
        self._settings = settings
        self.billing = billing
        self.clock = clock
        self.quantities = quantities
        self.max_pending = max_pending
        self.on_flush = on_flush
        self.log = log
        self.sleep = sleep or _sleep
        self.flushed = asyncio.Event()
        self.pending = []
        self.last_tick = None  # ts of the newest recorded tick
        self.last_flush = None  # clock time of the last flush attempt
        self.next_billing = None
        self.last_quarter = None
        self.last_id = None
        self.dropped = 0  # samples lost because the flash kept failing and RAM was full
        self.loops = 0  # turns of run(): the supervisor's heartbeat (gateway.services.tasks)
        self.flush_errors = 0
        self.samples_taken = 0
        self._running = False
        self._clock_back = False
        if ring.last_ts is not None:
            self.last_tick = ring.last_ts

    # ---- settings --------------------------------------------------------------------

    def settings(self):
        s = self._settings() if callable(self._settings) else self._settings
        return s or {}

    def _interval(self):
        return max(5, int(self.settings().get("sample_interval_s", 600)))

    def _flush_interval(self):
        return max(1, int(self.settings().get("flush_interval_s", 60)))

    def _zone(self):
        return self.settings().get("timezone")

    def _event(self, type, code, params):
        if self.log is not None:
            try:
                self.log(type, code, params)
            except Exception:  # the log must never stop the recorder
                pass

    # ---- actions ---------------------------------------------------------------------

    def _fresh(self, reading, now, max_age):
        if not isinstance(reading, dict) or reading.get("status") not in ("ok", "partial"):
            return None
        ts = reading.get("ts")
        if not isinstance(ts, (int, float)) or now - ts > max_age:
            return None
        vals = reading.get("values")
        return vals if hasattr(vals, "get") else None  # a dict or a core.values.Values

    def sample(self, now):
        """Take the sample of the tick at or before ``now`` (if not taken yet); returns the
        number of samples buffered."""
        interval = self._interval()
        tick = int(now) - int(now) % interval
        if now < CLOCK_VALID or (self.last_tick is not None and tick <= self.last_tick):
            return 0
        self.last_tick = tick
        n = 0
        rd = self.readings() or {}
        for mid in sorted(rd, key=str):
            vals = self._fresh(rd[mid], now, interval + 60)
            if vals is None:
                continue
            s = R.sample(tick, mid, vals, self.quantities)
            if s[2]:
                self.pending.append(s)
                n += 1
        self.samples_taken += n
        if len(self.pending) >= self.max_pending:
            self.flush(now)
        return n

    def flush(self, now=None):
        """Write the buffered samples to the ring now (one write). Returns the number of samples
        written; on a flash error they stay buffered (bounded) and 0 is returned."""
        if now is None:
            now = self.clock()
        self.last_flush = now
        if not self.pending:
            return 0
        batch = self.pending
        try:
            self.last_id = self.ring.append(batch)
        except OSError as e:
            self.flush_errors += 1
            self._event("system", "rec.failed", {"error": repr(e)})
            over = len(self.pending) - 4 * self.max_pending
            if over > 0:
                del self.pending[:over]
                self.dropped += over
            return 0
        self.pending = []
        self.flushed.set()
        if self.on_flush is not None:
            self.on_flush(self.last_id)
        return len(batch)

    def billing_read(self, when, now=None):
        """The hourly billing read stamped ``when`` (or ``now`` if more than 5 min late): the
        current counters of every fresh meter, persisted at once; pending samples are flushed
        too (only when billing is configured)."""
        if now is None:
            now = self.clock()
        if self.billing is not None:
            if now - when > 300:  # woke up late: the read is stamped with its real time
                when = int(now)
            rd = self.readings() or {}
            cur = {}
            for mid in rd:
                vals = self._fresh(rd[mid], now, 900)
                if vals is None:
                    continue
                for q in BILLED:  # electricity (import, export), else a gas or water volume
                    if q in vals:
                        imp = R.fixed(q, vals.get(q))
                        exp = R.fixed("export_kwh", vals.get("export_kwh")) if q == "import_kwh" else None
                        if imp is not None:
                            cur[str(mid)] = (imp, exp) if q == "import_kwh" else (imp, None, q)
                        break
            try:
                closed = self.billing.read_all(when, cur)
                for mid in closed:
                    self._event("state", "bill.closed", {"meter": mid, "month": closed[mid][0]})
                for mid in self.billing.prune(when):  # deleted meters' past its keeping
                    self._event("state", "bill.dropped", {"meter": mid})
            except OSError as e:
                self._event("system", "bill.failed", {"error": repr(e)})
            self.flush(now)

    def quarter_read(self, q, now):
        """The read of quarter boundary ``q``: every fresh import index, with its reading's
        time, to the quarter-hour demand (monthly peaks, gateway.core.demand)."""
        rd = self.readings() or {}
        cur = {}
        for mid in rd:
            vals = self._fresh(rd[mid], now, 60)
            wh = R.fixed("import_kwh", vals.get("import_kwh")) if vals is not None else None
            if wh is not None:
                cur[str(mid)] = (rd[mid]["ts"], wh)
        try:
            from gateway.core import ondemand

            ondemand.call("gateway.core.demand", "read", self.billing, q, cur)
        except Exception as e:  # the peaks must never stop the recording
            self._event("system", "bill.failed", {"error": repr(e)})

    def step(self, now):
        """Do whatever is due at ``now``; returns the clock time of the next thing to do."""
        if now < CLOCK_VALID:
            return now + 5
        interval = self._interval()
        zone = self._zone()
        if self.next_billing is None or now - self.next_billing > 7200:
            self.next_billing = next_billing_read(now - 1, zone)
        back = self.last_tick is not None and now < self.last_tick - interval
        if back and not self._clock_back:
            self._event("system", "rec.clock_back", {})
        self._clock_back = back
        self.sample(now)
        q = int(now) - int(now) % QUARTER
        if self.billing is not None and q != self.last_quarter and now - q < 60:
            self.last_quarter = q
            self.quarter_read(q, now)
        if now >= self.next_billing:
            self.billing_read(self.next_billing, now)
            self.next_billing = next_billing_read(now, zone)
        fi = self._flush_interval()
        if self.pending and (self.last_flush is None or now - self.last_flush >= fi):
            self.flush(now)
        nxt = (int(now) // interval + 1) * interval
        if self.pending:
            nxt = min(nxt, (self.last_flush or now) + fi)
        return min(nxt, self.next_billing, q + QUARTER)

    async def run(self):
        """The service loop (never returns unless stop() is called)."""
        self._running = True
        try:
            while self._running:
                now = self.clock()
                wake = self.step(now)
                self.loops += 1
                delay = wake - self.clock()
                # wake at least every 5 s so a new sample interval takes effect at once
                await self.sleep(min(max(delay, 0.2), 5))
        finally:
            self._running = False

    def stop(self):
        self._running = False

    def close(self):
        """Flush everything to flash (before a reboot or power-down)."""
        self.flush()
        if self.billing is not None:
            try:
                self.billing.flush()
            except OSError:
                pass

    def stats(self):
        return {
            "pending": len(self.pending),
            "max_pending": self.max_pending,
            "last_tick": self.last_tick,
            "samples_taken": self.samples_taken,
            "flush_errors": self.flush_errors,
            "dropped": self.dropped,
            "next_billing": self.next_billing,
            "last_quarter": self.last_quarter,
        }
