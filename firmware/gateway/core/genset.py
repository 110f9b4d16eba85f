"""Generator (genset) start/stop controller: battery state of charge -> a dry-contact start relay.

Pure and deterministic: no hardware, no clock of its own. Every ``update()`` gets ``now`` (epoch
seconds); quiet hours need the local time, given per call (``local_minutes``, minutes since local
midnight) or by a ``local_time(now) -> minutes`` callable passed to the constructor (without either,
UTC is used). The caller reads the meters, calls ``update()`` about once a second, drives the relay
with the returned bool, logs ``drain_events()`` and saves ``persisted()`` when ``version`` changes.

Configuration (``validate_genset`` fills in defaults; nested objects may be given partially)
----------------------------------------------------------------------------------------------
Contract keys (CONTRACT.md section 3):
  mode            "auto" | "on" (manual run) | "off"                          default "off"
  soc_source      {"meter": id, "quantity": "soc_pct"} or null (no SOC)         default null
  start_soc       start when SOC <= this (0..100)                               default 30
  stop_soc        stop when SOC >= this (must be > start_soc)                   default 80
  min_run_s       a run lasts at least this (from relay close), except mode off  default 600
  min_rest_s      at least this between a relay opening and the next start     default 600
  max_run_s       a run is stopped after this; 0 = no limit, else >= min_run_s  default 28800
  warmup_s        state "warmup" for this long after the relay closes           default 30
  cooldown_s      after a stop decision the relay stays closed this long        default 60
  quiet_hours     {"start": "HH:MM", "end": "HH:MM"} (may cross midnight)       default disabled
  on_source_loss  "stop" | "start" | "keep" when the SOC source is offline/stale default "stop"
Extra keys:
  start_delay_s, stop_delay_s   SOC must stay past the threshold this long      default 0, 0
  source_max_age_s              SOC older than this is stale (= lost)           default 120
  manual_run_s                  duration of a manual run (mode "on"); 0 = until
                                the mode is changed (max_run_s still applies)   default 0
  voltage   second condition on battery voltage:
            {"enabled": false, "meter": null (= the soc_source meter), "quantity": "battery_v",
             "start_v": 46.0, "stop_v": 54.0, "start_delay_s": 60, "stop_delay_s": 60}
  quiet_hours full form:
            {"enabled": false, "start": "22:00", "end": "07:00",
             "start_soc": null, "stop_soc": null, "start_v": null, "stop_v": null,
             "no_start": false, "stop_running": false}
            null thresholds = the normal ones; "no_start": no automatic start inside the window;
            "stop_running": an automatic run is stopped when the window begins (min run
            respected). Giving quiet_hours as an object without "enabled" enables it; null
            disables it (the times are kept).
  feedback  optional "generator running" input:
            {"enabled": false, "timeout_s": 30, "retries": 2, "retry_pause_s": 30}

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

API
---
GensetController(config=None, persisted_state=None, local_time=None)
  .update(now, soc=None, soc_ts=None, source_ok=True, voltage=None, feedback=None,
          local_minutes=None, voltage_ts=None) -> bool   the relay command (True = run/closed)
  .status(now=None) -> dict   mode, relay, running_since, reason, state, run_hours, starts,
                              last_start(_reason), last_stop(_reason), error, soc, battery_v,
                              source_lost, quiet, manual_until, next_start_in_s
  .set_config(cfg) -> dict    validated (partial) config applied; .config the current one
  .persisted() -> dict        to save; .version changes when it needs saving (run time aside)
  .config_version             changes when the controller changed the mode (manual run end)
  .drain_events() -> [(type, text)]   event-log types: "genset" (texts "start: ...",
                                      "start retry n/N: ...", "stop after N s: ...",
                                      "<state> → <state>: ...", "error: ...",
                                      "start attempt n failed: ...", "manual run ended ...")
                                      and "config" (stored config rejected)
  .clear_error()
validate_genset(cfg, current=None) -> full normalized config, or ValidationError(field, msg)
"""
from gateway.core.errors import ValidationError

STOPPED = "stopped"
WARMUP = "warmup"
RUNNING = "running"
COOLDOWN = "cooldown"
RETRY = "retry"
ERROR = "error"
CLOSED_STATES = (WARMUP, RUNNING, COOLDOWN)

MODES = ("auto", "on", "off")
SOURCE_LOSS = ("stop", "start", "keep")

DAY_S = 86400
JUMP_S = DAY_S  # a clock step larger than this (or backwards) is a clock change, not elapsed time
MAX_EVENTS = 20

QUIET_DEFAULTS = {
    "enabled": False,
    "start": "22:00",
    "end": "07:00",
    "start_soc": None,
    "stop_soc": None,
    "start_v": None,
    "stop_v": None,
    "no_start": False,
    "stop_running": False,
}
VOLTAGE_DEFAULTS = {
    "enabled": False,
    "meter": None,
    "quantity": "battery_v",
    "start_v": 46.0,
    "stop_v": 54.0,
    "start_delay_s": 60,
    "stop_delay_s": 60,
}
FEEDBACK_DEFAULTS = {"enabled": False, "timeout_s": 30, "retries": 2, "retry_pause_s": 30}
SOURCE_DEFAULTS = {"meter": None, "quantity": "soc_pct"}

DEFAULTS = {
    "mode": "off",
    "soc_source": None,
    "start_soc": 30,
    "stop_soc": 80,
    "start_delay_s": 0,
    "stop_delay_s": 0,
    "min_run_s": 600,
    "min_rest_s": 600,
    "max_run_s": 28800,
    "warmup_s": 30,
    "cooldown_s": 60,
    "quiet_hours": QUIET_DEFAULTS,
    "on_source_loss": "stop",
    "source_max_age_s": 120,
    "manual_run_s": 0,
    "voltage": VOLTAGE_DEFAULTS,
    "feedback": FEEDBACK_DEFAULTS,
}
_SUB_DEFAULTS = {
    "soc_source": SOURCE_DEFAULTS,
    "quiet_hours": QUIET_DEFAULTS,
    "voltage": VOLTAGE_DEFAULTS,
    "feedback": FEEDBACK_DEFAULTS,
}
# Keys of status() that a client may send back unchanged in a PUT: ignored, not rejected.
STATUS_KEYS = (
    "relay", "running_since", "reason", "state", "run_hours", "run_s", "starts", "last_start",
    "last_stop", "last_start_reason", "last_stop_reason", "error", "soc", "battery_v",
    "source_lost", "quiet", "manual_until", "next_start_in_s", "contact",
)


# ---------------------------------------------------------------------------- validation


def _fmt(v):
    """A number for a reason text: at most one decimal, no trailing ".0"."""
    try:
        r = round(float(v), 1)
    except (TypeError, ValueError):
        return str(v)
    if r == int(r):
        return "%d" % int(r)
    return "%.1f" % r


def _number(field, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValidationError(field, "must be a number")
    if v != v or v < lo or v > hi:
        raise ValidationError(field, "must be between %s and %s" % (_fmt(lo), _fmt(hi)))
    return v


def _opt_number(field, v, lo, hi):
    return None if v is None else _number(field, v, lo, hi)


def _seconds(field, v, lo, hi):
    _number(field, v, lo, hi)
    if int(v) != v:
        raise ValidationError(field, "must be a whole number of seconds")
    return int(v)


def _int(field, v, lo, hi):
    _number(field, v, lo, hi)
    if int(v) != v:
        raise ValidationError(field, "must be a whole number")
    return int(v)


def _bool(field, v):
    if not isinstance(v, bool):
        raise ValidationError(field, "must be true or false")
    return v


def _choice(field, v, choices):
    if v not in choices:
        raise ValidationError(field, "must be one of %s" % ", ".join(choices))
    return v


def _name(field, v):
    if not isinstance(v, str) or not v or len(v) > 31:
        raise ValidationError(field, "must be a name of 1 to 31 characters")
    return v


def _meter_id(field, v, allow_none):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ValidationError(field, "must be a meter id")
    v = str(v)
    if not v or len(v) > 31:
        raise ValidationError(field, "must be a meter id")
    return v


def _hhmm(field, v):
    """"HH:MM" -> (normalized text, minutes since midnight)."""
    ok = isinstance(v, str)
    if ok:
        parts = v.split(":")
        ok = (len(parts) == 2 and 1 <= len(parts[0]) <= 2 and len(parts[1]) == 2
              and parts[0].isdigit() and parts[1].isdigit())
    if ok:
        h, m = int(parts[0]), int(parts[1])
        ok = h <= 23 and m <= 59
    if not ok:
        raise ValidationError(field, 'must be a time "HH:MM"')
    return "%02d:%02d" % (h, m), h * 60 + m


def _only(field, d, allowed):
    for k in d:
        if k not in allowed:
            raise ValidationError("%s.%s" % (field, k), "unknown key")


def _merge_sub(key, base, new):
    defaults = _SUB_DEFAULTS[key]
    if new is None:
        if key == "soc_source":
            return None
        out = dict(defaults)
        if isinstance(base, dict):
            out.update(base)
        out["enabled"] = False
        return out
    if not isinstance(new, dict):
        raise ValidationError(key, "must be an object or null")
    _only(key, new, defaults)
    out = dict(defaults)
    if isinstance(base, dict):
        out.update(base)
    out.update(new)
    if key == "quiet_hours" and "enabled" not in new:
        out["enabled"] = True
    return out


def validate_genset(cfg, current=None):
    """Check a (partial) genset config against ``current`` (or the defaults).

    Returns the normalized full config; raises ValidationError(field, message) on any bad key,
    field names like "start_soc" or "quiet_hours.start". Status keys are ignored.
    """
    if not isinstance(cfg, dict):
        raise ValidationError(None, "genset config must be an object")
    for k in cfg:
        if k not in DEFAULTS and k not in STATUS_KEYS:
            raise ValidationError(k, "unknown key")
    cur = current if isinstance(current, dict) else {}
    m = {}
    for k in DEFAULTS:
        v = cur.get(k, DEFAULTS[k])
        if k in _SUB_DEFAULTS:
            if k in cfg:
                v = _merge_sub(k, v, cfg[k])
            elif isinstance(v, dict):
                nv = dict(_SUB_DEFAULTS[k])
                nv.update(v)
                v = nv
        elif k in cfg:
            v = cfg[k]
        m[k] = v

    out = {}
    out["mode"] = _choice("mode", m["mode"], MODES)
    src = m["soc_source"]
    if src is not None:
        if not isinstance(src, dict):
            raise ValidationError("soc_source", "must be an object or null")
        _only("soc_source", src, SOURCE_DEFAULTS)
        src = {
            "meter": _meter_id("soc_source.meter", src.get("meter"), False),
            "quantity": _name("soc_source.quantity", src.get("quantity", "soc_pct")),
        }
    out["soc_source"] = src
    out["start_soc"] = _number("start_soc", m["start_soc"], 0, 100)
    out["stop_soc"] = _number("stop_soc", m["stop_soc"], 0, 100)
    for k in ("start_delay_s", "stop_delay_s", "warmup_s", "cooldown_s"):
        out[k] = _seconds(k, m[k], 0, 3600)
    out["min_run_s"] = _seconds("min_run_s", m["min_run_s"], 0, DAY_S)
    out["min_rest_s"] = _seconds("min_rest_s", m["min_rest_s"], 0, DAY_S)
    out["max_run_s"] = _seconds("max_run_s", m["max_run_s"], 0, 7 * DAY_S)
    out["on_source_loss"] = _choice("on_source_loss", m["on_source_loss"], SOURCE_LOSS)
    out["source_max_age_s"] = _seconds("source_max_age_s", m["source_max_age_s"], 5, DAY_S)
    out["manual_run_s"] = _seconds("manual_run_s", m["manual_run_s"], 0, 7 * DAY_S)

    q = m["quiet_hours"]
    _only("quiet_hours", q, QUIET_DEFAULTS)
    qo = {"enabled": _bool("quiet_hours.enabled", q["enabled"])}
    qo["start"] = _hhmm("quiet_hours.start", q["start"])[0]
    qo["end"] = _hhmm("quiet_hours.end", q["end"])[0]
    if qo["start"] == qo["end"]:
        raise ValidationError("quiet_hours.end", "must differ from quiet_hours.start")
    qo["start_soc"] = _opt_number("quiet_hours.start_soc", q["start_soc"], 0, 100)
    qo["stop_soc"] = _opt_number("quiet_hours.stop_soc", q["stop_soc"], 0, 100)
    qo["start_v"] = _opt_number("quiet_hours.start_v", q["start_v"], 0, 1000)
    qo["stop_v"] = _opt_number("quiet_hours.stop_v", q["stop_v"], 0, 1000)
    qo["no_start"] = _bool("quiet_hours.no_start", q["no_start"])
    qo["stop_running"] = _bool("quiet_hours.stop_running", q["stop_running"])
    out["quiet_hours"] = qo

    v = m["voltage"]
    _only("voltage", v, VOLTAGE_DEFAULTS)
    out["voltage"] = {
        "enabled": _bool("voltage.enabled", v["enabled"]),
        "meter": _meter_id("voltage.meter", v["meter"], True),
        "quantity": _name("voltage.quantity", v["quantity"]),
        "start_v": _number("voltage.start_v", v["start_v"], 0, 1000),
        "stop_v": _number("voltage.stop_v", v["stop_v"], 0, 1000),
        "start_delay_s": _seconds("voltage.start_delay_s", v["start_delay_s"], 0, 3600),
        "stop_delay_s": _seconds("voltage.stop_delay_s", v["stop_delay_s"], 0, 3600),
    }
    f = m["feedback"]
    _only("feedback", f, FEEDBACK_DEFAULTS)
    out["feedback"] = {
        "enabled": _bool("feedback.enabled", f["enabled"]),
        "timeout_s": _seconds("feedback.timeout_s", f["timeout_s"], 1, 3600),
        "retries": _int("feedback.retries", f["retries"], 0, 10),
        "retry_pause_s": _seconds("feedback.retry_pause_s", f["retry_pause_s"], 1, 3600),
    }

    # Relations between fields: blame the field the client sent.
    def blame(a, b):
        return b if (b in cfg and a not in cfg) else a

    if out["start_soc"] >= out["stop_soc"]:
        raise ValidationError(blame("start_soc", "stop_soc"), "start_soc must be below stop_soc")
    if out["max_run_s"] and out["max_run_s"] < out["min_run_s"]:
        raise ValidationError(blame("max_run_s", "min_run_s"),
                              "max_run_s must be 0 (no limit) or at least min_run_s")
    vo = out["voltage"]
    if vo["start_v"] >= vo["stop_v"]:
        raise ValidationError("voltage.start_v", "start_v must be below stop_v")
    if vo["enabled"] and vo["meter"] is None and src is None:
        raise ValidationError("voltage.meter", "needed when soc_source is not set")
    qs = qo["start_soc"] if qo["start_soc"] is not None else out["start_soc"]
    qp = qo["stop_soc"] if qo["stop_soc"] is not None else out["stop_soc"]
    if qs >= qp:
        raise ValidationError("quiet_hours.start_soc", "quiet hours start SOC must be below stop SOC")
    qs = qo["start_v"] if qo["start_v"] is not None else vo["start_v"]
    qp = qo["stop_v"] if qo["stop_v"] is not None else vo["stop_v"]
    if qs >= qp:
        raise ValidationError("quiet_hours.start_v", "quiet hours start_v must be below stop_v")
    return out


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
            self._cfg = validate_genset(config or {}, None)
        except ValidationError as e:
            self._cfg = validate_genset({}, None)
            self._emit("config", "bad genset config (%s: %s), using defaults, mode off"
                       % (e.field, e.message))
        self._parse()
        self._local_time = local_time
        p = persisted_state if isinstance(persisted_state, dict) else {}
        self._run_s = float(_int_or_none(p.get("run_s")) or 0)
        self._starts = _int_or_none(p.get("starts")) or 0
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
        new = validate_genset(cfg, self._cfg)
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
            self._clear_error("error cleared")

    def _parse(self):
        q = self._cfg["quiet_hours"]
        self._q_start = _hhmm("quiet_hours.start", q["start"])[1]
        self._q_end = _hhmm("quiet_hours.end", q["end"])[1]

    # -- events and persistence

    def _emit(self, typ, text):
        self._events.append((typ, text))
        if len(self._events) > MAX_EVENTS:
            self._events.pop(0)

    def drain_events(self):
        """The (type, text) events since the last call, oldest first."""
        ev = self._events
        self._events = []
        return ev

    def persisted(self):
        return {
            "v": 1,
            "run_s": int(self._run_s),
            "starts": self._starts,
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
                self._emit("genset", "stopped by reboot")
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
            self._clear_error("error cleared by mode %s" % mode)
        if mode == "on":
            self._manual_prev = prev
            self._manual_until = None
            if self._relay and self._cfg["manual_run_s"]:
                self._manual_until = now + self._cfg["manual_run_s"]
        else:
            self._manual_until = None
            self._manual_prev = None
        self.version += 1

    def _clear_error(self, text):
        self._error = None
        self._state = STOPPED
        self._attempts = 0
        self.version += 1
        self._emit("genset", text)

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
        self._emit("genset", "manual run ended (%s), mode %s" % (why, prev))

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
                    self._emit("genset", "start attempt %d failed: %s"
                               % (self._attempts, why))
                    self._open(now, why, RETRY)
                    self._retry_at = now + fb["retry_pause_s"]
                else:
                    self._error = "no running feedback after %d start attempts" % self._attempts
                    self._open(now, why, ERROR)
                    self._emit("genset", "error: " + self._error)
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
                    self._emit("genset", "error: " + self._error)

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
        self._emit("genset", "%s → %s: %s" % (self._state, state, why))
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
            self._emit("genset", "start: " + why)
            if c["mode"] == "on" and self._manual_until is None and c["manual_run_s"]:
                self._manual_until = now + c["manual_run_s"]
        else:
            self._emit("genset", "start retry %d/%d: %s"
                       % (self._attempts, c["feedback"]["retries"], why))
        self.version += 1

    def _open(self, now, why, state):
        ran = now - self._t_close if self._t_close is not None else 0
        self._relay = False
        self._t_off = now
        self._last_stop = int(now)
        self._last_stop_reason = why
        self._t_close = None
        self._cool_end = None
        self._emit("genset", "stop after %d s: %s" % (int(ran), why))
        self._state = state
        self._t_state = now
        self.version += 1
