"""Generator (genset) start/stop controller: battery state of charge -> a dry-contact start relay.

Pure and deterministic: no hardware, no clock of its own. Every ``update()`` gets ``now`` (epoch
seconds); quiet hours need the local time, given per call (``local_minutes``, minutes since local
midnight) or by a ``local_time(now) -> minutes`` callable passed to the constructor (without either,
UTC is used). The caller reads the meters, calls ``update()`` about once a second, drives the relay
with the returned bool, logs ``drain_events()`` and saves ``persisted()`` when ``version`` changes.
The configuration and its validation are in gateway.core.genset_config (loaded on demand).

Behaviour
---------
States: stopped -> warmup -> running -> cooldown -> stopped; plus "retry" (a start got no
running feedback: relay open, waiting retry_pause_s before the next attempt) and "error".
The relay is closed in warmup, running and cooldown, open otherwise.

* Conditions (SOC, voltage) are latches with hysteresis: a condition becomes active once its
  value has been <= start for start_delay_s and inactive once it has been >= stop for stop_delay_s.
  In auto the generator should run while any enabled condition is active.
* Warm-up: the relay closes at start and the state is "warmup" for warmup_s (and, with feedback,
  until the running feedback is seen); the gateway does not switch the load itself, the state is
  published for whoever does. Cool-down: after a stop decision taken in "running" the relay stays
  closed for cooldown_s (the set runs unloaded), then opens. A stop decided during warm-up opens
  the relay at once (the set never carried load). If the run is wanted again during cool-down,
  the state returns to "running" without a new start.
* min_run_s counts from the relay closing; it holds back every stop except mode "off", errors
  and a lost feedback. max_run_s stops any run (auto or manual); the cool-down then ends no later
  than start + max_run_s + cooldown_s even when updates are late. After max run the normal rules
  apply again (a still active condition restarts it after min_rest_s).
* min_rest_s separates every relay opening (stop, failed start, reboot) from the next start;
  only feedback retries use retry_pause_s instead.
* Mode "off" always stops at once, ignoring min_run_s, but goes through the cool-down when the
  set was running (a second "off" does not shorten it; use the set's own emergency stop).
* Mode "on" (manual run) starts (respecting min_rest_s) and ignores quiet hours and conditions.
  It ends after manual_run_s (at least min_run_s) or when max_run_s stops it: the mode then
  returns to the mode it had before "on" (or "off"), visible as ``config_version`` changing.
* Source loss (SOC source offline, no value, or older than source_max_age_s), in auto:
  "stop" stops (after min run) and does not start; "start" runs; "keep" keeps the current state.
  The SOC latch is frozen meanwhile and resumes when the source is back. Missing voltage makes
  the voltage condition inactive.
* Feedback: a start that sees no running feedback within timeout_s is retried ``retries`` times,
  then the state is "error" (relay open, event). Feedback lost for timeout_s while running is an
  error too. An error is kept across reboots and cleared by a mode change or ``clear_error()``.
* Reboot: the relay starts open; persisted state holds run seconds, starts, last start/stop with
  reasons, the running flag, error and the manual-run timer. A run that was going on at reboot is
  counted as stopped at the first update after it, so min_rest_s is measured from then; a stored
  stop time later than the clock (clock not set yet) is clamped to the first update.
* Clock steps backwards or larger than a day (the clock being set by NTP after boot) shift the
  internal timers instead of being counted as elapsed (run) time.
* Run hours count the time the relay is closed (warm-up and cool-down included); ``starts``
  counts starts, not feedback retries.
* Service reminder (service_interval_h > 0): once the run hours since the last recorded service
  reach the interval, the status says "service_due" and one "gs.service_due" event is logged;
  ``service_done()`` records a service at the current run hours (kept across reboots).

API
---
GensetController(config=None, persisted_state=None, local_time=None)
  .update(now, soc=None, soc_ts=None, source_ok=True, voltage=None, feedback=None,
          local_minutes=None, voltage_ts=None) -> bool   the relay command (True = run/closed)
  .status(now=None) -> dict   mode, relay, running_since, reason, state, run_hours, starts,
                              last_start(_reason), last_stop(_reason), error, soc, battery_v,
                              source_lost, quiet, manual_until, next_start_in_s,
                              service_due_in_h (None without an interval), service_due
  .set_config(cfg) -> dict    validated (partial) config applied; .config the current one
  .persisted() -> dict        to save; .version changes when it needs saving (run time aside)
  .config_version             changes when the controller changed the mode (manual run end)
  .drain_events() -> [(type, code, params)]   event-log types: "genset" (codes "gs.start",
                                      "gs.retry", "gs.stop", "gs.state", "gs.error",
                                      "gs.failed", "gs.manual_end", ... of
                                      gateway.core.event_codes) and "config" (stored config
                                      rejected: "gs.bad_config")
  .clear_error()
  .service_done()             a service done now: the next is due service_interval_h from here
"""
from gateway.core import ondemand
from gateway.core.errors import ValidationError

STOPPED = "stopped"
WARMUP = "warmup"
RUNNING = "running"
COOLDOWN = "cooldown"
RETRY = "retry"
ERROR = "error"
CLOSED_STATES = (WARMUP, RUNNING, COOLDOWN)

JUMP_S = 86400  # a clock step larger than this (or backwards) is a clock change, not elapsed time
MAX_EVENTS = 20
CONFIG = "gateway.core.genset_config"


def _fmt(v):
    """A number for a reason text: at most one decimal, no trailing ".0"."""
    try:
        r = round(float(v), 1)
    except (TypeError, ValueError):
        return str(v)
    if r == int(r):
        return "%d" % int(r)
    return "%.1f" % r


def _validate(cfg, current):
    return ondemand.call(CONFIG, "validate_genset", cfg, current)


def _minutes(hhmm):
    """A validated "HH:MM" -> minutes since midnight."""
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _in_window(minutes, start, end):
    """Is ``minutes`` inside [start, end) of a day; the window may cross midnight."""
    if start < end:
        return start <= minutes < end
    return minutes >= start or minutes < end


# ---------------------------------------------------------------------------- conditions


class _Cond:
    """A start/stop condition with hysteresis and delays (a latch)."""

    def __init__(self, label, unit):
        self.label = label
        self.unit = unit
        self.reset()

    def reset(self):
        self.active = False
        self.since = None
        self.value = None
        self.text = ""

    def hold(self, text):
        """No value: keep the latch, restart the delays."""
        self.since = None
        self.value = None
        self.text = text

    def step(self, now, v, start, stop, d_start, d_stop):
        self.value = v
        u = self.unit
        cur = "%s %s %s" % (self.label, _fmt(v), u)
        if not self.active:
            lim, d, hit, op = start, d_start, v <= start, "≤"
        else:
            lim, d, hit, op = stop, d_stop, v >= stop, "≥"
        if not hit:
            self.since = None
            if self.active and v <= start:
                self.text = "%s ≤ %s %s" % (cur, _fmt(start), u)
            elif not self.active and v >= stop:
                self.text = "%s ≥ %s %s" % (cur, _fmt(stop), u)
            else:
                self.text = "%s %s %s %s" % (cur, "<" if self.active else ">", _fmt(lim), u)
            return
        if self.since is None:
            self.since = now
        held = now - self.since
        if held >= d:
            self.active = not self.active
            self.since = None
            self.text = "%s %s %s %s" % (cur, op, _fmt(lim), u)
        else:
            self.text = "%s %s %s %s for %d/%d s" % (cur, op, _fmt(lim), u, int(held), d)


# ---------------------------------------------------------------------------- controller


def _int_or_none(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return int(v)


def _str_or(v, default):
    return v if isinstance(v, str) else default


class GensetController:
    """The generator start/stop logic. See the module docstring."""

    def __init__(self, config=None, persisted_state=None, local_time=None):
        self._events = []
        try:
            self._cfg = _validate(config or {}, None)
        except ValidationError as e:
            self._cfg = _validate({}, None)
            self._emit("config", "gs.bad_config", {"field": e.field, "error": e.message})
        self._parse()
        self._local_time = local_time
        p = persisted_state if isinstance(persisted_state, dict) else {}
        self._run_s = float(_int_or_none(p.get("run_s")) or 0)
        self._starts = _int_or_none(p.get("starts")) or 0
        self._service_at = float(_int_or_none(p.get("service_at_s")) or 0)  # run_s then
        self._service_told = self._service_left() == 0  # due before this boot: told then
        self._last_start = _int_or_none(p.get("last_start"))
        self._last_start_reason = _str_or(p.get("last_start_reason"), "")
        self._last_stop = _int_or_none(p.get("last_stop"))
        self._last_stop_reason = _str_or(p.get("last_stop_reason"), "")
        self._was_running = _int_or_none(p.get("running_since")) is not None
        err = p.get("error")
        self._error = err if isinstance(err, str) and err else None
        self._manual_until = _int_or_none(p.get("manual_until"))
        mp = p.get("manual_prev")
        self._manual_prev = mp if mp in ("auto", "off") else None

        self._state = ERROR if self._error else STOPPED
        self._relay = False
        self._t_close = None  # relay close time of the current attempt
        self._t_state = None  # time the current state began
        self._t_off = self._last_stop  # last relay opening: min rest counts from here
        self._cool_end = None
        self._stop_why = ""
        self._attempts = 0  # failed start attempts of the current start
        self._retry_at = None
        self._fb_ok = False
        self._fb_now = False
        self._fb_false_since = None
        self._soc = _Cond("SOC", "%")
        self._volt = _Cond("battery", "V")
        self._lost = None  # text when the SOC source is lost
        self._quiet = False
        self._last_now = None
        self._mode_seen = None
        self._reason = "not evaluated yet"
        self.version = 0  # bumped whenever persisted() changes other than run time
        self.config_version = 0  # bumped when the controller changes the mode itself

    # -- configuration

    @property
    def config(self):
        return self._cfg

    def set_config(self, cfg):
        """Validate (partial) ``cfg`` against the current config and apply it; returns it."""
        new = _validate(cfg, self._cfg)
        old = self._cfg
        self._cfg = new
        self._parse()
        if new["soc_source"] != old["soc_source"]:
            self._soc.reset()
        nv, ov = new["voltage"], old["voltage"]
        if not nv["enabled"] or nv["meter"] != ov["meter"] or nv["quantity"] != ov["quantity"]:
            self._volt.reset()
        return new

    def clear_error(self):
        if self._state == ERROR:
            self._clear_error("gs.cleared", {})

    def service_done(self):
        self._service_at = self._run_s
        self._service_told = False
        self.version += 1

    def _service_left(self):
        """Run seconds left before the next service (0 when due), None without an interval."""
        h = self._cfg["service_interval_h"]
        if not h:
            return None
        return max(0.0, h * 3600 - (self._run_s - self._service_at))

    def _parse(self):
        q = self._cfg["quiet_hours"]
        self._q_start = _minutes(q["start"])
        self._q_end = _minutes(q["end"])

    # -- events and persistence

    def _emit(self, typ, code, params):
        self._events.append((typ, code, params))
        if len(self._events) > MAX_EVENTS:
            self._events.pop(0)

    def drain_events(self):
        """The (type, code, params) events since the last call, oldest first (codes of
        gateway.core.event_codes)."""
        ev = self._events
        self._events = []
        return ev

    def persisted(self):
        return {
            "v": 1,
            "run_s": int(self._run_s),
            "starts": self._starts,
            "service_at_s": int(self._service_at),
            "last_start": self._last_start,
            "last_start_reason": self._last_start_reason,
            "last_stop": self._last_stop,
            "last_stop_reason": self._last_stop_reason,
            "running_since": _int_or_none(self._t_close) if self._relay else None,
            "error": self._error,
            "manual_until": _int_or_none(self._manual_until),
            "manual_prev": self._manual_prev,
        }

    def status(self, now=None):
        if now is None:
            now = self._last_now
        service = self._service_left()
        left = 0
        if now is not None and self._state == STOPPED:
            left = self._rest_left(now)
        if now is not None and self._state == RETRY and self._retry_at is not None:
            left = max(0, self._retry_at - now)
        return {
            "mode": self._cfg["mode"],
            "relay": self._relay,
            "running_since": _int_or_none(self._t_close) if self._relay else None,
            "reason": self._reason,
            "state": self._state,
            "run_hours": round(self._run_s / 3600.0, 2),
            "run_s": int(self._run_s),
            "starts": self._starts,
            "last_start": self._last_start,
            "last_start_reason": self._last_start_reason,
            "last_stop": self._last_stop,
            "last_stop_reason": self._last_stop_reason,
            "error": self._error,
            "soc": self._soc.value,
            "battery_v": self._volt.value,
            "source_lost": self._lost is not None,
            "quiet": self._quiet,
            "manual_until": _int_or_none(self._manual_until),
            "next_start_in_s": int(left + 0.999),
            "service_due_in_h": None if service is None else round(service / 3600.0, 1),
            "service_due": service == 0,
        }

    # -- the decision

    def update(self, now, soc=None, soc_ts=None, source_ok=True, voltage=None, feedback=None,
               local_minutes=None, voltage_ts=None):
        """Decide with the fresh inputs at ``now``; returns the relay command (True = closed).

        soc/soc_ts/source_ok: the SOC value, its sample time (None = now) and whether its meter
        is online. voltage/voltage_ts: battery voltage (None = unavailable). feedback: the
        "generator running" input (None = unknown). local_minutes: minutes since local midnight.
        """
        self._clock(now)
        if self._cfg["mode"] != self._mode_seen:
            self._mode_changed(now, self._cfg["mode"])
        self._quiet = self._in_quiet(now, local_minutes)
        self._eval_soc(now, soc, soc_ts, source_ok)
        self._eval_volt(now, voltage, voltage_ts)
        self._fb_now = feedback is True
        self._check_feedback(now, feedback)
        if self._state == ERROR:
            self._reason = "error: %s" % self._error
            return self._relay
        want, why, force, t_dec = self._decide(now)
        self._step(now, want, why, force, t_dec)
        return self._relay

    def _clock(self, now):
        last = self._last_now
        if last is None:
            if self._was_running:
                self._was_running = False
                self._last_stop = int(now)
                self._last_stop_reason = "reboot while running"
                self._t_off = now
                self.version += 1
                self._emit("genset", "gs.reboot", {})
            if self._t_off is not None and self._t_off > now:
                self._t_off = now  # stored stop is "in the future": the clock is not set yet
            if self._cfg["mode"] != "on" and self._manual_until is not None:
                self._manual_until = None
                self.version += 1
        else:
            dt = now - last
            if dt < 0 or dt > JUMP_S:
                self._shift(dt)
            elif self._relay:
                self._run_s += dt
                if not self._service_told and self._service_left() == 0:
                    self._service_told = True
                    self._emit("genset", "gs.service_due", {"h": self._cfg["service_interval_h"]})
        self._last_now = now

    def _shift(self, d):
        for name in ("_t_close", "_t_state", "_t_off", "_cool_end", "_retry_at", "_manual_until",
                     "_fb_false_since"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, v + d)
        for c in (self._soc, self._volt):
            if c.since is not None:
                c.since += d
        if self._relay and self._last_start is not None:
            self._last_start = int(self._last_start + d)

    def _mode_changed(self, now, mode):
        prev = self._mode_seen
        self._mode_seen = mode
        if prev is None:
            return
        if self._state == ERROR:
            self._clear_error("gs.cleared_by", {"mode": mode})
        if mode == "on":
            self._manual_prev = prev
            self._manual_until = None
            if self._relay and self._cfg["manual_run_s"]:
                self._manual_until = now + self._cfg["manual_run_s"]
        else:
            self._manual_until = None
            self._manual_prev = None
        self.version += 1

    def _clear_error(self, code, params):
        self._error = None
        self._state = STOPPED
        self._attempts = 0
        self.version += 1
        self._emit("genset", code, params)

    def _end_manual(self, why):
        prev = self._manual_prev if self._manual_prev in ("auto", "off") else "off"
        cfg = dict(self._cfg)
        cfg["mode"] = prev
        self._cfg = cfg
        self._mode_seen = prev
        self._manual_until = None
        self._manual_prev = None
        self.version += 1
        self.config_version += 1
        self._emit("genset", "gs.manual_end", {"why": why, "mode": prev})

    def _in_quiet(self, now, local_minutes):
        if not self._cfg["quiet_hours"]["enabled"]:
            return False
        m = local_minutes
        if m is None:
            m = self._local_time(now) if self._local_time else (int(now) // 60) % 1440
        return _in_window(int(m) % 1440, self._q_start, self._q_end)

    def _thresholds(self, lo_key, hi_key, q_lo, q_hi, base):
        lo, hi = base[lo_key], base[hi_key]
        if self._quiet:
            q = self._cfg["quiet_hours"]
            if q[q_lo] is not None:
                lo = q[q_lo]
            if q[q_hi] is not None:
                hi = q[q_hi]
        return lo, hi

    def _eval_soc(self, now, soc, soc_ts, source_ok):
        c = self._cfg
        self._lost = None
        if c["soc_source"] is None:
            self._soc.reset()
            return
        lost = None
        if not source_ok:
            lost = "source lost"
        elif isinstance(soc, bool) or not isinstance(soc, (int, float)) or soc != soc:
            lost = "source lost (no SOC value)"
        else:
            age = now - (soc_ts if soc_ts is not None else now)
            if age > c["source_max_age_s"]:
                lost = "source stale (%d s)" % int(age)
        if lost:
            self._lost = lost
            self._soc.hold(lost)
            return
        lo, hi = self._thresholds("start_soc", "stop_soc", "start_soc", "stop_soc", c)
        self._soc.step(now, soc, lo, hi, c["start_delay_s"], c["stop_delay_s"])

    def _eval_volt(self, now, voltage, voltage_ts):
        v = self._cfg["voltage"]
        if not v["enabled"]:
            self._volt.reset()
            return
        bad = isinstance(voltage, bool) or not isinstance(voltage, (int, float)) or voltage != voltage
        if not bad and voltage_ts is not None and now - voltage_ts > self._cfg["source_max_age_s"]:
            bad = True
        if bad:
            self._volt.reset()
            self._volt.text = "battery voltage unavailable"
            return
        lo, hi = self._thresholds("start_v", "stop_v", "start_v", "stop_v", v)
        self._volt.step(now, voltage, lo, hi, v["start_delay_s"], v["stop_delay_s"])

    def _check_feedback(self, now, feedback):
        fb = self._cfg["feedback"]
        if not fb["enabled"] or self._state not in CLOSED_STATES:
            return
        if feedback is True:
            if not self._fb_ok:
                self._attempts = 0
            self._fb_ok = True
            self._fb_false_since = None
            return
        if not self._fb_ok:
            if self._state == WARMUP and now - self._t_close >= fb["timeout_s"]:
                self._attempts += 1
                why = "no running feedback after %d s" % fb["timeout_s"]
                if self._attempts <= fb["retries"]:
                    self._emit("genset", "gs.failed", {"n": self._attempts, "why": why})
                    self._open(now, why, RETRY)
                    self._retry_at = now + fb["retry_pause_s"]
                else:
                    self._error = "no running feedback after %d start attempts" % self._attempts
                    self._open(now, why, ERROR)
                    self._emit("genset", "gs.error", {"error": self._error})
            return
        if feedback is False:
            if self._fb_false_since is None:
                self._fb_false_since = now
            if now - self._fb_false_since >= fb["timeout_s"]:
                if self._state == COOLDOWN:
                    self._open(now, "generator stopped during cool-down", STOPPED)
                else:
                    self._error = "generator stopped by itself (running feedback lost)"
                    self._open(now, "running feedback lost", ERROR)
                    self._emit("genset", "gs.error", {"error": self._error})

    def _decide(self, now):
        """-> (want_run, reason, forced_stop, decision_time)."""
        c = self._cfg
        mode = c["mode"]
        mx = c["max_run_s"]
        if self._relay and mx and now - self._t_close >= mx:
            why = "max run %d s reached" % mx
            if mode == "on":
                self._end_manual(why)
            return False, why, False, self._t_close + mx
        if mode == "on" and self._manual_until is not None:
            end = self._manual_until
            if self._relay:
                end = max(end, self._t_close + c["min_run_s"])
            if now >= end:
                self._end_manual("%d s done" % c["manual_run_s"])
                c = self._cfg
                mode = c["mode"]
        if mode == "on":
            if self._manual_until is None and c["manual_run_s"] and not self._relay:
                return True, "manual run (%d s)" % c["manual_run_s"], False, now
            if self._manual_until is not None:
                return True, "manual run, %d s left" % int(max(0, self._manual_until - now)), False, now
            return True, "manual run", False, now
        if mode == "off":
            return False, "mode off", True, now
        # auto
        closed = self._state in CLOSED_STATES
        going = self._state in (WARMUP, RUNNING, RETRY)
        volt = c["voltage"]["enabled"]
        if self._lost is not None:
            pol = c["on_source_loss"]
            why = "%s → %s" % (self._lost, pol)
            if pol == "stop":
                want = False
            elif pol == "start":
                want = True
            else:
                want = going or (volt and self._volt.active)
        else:
            conds = []
            if c["soc_source"] is not None:
                conds.append(self._soc)
            if volt:
                conds.append(self._volt)
            if not conds:
                return False, "no SOC source or voltage condition configured", False, now
            want = False
            for x in conds:
                want = want or x.active
            why = "; ".join([x.text for x in conds if x.active or not want])
        if self._quiet:
            q = c["quiet_hours"]
            if q["stop_running"] and want and closed:
                want, why = False, "quiet hours → stop"
            elif q["no_start"] and want and not closed:
                want, why = False, why + "; quiet hours: no start"
        return want, why, False, now

    def _rest_left(self, now):
        if self._t_off is None:
            return 0
        return max(0, self._t_off + self._cfg["min_rest_s"] - now)

    def _step(self, now, want, why, force, t_dec):
        c = self._cfg
        st = self._state
        if st == RETRY:
            if not want:
                self._set_state(now, STOPPED, "start retry cancelled: " + why)
                self._attempts = 0
                self._reason = why
                return
            if now < self._retry_at:
                self._reason = "%s; start retry %d/%d in %d s" % (
                    why, self._attempts, c["feedback"]["retries"], int(self._retry_at - now + 0.999))
                return
            self._close(now, why, False)
        elif st == STOPPED:
            if not want:
                self._reason = why
                return
            left = self._rest_left(now)
            if left > 0:
                self._reason = "%s; min rest %d s not reached (%d s left)" % (
                    why, c["min_rest_s"], int(left + 0.999))
                return
            self._close(now, why, True)
        st = self._state
        if st in (WARMUP, RUNNING):
            if want:
                if st == WARMUP:
                    wu = c["warmup_s"]
                    el = now - self._t_state
                    if el < wu:
                        self._reason = "warm-up %d/%d s; %s" % (int(el), wu, why)
                        return
                    if c["feedback"]["enabled"] and not self._fb_ok:
                        self._reason = "waiting for running feedback (%d/%d s); %s" % (
                            int(now - self._t_close), c["feedback"]["timeout_s"], why)
                        return
                    if now == self._t_close:  # no warm-up: no event for a zero-length state
                        self._state = RUNNING
                    else:
                        self._set_state(now, RUNNING, "warm-up done")
                self._reason = why
                return
            ran = now - self._t_close
            if not force and ran < c["min_run_s"]:
                self._reason = "%s; min run %d s not reached (%d s left)" % (
                    why, c["min_run_s"], int(c["min_run_s"] - ran + 0.999))
                return
            if st == WARMUP or not c["cooldown_s"]:
                self._open(now, why, STOPPED)
                self._reason = why
                return
            self._stop_why = why
            self._cool_end = min(t_dec, now) + c["cooldown_s"]
            self._set_state(now, COOLDOWN, why)
            st = COOLDOWN
        if st == COOLDOWN:
            if want:
                self._cool_end = None
                self._set_state(now, RUNNING, "run wanted again: " + why)
                self._reason = why
                return
            if now >= self._cool_end:
                self._open(now, self._stop_why, STOPPED)
                self._reason = self._stop_why
                return
            self._reason = "cool-down, %d s left; %s" % (int(self._cool_end - now + 0.999),
                                                         self._stop_why)

    def _set_state(self, now, state, why):
        self._emit("genset", "gs.state", {"from": self._state, "to": state, "why": why})
        self._state = state
        self._t_state = now

    def _close(self, now, why, first):
        c = self._cfg
        self._relay = True
        self._t_close = now
        self._t_state = now
        self._fb_ok = self._fb_now  # already running (started by hand) counts as confirmed
        self._fb_false_since = None
        self._state = WARMUP
        self._last_start = int(now)
        self._last_start_reason = why
        if first:
            self._starts += 1
            self._attempts = 0
            self._emit("genset", "gs.start", {"why": why})
            if c["mode"] == "on" and self._manual_until is None and c["manual_run_s"]:
                self._manual_until = now + c["manual_run_s"]
        else:
            self._emit("genset", "gs.retry", {"n": self._attempts, "of": c["feedback"]["retries"],
                                              "why": why})
        self.version += 1

    def _open(self, now, why, state):
        ran = now - self._t_close if self._t_close is not None else 0
        self._relay = False
        self._t_off = now
        self._last_stop = int(now)
        self._last_stop_reason = why
        self._t_close = None
        self._cool_end = None
        self._emit("genset", "gs.stop", {"s": int(ran), "why": why})
        self._state = state
        self._t_state = now
        self.version += 1
