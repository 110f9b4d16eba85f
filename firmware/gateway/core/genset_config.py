"""Generator (genset) configuration: defaults and ``validate_genset``, loaded on demand (the API,
a restore and the controller's config changes; gateway.core.ondemand), not kept on the heap.

Configuration (``validate_genset`` fills in defaults; nested objects may be given partially)
----------------------------------------------------------------------------------------------
API keys (docs/openapi.yaml, /api/genset):
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
  service_interval_h            run hours between services (a "service due" event
                                and status once reached); 0 = no reminder       default 0
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

validate_genset(cfg, current=None) -> full normalized config, or ValidationError(field, msg)
"""
from gateway.core import check
from gateway.core.errors import ValidationError

MODES = ("auto", "on", "off")
SOURCE_LOSS = ("stop", "start", "keep")

DAY_S = 86400

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
    "service_interval_h": 0,
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
    "source_lost", "quiet", "manual_until", "next_start_in_s", "contact", "service_due_in_h",
    "service_due",
)


def _opt_number(field, v, lo, hi):
    return None if v is None else check.number(field, v, lo, hi)


def _seconds(field, v, lo, hi):
    return check.integer(field, v, lo, hi, unit=" s")


def _name(field, v):
    if not isinstance(v, str) or not v or len(v) > 31:
        raise ValidationError(field, "must be a name of 1 to 31 characters",
                              "length", {"min": 1, "max": 31})
    return v


def _meter_id(field, v, allow_none):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ValidationError(field, "must be a meter id", "unknown")
    v = str(v)
    if not v or len(v) > 31:
        raise ValidationError(field, "must be a meter id", "unknown")
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
        raise ValidationError(field, 'must be a time "HH:MM"', "time")
    return "%02d:%02d" % (h, m), h * 60 + m


def _only(field, d, allowed):
    check.known_keys(d, allowed, field + ".")


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
        raise ValidationError(key, "must be an object or null", "format")
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
    check.known_keys(check.obj(None, cfg), tuple(DEFAULTS) + STATUS_KEYS)
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
    out["mode"] = check.choice("mode", m["mode"], MODES)
    src = m["soc_source"]
    if src is not None:
        if not isinstance(src, dict):
            raise ValidationError("soc_source", "must be an object or null", "format")
        _only("soc_source", src, SOURCE_DEFAULTS)
        src = {
            "meter": _meter_id("soc_source.meter", src.get("meter"), False),
            "quantity": _name("soc_source.quantity", src.get("quantity", "soc_pct")),
        }
    out["soc_source"] = src
    out["start_soc"] = check.number("start_soc", m["start_soc"], 0, 100)
    out["stop_soc"] = check.number("stop_soc", m["stop_soc"], 0, 100)
    for k in ("start_delay_s", "stop_delay_s", "warmup_s", "cooldown_s"):
        out[k] = _seconds(k, m[k], 0, 3600)
    out["min_run_s"] = _seconds("min_run_s", m["min_run_s"], 0, DAY_S)
    out["min_rest_s"] = _seconds("min_rest_s", m["min_rest_s"], 0, DAY_S)
    out["max_run_s"] = _seconds("max_run_s", m["max_run_s"], 0, 7 * DAY_S)
    out["on_source_loss"] = check.choice("on_source_loss", m["on_source_loss"], SOURCE_LOSS)
    out["source_max_age_s"] = _seconds("source_max_age_s", m["source_max_age_s"], 5, DAY_S)
    out["manual_run_s"] = _seconds("manual_run_s", m["manual_run_s"], 0, 7 * DAY_S)
    out["service_interval_h"] = check.integer("service_interval_h", m["service_interval_h"], 0, 50000)

    q = m["quiet_hours"]
    _only("quiet_hours", q, QUIET_DEFAULTS)
    qo = {"enabled": check.boolean("quiet_hours.enabled", q["enabled"])}
    qo["start"] = _hhmm("quiet_hours.start", q["start"])[0]
    qo["end"] = _hhmm("quiet_hours.end", q["end"])[0]
    if qo["start"] == qo["end"]:
        raise ValidationError("quiet_hours.end", "must differ from quiet_hours.start", "differ",
                              {"other": "quiet_hours.start"})
    qo["start_soc"] = _opt_number("quiet_hours.start_soc", q["start_soc"], 0, 100)
    qo["stop_soc"] = _opt_number("quiet_hours.stop_soc", q["stop_soc"], 0, 100)
    qo["start_v"] = _opt_number("quiet_hours.start_v", q["start_v"], 0, 1000)
    qo["stop_v"] = _opt_number("quiet_hours.stop_v", q["stop_v"], 0, 1000)
    qo["no_start"] = check.boolean("quiet_hours.no_start", q["no_start"])
    qo["stop_running"] = check.boolean("quiet_hours.stop_running", q["stop_running"])
    out["quiet_hours"] = qo

    v = m["voltage"]
    _only("voltage", v, VOLTAGE_DEFAULTS)
    out["voltage"] = {
        "enabled": check.boolean("voltage.enabled", v["enabled"]),
        "meter": _meter_id("voltage.meter", v["meter"], True),
        "quantity": _name("voltage.quantity", v["quantity"]),
        "start_v": check.number("voltage.start_v", v["start_v"], 0, 1000),
        "stop_v": check.number("voltage.stop_v", v["stop_v"], 0, 1000),
        "start_delay_s": _seconds("voltage.start_delay_s", v["start_delay_s"], 0, 3600),
        "stop_delay_s": _seconds("voltage.stop_delay_s", v["stop_delay_s"], 0, 3600),
    }
    f = m["feedback"]
    _only("feedback", f, FEEDBACK_DEFAULTS)
    out["feedback"] = {
        "enabled": check.boolean("feedback.enabled", f["enabled"]),
        "timeout_s": _seconds("feedback.timeout_s", f["timeout_s"], 1, 3600),
        "retries": check.integer("feedback.retries", f["retries"], 0, 10),
        "retry_pause_s": _seconds("feedback.retry_pause_s", f["retry_pause_s"], 1, 3600),
    }

    # Relations between fields: blame the field the client sent.
    def blame(a, b):
        return b if (b in cfg and a not in cfg) else a

    if out["start_soc"] >= out["stop_soc"]:
        raise ValidationError(blame("start_soc", "stop_soc"), "start_soc must be below stop_soc",
                              "below", {"other": "stop_soc"})
    if out["max_run_s"] and out["max_run_s"] < out["min_run_s"]:
        raise ValidationError(blame("max_run_s", "min_run_s"),
                              "max_run_s must be 0 (no limit) or at least min_run_s", "max_run")
    vo = out["voltage"]
    if vo["start_v"] >= vo["stop_v"]:
        raise ValidationError("voltage.start_v", "start_v must be below stop_v", "below",
                              {"other": "voltage.stop_v"})
    if vo["enabled"] and vo["meter"] is None and src is None:
        raise ValidationError("voltage.meter", "needed when soc_source is not set", "required")
    qs = qo["start_soc"] if qo["start_soc"] is not None else out["start_soc"]
    qp = qo["stop_soc"] if qo["stop_soc"] is not None else out["stop_soc"]
    if qs >= qp:
        other = "quiet_hours.stop_soc" if qo["stop_soc"] is not None else "stop_soc"
        raise ValidationError("quiet_hours.start_soc",
                              "quiet hours start SOC must be below stop SOC", "below",
                              {"other": other})
    qs = qo["start_v"] if qo["start_v"] is not None else vo["start_v"]
    qp = qo["stop_v"] if qo["stop_v"] is not None else vo["stop_v"]
    if qs >= qp:
        other = "quiet_hours.stop_v" if qo["stop_v"] is not None else "voltage.stop_v"
        raise ValidationError("quiet_hours.start_v", "quiet hours start_v must be below stop_v",
                              "below", {"other": other})
    return out


def source_meters(cfg):
    """[(key, meter id)] a (validated) generator configuration reads: its SOC source's
    ("soc_source"), its voltage condition's when enabled ("voltage")."""
    out = []
    for key in ("soc_source", "voltage"):
        d = cfg.get(key) or {}
        if d.get("meter") is not None and (key == "soc_source" or d.get("enabled")):
            out.append((key, d["meter"]))
    return out
