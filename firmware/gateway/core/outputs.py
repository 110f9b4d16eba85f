"""Relay output behaviour (as the Legrand 0 261 36 output configuration): pure, time injected.

Output config (``validate_output`` fills in defaults):
  contact  "no" (default): the contact closes when the output is active;
           "nc": the contact is closed while the output is inactive and opens when active.
  mode     "maintained" (default): active while the command is on;
           "pulse": active for on_ms after the command switches on (and after it switches off
                    too with edges "both", for set inputs that toggle on each pulse);
           "blink": while the command is on, on_ms active / off_ms inactive, starting active.
  on_ms    pulse length / blink ON time, 100..3 600 000 ms            default 1000
  off_ms   blink OFF time, 100..3 600 000 ms                          default 1000
  edges    pulse on "rising" (default) or "both" command edges

``Output.contact(command, now_ms)`` gives whether the output's terminals are closed;
``pin_level()`` turns that into the GPIO level for a given relay wiring. ``now_ms`` is a
``ticks_ms()`` value (wrap-around safe).

Plain outputs (services/outputs.py, /api/outputs): every relay of the board file but the
reserved ones (``RESERVED``: the genset relay belongs to the generator control). One is
configured with the keys above plus
  name      1..31 characters (default: the relay's name in the board file)
  power_on  "off" (default) | "on": the command after a restart (the command itself is never
            written to flash: switching wears nothing)
"""
from gateway.core import check
from gateway.core.errors import ValidationError
from gateway.core.ticks import ticks_add, ticks_diff

CONTACTS = ("no", "nc")
OUTPUT_MODES = ("maintained", "pulse", "blink")
EDGES = ("rising", "both")
MIN_MS = 100
MAX_MS = 3600000
OUTPUT_DEFAULTS = {"contact": "no", "mode": "maintained", "on_ms": 1000, "off_ms": 1000,
                   "edges": "rising"}


def _ms(field, v):
    if (isinstance(v, bool) or not isinstance(v, (int, float)) or not -1e15 < v < 1e15
            or int(v) != v):  # nan and +-inf (1e309) fail the range
        raise ValidationError(field, "must be a whole number of milliseconds", "integer")
    if v < MIN_MS or v > MAX_MS:
        raise ValidationError(field, "must be between %d and %d ms" % (MIN_MS, MAX_MS),
                              "range", {"min": MIN_MS, "max": MAX_MS})
    return int(v)




def validate_output(cfg, current=None):
    """Check a (partial) output config against ``current`` (or the defaults); full config back."""
    check.known_keys(check.obj(None, cfg), OUTPUT_DEFAULTS)
    m = dict(OUTPUT_DEFAULTS)
    if isinstance(current, dict):
        m.update(current)
    m.update(cfg)
    return {
        "contact": check.choice("contact", m["contact"], CONTACTS),
        "mode": check.choice("mode", m["mode"], OUTPUT_MODES),
        "on_ms": _ms("on_ms", m["on_ms"]),
        "off_ms": _ms("off_ms", m["off_ms"]),
        "edges": check.choice("edges", m["edges"], EDGES),
    }


RESERVED = ("genset",)
POWER_ON = ("off", "on")
NAME_MAX = 31
PLAIN_KEYS = ("name", "power_on")


def plain_ids(relays):
    """Names of the board's relays usable as plain outputs, in board order."""
    out = []
    for r in relays or ():
        name = r.get("name") if isinstance(r, dict) else None
        if isinstance(name, str) and name not in RESERVED:
            out.append(name)
    return out


def check_id(oid, relays):
    """``oid`` names a plain output of this board, else ValidationError on "id"."""
    if oid in RESERVED:
        raise ValidationError("id", "relay %s is reserved for the generator control" % oid,
                              "reserved")
    if oid not in plain_ids(relays):
        raise ValidationError("id", "the board has no relay %s" % oid, "unknown")
    return oid


def validate_plain_output(oid, cfg, current=None):
    """One plain output's (partial) config over ``current``; the full config back."""
    check.known_keys(check.obj(None, cfg), PLAIN_KEYS + tuple(OUTPUT_DEFAULTS))
    cur = current if isinstance(current, dict) else {}
    out = validate_output(dict((k, cfg[k]) for k in cfg if k in OUTPUT_DEFAULTS),
                          dict((k, cur[k]) for k in cur if k in OUTPUT_DEFAULTS))
    out["name"] = check.text("name", cfg.get("name", cur.get("name", oid)), NAME_MAX, 1, True)
    out["power_on"] = check.choice("power_on", cfg.get("power_on", cur.get("power_on", "off")),
                                   POWER_ON)
    return out


def validate_outputs(doc, relays):
    """The stored document ``{id: config}`` (a restore): every id a plain output of ``relays``."""
    check.obj(None, doc)
    out = {}
    for oid in doc:
        try:
            check_id(oid, relays)
            out[oid] = validate_plain_output(oid, doc[oid])
        except ValidationError as e:
            raise ValidationError(oid if e.field in (None, "id") else oid + "." + e.field,
                                  e.message, e.code, e.params)
    return out


def pin_level(closed, normally_closed=False, active_high=True):
    """GPIO level that makes the terminals ``closed``, for a relay whose wired contact is NC
    (``normally_closed``: closed when de-energised) and a driver energising on a high pin."""
    energise = bool(closed) != bool(normally_closed)
    return energise == bool(active_high)


class Output:
    """One output: the logical command in, the contact state out. Keeps the edge timing."""

    def __init__(self, cfg=None):
        self.cfg = validate_output(cfg or {})
        self._cmd = False
        self._t0 = None  # pulse/blink phase start (ticks ms); None = no pulse running

    def set_config(self, cfg):
        self.cfg = validate_output(cfg, self.cfg)
        self._t0 = None
        return self.cfg

    def active(self, command, now_ms):
        """Is the output active (before the NO/NC polarity) for ``command`` at ``now_ms``."""
        c = self.cfg
        command = bool(command)
        edge = command != self._cmd
        self._cmd = command
        mode = c["mode"]
        if mode == "maintained":
            return command
        if mode == "pulse":
            if edge and (command or c["edges"] == "both"):
                self._t0 = now_ms
            if self._t0 is None:
                return False
            if ticks_diff(now_ms, self._t0) < c["on_ms"]:
                return True
            self._t0 = None
            return False
        # blink
        if not command:
            self._t0 = None
            return False
        if edge or self._t0 is None:
            self._t0 = now_ms
        period = c["on_ms"] + c["off_ms"]
        e = ticks_diff(now_ms, self._t0)
        if e < 0:
            e = 0
        if e >= period:  # move the phase origin forward so ticks_diff never overflows
            self._t0 = ticks_add(self._t0, (e // period) * period)
            e = e % period
        return e < c["on_ms"]

    def contact(self, command, now_ms):
        """Are the output's terminals closed."""
        a = self.active(command, now_ms)
        return (not a) if self.cfg["contact"] == "nc" else a

    def pin(self, command, now_ms, normally_closed=False, active_high=True):
        """The GPIO level for ``command`` at ``now_ms`` (see ``pin_level``)."""
        return pin_level(self.contact(command, now_ms), normally_closed, active_high)

    def next_change_ms(self, now_ms):
        """Milliseconds until the output may change by itself (pulse end, blink phase);
        None when it only changes with the command. Call after ``active``/``contact``."""
        if self._t0 is None:
            return None
        c = self.cfg
        e = ticks_diff(now_ms, self._t0)
        if e < 0:
            e = 0
        if c["mode"] == "pulse":
            return max(0, c["on_ms"] - e)
        if c["mode"] == "blink":
            period = c["on_ms"] + c["off_ms"]
            e = e % period
            return (c["on_ms"] - e) if e < c["on_ms"] else (period - e)
        return None
