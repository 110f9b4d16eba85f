"""Meter and RS485 bus configuration: validation and normalisation (pure functions).

A normalised meter is ``{"id": "3", "name": "...", "address": 1..247, "profile": "...",
"enabled": bool}`` plus, for profile ``generic``, ``"registers": [{"quantity", "function",
"register", "type", "word_order", "scale", "unit"}]`` (CONTRACT §3). Every rejection is a
``ValidationError`` whose ``field`` is the offending key (``"registers[2].type"`` for entries).
"""
from gateway.core.errors import ValidationError
from gateway.core.modbus import BUS_DEFAULTS
from gateway.core.profiles import PROFILES, QUANTITIES
from gateway.core.registers import TYPES, WORD_ORDERS

MAX_METERS = 32
# what a meter measures, for the home page's energy flow: the grid connection, PV production,
# the battery, a load, or a sub-meter already counted by another (excluded from totals)
ROLES = ("grid", "pv", "battery", "load", "sub")
MAX_REGISTERS_PER_METER = 64
NAME_MIN, NAME_MAX = 4, 31

_BUS_RANGES = {
    "baud": (1200, 115200),
    "stop": (1, 2),
    "timeout_ms": (10, 10000),
    "retries": (0, 5),
    "max_gap": (0, 125),
    "interval_ms": (100, 3600000),
}


def _int(value, field, lo, hi, hex_ok=False):
    """An int in lo..hi from an int or a decimal (or "0x..." hex if hex_ok) string."""
    v = None
    if isinstance(value, int) and not isinstance(value, bool):
        v = value
    elif isinstance(value, str):
        s = value.strip()
        if hex_ok and s[:2] in ("0x", "0X"):
            digits = s[2:].lower()
            if digits and len(digits) <= 8 and all(c in "0123456789abcdef" for c in digits):
                v = int(digits, 16)
        elif s and len(s) <= 10 and s.isdigit():
            v = int(s)
    if v is None:
        raise ValidationError(field, "%s must be an integer" % field)
    if not lo <= v <= hi:
        raise ValidationError(field, "%s must be between %d and %d" % (field, lo, hi))
    return v


def _text(value, field, lo, hi):
    if not isinstance(value, str):
        raise ValidationError(field, "%s must be text" % field)
    s = value.strip()
    if not lo <= len(s) <= hi:
        raise ValidationError(field, "%s must be %d to %d characters" % (field, lo, hi))
    for ch in s:
        if ord(ch) < 32 or ord(ch) == 127:
            raise ValidationError(field, "%s contains a control character" % field)
    return s


def next_id(existing):
    """Smallest positive integer, as a string, not used as an id in ``existing``."""
    used = set(m["id"] for m in existing)
    i = 1
    while str(i) in used:
        i += 1
    return str(i)


def validate_meter(data, existing, meter_id=None):
    """Validated, normalised meter from ``data`` (a dict from the API).

    ``existing``: the list of stored (normalised) meters. ``meter_id`` None creates a meter
    (a new id is assigned); otherwise updates that meter, and keys missing from ``data`` keep
    their stored values. A meter not yet in ``existing`` is refused beyond ``MAX_METERS``.
    """
    if not isinstance(data, dict):
        raise ValidationError(None, "a meter must be a JSON object")
    meter_id = next_id(existing) if meter_id is None else str(meter_id)
    current = None
    for m in existing:
        if m["id"] == meter_id:
            current = m
    others = [m for m in existing if m["id"] != meter_id]
    if current is None and len(others) >= MAX_METERS:
        raise ValidationError(None, "at most %d meters on the bus" % MAX_METERS)
    if current:
        merged = dict(current)
        merged.update(data)
        data = merged

    if data.get("address") is None:
        raise ValidationError("address", "address is required")
    address = _int(data["address"], "address", 1, 247)
    for m in others:
        if m["address"] == address:
            raise ValidationError("address", "address %d is used by %s" % (address, m["name"]))

    taken = set(m["name"].lower() for m in others)
    name = data.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        name = "meter-%d" % address
        if name in taken:
            name = "%s-%s" % (name, meter_id)
    name = _text(name, "name", NAME_MIN, NAME_MAX)
    if name.lower() in taken:
        raise ValidationError("name", "name %s is already used" % name)

    profile = data.get("profile")
    if not isinstance(profile, str) or profile.strip().lower() not in PROFILES:
        raise ValidationError(
            "profile", "profile must be one of %s" % ", ".join(sorted(PROFILES))
        )
    profile = profile.strip().lower()

    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValidationError("enabled", "enabled must be true or false")

    role = data.get("role") or "sub"
    if role not in ROLES:
        raise ValidationError("role", "role must be one of %s" % ", ".join(ROLES))

    out = {"id": meter_id, "name": name, "address": address, "profile": profile,
           "enabled": enabled, "role": role}
    if profile == "generic":
        out["registers"] = validate_registers(data.get("registers"))
    return out


def validate_registers(regs):
    """Validated list of generic register specs (field names ``registers[i].key``)."""
    if not isinstance(regs, list) or not regs:
        raise ValidationError("registers", "a generic meter needs a list of registers")
    if len(regs) > MAX_REGISTERS_PER_METER:
        raise ValidationError(
            "registers", "at most %d registers per meter" % MAX_REGISTERS_PER_METER
        )
    out = []
    seen = set()
    for i, r in enumerate(regs):
        f = "registers[%d]." % i
        if not isinstance(r, dict):
            raise ValidationError(f[:-1], "each register must be a JSON object")
        q = r.get("quantity")
        if not _is_quantity(q):
            raise ValidationError(
                f + "quantity", "quantity must be 1-31 of a-z, 0-9, _ starting with a letter"
            )
        if q in seen:
            raise ValidationError(f + "quantity", "quantity %s appears twice" % q)
        seen.add(q)
        function = _int(r.get("function", 3), f + "function", 3, 4)
        if r.get("register") is None:
            raise ValidationError(f + "register", "register is required")
        register = _int(r["register"], f + "register", 0, 0xFFFF, hex_ok=True)
        type_ = r.get("type", "u16")
        if type_ not in TYPES:
            raise ValidationError(f + "type", "type must be one of %s" % ", ".join(sorted(TYPES)))
        if register + TYPES[type_] > 0x10000:
            raise ValidationError(f + "register", "the value runs past register 0xFFFF")
        order = r.get("word_order", "big")
        if order not in WORD_ORDERS:
            raise ValidationError(f + "word_order", "word_order must be big or little")
        scale = r.get("scale", 1)
        if (
            not isinstance(scale, (int, float))
            or isinstance(scale, bool)
            or scale == 0
            or scale - scale != 0
        ):
            raise ValidationError(f + "scale", "scale must be a non-zero number")
        unit = r.get("unit")
        unit = QUANTITIES.get(q, "") if unit is None else _text(unit, f + "unit", 0, 15)
        out.append({"quantity": q, "function": function, "register": register, "type": type_,
                    "word_order": order, "scale": scale, "unit": unit})
    return out


def _is_quantity(q):
    if not isinstance(q, str) or not 1 <= len(q) <= 31 or not "a" <= q[0] <= "z":
        return False
    for ch in q:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "_"):
            return False
    return True


def validate_bus(data, current=None):
    """Validated bus settings: ``current`` (or ``BUS_DEFAULTS``) updated with ``data``.

    Keys: baud 1200..115200, parity "N"|"E"|"O", stop 1|2 (8 data bits always), timeout_ms,
    retries, max_gap, interval_ms. Unknown keys are ignored.
    """
    if not isinstance(data, dict):
        raise ValidationError(None, "bus settings must be a JSON object")
    out = dict(BUS_DEFAULTS)
    if current:
        out.update(current)
    for key in BUS_DEFAULTS:
        if key not in data:
            continue
        v = data[key]
        if key == "parity":
            p = v.strip().upper() if isinstance(v, str) else None
            if p not in ("N", "E", "O", "NONE", "EVEN", "ODD"):
                raise ValidationError("parity", "parity must be N, E or O")
            out[key] = p[0]
        else:
            lo, hi = _BUS_RANGES[key]
            out[key] = _int(v, key, lo, hi)
    return out
