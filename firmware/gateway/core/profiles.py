"""Device profiles as data: which registers hold which quantity.

Eastron SDM120 / SDM630 (input registers, FC4, IEEE 754 float in two registers, high word
first), addresses from Eastron's Modbus protocol documents (SDM120 / SDM630 "Input Register
Parameter" tables; the zero-based register = parameter address 3xxxx - 30001). Eastron reads at
most 80 registers per request and some units refuse more than 50, hence ``max_count`` 40.

``generic``: the meter's own ``"registers"`` list (CONTRACT §3), validated by ``meters.py``.
"""

# Canonical quantity names (CONTRACT §3) and their units.
QUANTITIES = {
    "voltage_l1": "V",
    "voltage_l2": "V",
    "voltage_l3": "V",
    "current_l1": "A",
    "current_l2": "A",
    "current_l3": "A",
    "power_w": "W",
    "frequency_hz": "Hz",
    "power_factor": "",
    "import_kwh": "kWh",
    "export_kwh": "kWh",
    "soc_pct": "%",
    "battery_v": "V",
}

# name: (title, max registers per request, rows of (quantity, function, register, type))
_EASTRON = (
    ("sdm120", "Eastron SDM120 (single phase)", (
        ("voltage_l1", 4, 0x0000, "f32"),
        ("current_l1", 4, 0x0006, "f32"),
        ("power_w", 4, 0x000C, "f32"),
        ("power_factor", 4, 0x001E, "f32"),
        ("frequency_hz", 4, 0x0046, "f32"),
        ("import_kwh", 4, 0x0048, "f32"),
        ("export_kwh", 4, 0x004A, "f32"),
    )),
    ("sdm630", "Eastron SDM630 (three phase)", (
        ("voltage_l1", 4, 0x0000, "f32"),
        ("voltage_l2", 4, 0x0002, "f32"),
        ("voltage_l3", 4, 0x0004, "f32"),
        ("current_l1", 4, 0x0006, "f32"),
        ("current_l2", 4, 0x0008, "f32"),
        ("current_l3", 4, 0x000A, "f32"),
        ("power_w", 4, 0x0034, "f32"),
        ("power_factor", 4, 0x003E, "f32"),
        ("frequency_hz", 4, 0x0046, "f32"),
        ("import_kwh", 4, 0x0048, "f32"),
        ("export_kwh", 4, 0x004A, "f32"),
    )),
)

PROFILES = {"generic": {"title": "Generic Modbus device", "max_count": 125, "rows": None}}
for _name, _title, _rows in _EASTRON:
    PROFILES[_name] = {"title": _title, "max_count": 40, "rows": _rows}
del _EASTRON


def names():
    """Known profile names, sorted."""
    return sorted(PROFILES)


def registers(meter):
    """Register specs (dicts as in ``registers.py``) to read for ``meter`` (a meter config dict)."""
    p = PROFILES.get(meter.get("profile"))
    if p is None:
        raise ValueError("unknown profile %r" % (meter.get("profile"),))
    if p["rows"] is None:
        return meter.get("registers") or []
    return [
        {"quantity": q, "function": f, "register": r, "type": t, "word_order": "big", "scale": 1,
         "unit": QUANTITIES.get(q, "")}
        for q, f, r, t in p["rows"]
    ]


def max_count(meter):
    """Largest number of registers one request to this meter's profile may ask for."""
    return PROFILES[meter["profile"]]["max_count"]
