"""Meter and RS485 bus configuration: validation and normalisation (pure functions).

A normalised meter is ``{"id": "3", "name": "...", "address": 1..247, "profile": "...",
"enabled": bool}`` plus the device settings given (``DEVICE_SETTINGS``) and, for profile
``generic``, ``"registers": [{"quantity", "function", "register", "type", "word_order",
"scale", "unit"}]`` (docs/openapi.yaml); for profile ``sunspec``, ``"sunspec": [[model id, address],
...]`` (the models discovery found, core/sunspec.py). Every rejection is a
``ValidationError`` whose ``field`` is the offending key (``"registers[2].type"`` for entries).
"""
from gateway.core import check, profiles
from gateway.core.errors import ValidationError
from gateway.core.modbus import BUS_DEFAULTS
from gateway.core.quantities import unit as _unit
from gateway.core.registers import TYPES, WORD_ORDERS

MAX_METERS = 32
# what a meter measures, for the home page's energy flow: the grid connection, PV production,
# the battery, a generator (genset), a load, or a sub-meter already counted by another
ROLES = ("grid", "pv", "battery", "genset", "load", "sub")
MAX_REGISTERS_PER_METER = 64
# what the heap holds: a generic register costs ~300 bytes in the emulator once polled (its
# spec, its place in the read plan, its value; measured: the 4th meter of 32 registers ran out
# of heap), so the generic meters together get this many (issue 16 item 9)
MAX_REGISTERS_TOTAL = 64
NAME_MIN, NAME_MAX = 4, 31
# register maps in use at once (library profiles, SunSpec devices): each keeps its read plan in
# the heap (~2-3 KB on the ESP32)
MAX_PROFILES = 8

# per-device settings beside the bus ones (absent or null: the profile's default, else the bus's)
DEVICE_SETTINGS = {
    "timeout_ms": (10, 10000),
    "retries": (0, 5),
    "turnaround_ms": (0, 1000),  # extra pause before each request to this device
    "max_registers": (1, 125),  # per read request
}

_BUS_RANGES = {
    "baud": (1200, 115200),
    "stop": (1, 2),
    "timeout_ms": (10, 10000),
    "retries": (0, 5),
    "max_gap": (0, 125),
    "interval_ms": (100, 3600000),
}


def _map_kind(profile, meter_id):
    return "sunspec " + meter_id if profile == "sunspec" else profile


def next_id(existing, taken=()):
    """The id of a new meter, as a string: one more than any id in ``existing`` or ``taken``
    (ids that named a meter before: the last one given, billing channels a deleted meter left).
    An id is never given twice, so nothing kept under it (billing history, ring samples, a
    tenant's or the generator's binding) passes to another meter."""
    top = 0
    for i in [m["id"] for m in existing] + list(taken):
        i = str(i)
        if i.isdigit() and int(i) > top:
            top = int(i)
    return str(top + 1)


def validate_meter(data, existing, meter_id=None, taken=()):
    """Validated, normalised meter from ``data`` (a dict from the API).

    ``existing``: the list of stored (normalised) meters. ``meter_id`` None creates a meter
    (a new id is assigned); otherwise updates that meter, and keys missing from ``data`` keep
    their stored values. A meter not yet in ``existing`` is refused beyond ``MAX_METERS``.
    """
    if not isinstance(data, dict):
        raise ValidationError(None, "a meter must be a JSON object", "format")
    meter_id = next_id(existing, taken) if meter_id is None else str(meter_id)
    current = None
    for m in existing:
        if m["id"] == meter_id:
            current = m
    others = [m for m in existing if m["id"] != meter_id]
    if current is None and len(others) >= MAX_METERS:
        raise ValidationError(None, "at most %d meters on the bus" % MAX_METERS, "max_meters",
                              {"max": MAX_METERS})
    if current:
        merged = dict(current)
        merged.update(data)
        data = merged

    if data.get("address") is None:
        raise ValidationError("address", "address is required", "required")
    address = check.integer("address", data["address"], 1, 247, text=True, signed=False)
    for m in others:
        if m["address"] == address:
            raise ValidationError("address", "address %d is used by %s" % (address, m["name"]),
                                  "used_by", {"by": m["name"]})

    taken = set(m["name"].lower() for m in others)
    name = data.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        name = "meter-%d" % address
        if name in taken:
            name = "%s-%s" % (name, meter_id)
    name = check.text("name", name, NAME_MAX, NAME_MIN, strip=True)
    if name.lower() in taken:
        raise ValidationError("name", "name %s is already used" % name, "unique")

    profile = data.get("profile")
    if not isinstance(profile, str) or not profiles.exists(profile.strip().lower()):
        raise ValidationError("profile", "no such device profile", "unknown")
    profile = profile.strip().lower()
    if profile != "generic":  # a SunSpec device has a register map of its own
        kinds = set(_map_kind(m["profile"], m["id"]) for m in others if m["profile"] != "generic")
        if _map_kind(profile, meter_id) not in kinds and len(kinds) >= MAX_PROFILES:
            raise ValidationError("profile", "at most %d different device profiles on the bus "
                                  "(each one's register map stays in memory)" % MAX_PROFILES,
                                  "max_profiles", {"max": MAX_PROFILES})

    enabled = check.boolean("enabled", data.get("enabled", True))
    role = check.choice("role", data.get("role") or "sub", ROLES)

    out = {"id": meter_id, "name": name, "address": address, "profile": profile,
           "enabled": enabled, "role": role}
    for key, (lo, hi) in DEVICE_SETTINGS.items():
        v = data.get(key)
        if v is not None and v != "":
            out[key] = check.integer(key, v, lo, hi, text=True, signed=False)
    if data.get("faults") is not None and data.get("faults") != []:
        from gateway.core.alarms import check_faults  # the installer's fault registers

        try:
            out["faults"] = check_faults(data["faults"])
        except ValueError as e:
            raise ValidationError("faults", str(e), getattr(e, "code", None) or "format",
                                  getattr(e, "params", None))
    if profile == "sunspec" and data.get("sunspec") is not None:
        from gateway.core.sunspec import check_layout  # the models discovery found

        try:
            out["sunspec"] = check_layout(data["sunspec"])
        except ValueError as e:
            raise ValidationError("sunspec", str(e), getattr(e, "code", None) or "format",
                                  getattr(e, "params", None))
    if profile == "generic":
        out["registers"] = validate_registers(data.get("registers"))
        used = 0
        for m in others:
            used += len(m.get("registers") or ())
        if used + len(out["registers"]) > MAX_REGISTERS_TOTAL:
            raise ValidationError(
                "registers", "the device holds at most %d generic registers in all, %d are used "
                "by the other meters" % (MAX_REGISTERS_TOTAL, used), "range",
                {"min": 1, "max": max(MAX_REGISTERS_TOTAL - used, 0)})
    return out


def validate_registers(regs):
    """Validated list of generic register specs (field names ``registers[i].key``)."""
    if not isinstance(regs, list) or not regs:
        raise ValidationError("registers", "a generic meter needs a list of registers", "required")
    if len(regs) > MAX_REGISTERS_PER_METER:
        raise ValidationError("registers", "at most %d registers per meter"
                              % MAX_REGISTERS_PER_METER, "max", {"max": MAX_REGISTERS_PER_METER})
    out = []
    seen = set()
    for i, r in enumerate(regs):
        f = "registers[%d]." % i
        if not isinstance(r, dict):
            raise ValidationError(f[:-1], "each register must be a JSON object", "format")
        q = r.get("quantity")
        if q is None or q == "":
            raise ValidationError(f + "quantity", "quantity is required", "required")
        if not _is_quantity(q):
            raise ValidationError(f + "quantity", "quantity must be 1-31 of a-z, 0-9, _ starting "
                                  "with a letter", "quantity")
        if q in seen:
            raise ValidationError(f + "quantity", "quantity %s appears twice" % q, "unique")
        seen.add(q)
        function = check.integer(f + "function", r.get("function", 3), 3, 4, text=True, signed=False)
        if r.get("register") is None:
            raise ValidationError(f + "register", "register is required", "required")
        register = check.integer(f + "register", r["register"], 0, 0xFFFF, text=True, signed=False, hex_ok=True)
        type_ = check.choice(f + "type", r.get("type", "u16"), TYPES)
        if register + TYPES[type_] > 0x10000:
            raise ValidationError(f + "register", "the value runs past register 0xFFFF", "max",
                                  {"max": 0x10000 - TYPES[type_]})
        order = check.choice(f + "word_order", r.get("word_order", "big"), WORD_ORDERS)
        scale = r.get("scale", 1)
        if (
            not isinstance(scale, (int, float))
            or isinstance(scale, bool)
            or scale == 0
            or scale - scale != 0
        ):
            raise ValidationError(f + "scale", "scale must be a non-zero number", "nonzero")
        unit = r.get("unit")
        unit = _unit(q) if unit is None else check.text(f + "unit", unit, 15, 0, strip=True)
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
        raise ValidationError(None, "bus settings must be a JSON object", "format")
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
                raise ValidationError("parity", "parity must be N, E or O", "choice", {"choices": "N, E, O"})
            out[key] = p[0]
        else:
            lo, hi = _BUS_RANGES[key]
            out[key] = check.integer(key, v, lo, hi, text=True, signed=False)
    return out
