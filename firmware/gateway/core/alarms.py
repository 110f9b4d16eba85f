"""Inverter alarms: fault registers to codes, codes to text (EN/FR/NL), what appeared and cleared.

A profile that exposes alarms lists its fault registers (``profiles.faults``)::

    "faults": [{"function": 4, "register": 33116, "type": "u32", "kind": "bits" | "code",
                "table": "aura_f" | null, "first": 0, "min": 1}]

``bits``: each set bit is an alarm, code ``first + bit``; ``code``: a value of at least ``min``
(default 1) is the code of the one alarm present (Solis' status register 33095 holds operating
states below 0x100F, alarm codes from it). The poller reads them as hidden rows (quantity
``_fault<i>``) and counts the active alarms into the quantity ``alarms`` (``registers.finish``); ``active`` turns
the raw words into ``(table, code)`` pairs and ``changes`` tells what appeared and cleared.

Code tables are data, ``profiles/alarms/<table>.json``::

    {"title", "source", "format": "F%02d", "columns": ["en", "fr", "nl"],
     "codes": {"5": ["Bus voltage high", "Tension bus haute", "Busspanning hoog"], ...}}

parsed only to write an alarm's text (``text``), never kept: the resident heap holds no table.
"""
import json

LANGS = ("en", "fr", "nl")
TABLES = ("imeon", "aura_f", "aura_w", "huawei", "growatt_f", "growatt_w", "solis")  # alarms/
MAX_FAULTS = 4  # fault registers a meter may list itself


def check_faults(value):
    """A meter's own ``"faults"`` list (the installer's, from the inverter's Modbus document),
    normalised; ValueError naming the bad entry."""
    if not isinstance(value, list) or len(value) > MAX_FAULTS:
        raise ValueError("faults must be a list of at most %d fault registers" % MAX_FAULTS)
    out = []
    for i, f in enumerate(value):
        where = "faults[%d]" % i
        if not isinstance(f, dict):
            raise ValueError(where + " must be an object")
        g = {"register": f.get("register"), "function": f.get("function", 3),
             "type": f.get("type", "u16"), "kind": f.get("kind", "bits"), "table": f.get("table"),
             "first": f.get("first", 0)}
        if "min" in f:  # optional: kept out of the entry when not given
            g["min"] = f["min"]
        for key, lo, hi in (("register", 0, 0xFFFE), ("function", 3, 4), ("first", 0, 255),
                            ("min", 1, 0xFFFF)):
            v = g.get(key, lo)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError("%s.%s must be an integer %d..%d" % (where, key, lo, hi))
        if g["type"] not in ("u16", "u32"):
            raise ValueError(where + ".type must be u16 or u32")
        if g["kind"] not in ("bits", "code"):
            raise ValueError(where + ".kind must be bits or code")
        if g["table"] is not None and g["table"] not in TABLES:
            raise ValueError("%s.table must be one of %s or null" % (where, ", ".join(TABLES)))
        out.append(g)
    return out


def codes(fault, raw):
    """The alarm codes one fault register's raw value holds."""
    if not raw or raw < 0:
        return ()
    if fault.get("kind") == "code":
        return (raw,) if raw >= fault.get("min", 1) else ()
    first = fault.get("first", 0)
    out = []
    bit = 0
    while raw:
        if raw & 1:
            out.append(first + bit)
        raw >>= 1
        bit += 1
    return out


def active(faults, hidden):
    """Set of ``(table, code)`` active, from the hidden values ``{"_fault<i>": raw}`` of a read
    (a register not read this time contributes nothing)."""
    out = set()
    for i, f in enumerate(faults):
        raw = hidden.get("_fault%d" % i)
        if raw is not None:
            for c in codes(f, raw):
                out.add((f.get("table") or "", c))
    return out


def changes(before, now):
    """(appeared, cleared): sorted lists of the ``(table, code)`` pairs that came and went."""
    return sorted(now - before), sorted(before - now)


def _table(name):
    from gateway.core import profiles

    with open("%s/alarms/%s.json" % (profiles.DIR, name)) as f:
        return json.load(f)


def text(table, code, lang="en"):
    """``"F05 Tension bus haute"``: the code's label and its text in ``lang`` (en, fr or nl;
    English when the table lacks that language, the bare label for an unknown code)."""
    if not table:
        return "alarm %d" % code
    try:
        t = _table(table)
    except (OSError, ValueError):
        return "%s %d" % (table, code)
    label = t.get("format", "%d") % code
    row = t["codes"].get(str(code))
    if row is None:
        return "%s (%s)" % (label, {"fr": "code inconnu", "nl": "onbekende code"}.get(
            lang, "unknown code"))
    cols = t["columns"]
    i = cols.index(lang) if lang in cols else cols.index("en")
    return "%s %s" % (label, row[i])


def event_name(table, code, lang="en"):
    """The alarm as the event log names it (param ``alarm`` of codes "alarm.on"/"alarm.off"):
    its ``text`` without the final full stop."""
    t = text(table, code, lang)
    return t[:-1] if t.endswith(".") else t
