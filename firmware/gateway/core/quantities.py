"""Quantities: the one catalogue (name, unit, decimals, storage code, Home Assistant classes,
Modbus TCP order) and ``round_value``, the one rounding of a device's reading to its resolution.

records.py (storage), ha_discovery.py, modbus_map.py, profiles.py and meters.py read units,
decimals and orders from here; a new quantity is one line in ``_TABLE``.

Used where a value is read (``registers.extract``), so the API, CSV, MQTT and Modbus TCP all
show what the device really resolves: a float32 has ~7 significant digits (0.97, not
0.9700000286102295; 12873.4, not 12873.400390625), a scaled integer the decimals of its scale.
"""
import math


def _decimals(scale):
    for d in range(10):
        x = scale * 10 ** d
        if abs(x - round(x)) < 1e-9 * 10 ** d:
            return d
    return 9


def round_value(value, type_="f32", scale=1):
    """``value`` (already scaled) rounded to the resolution of a ``type_`` register times
    ``scale``: 7 significant digits for f32, the decimals of a non-integer scale for integer
    types; integers read with an integer scale are returned as they are."""
    if type_ == "f32":
        if value == 0 or value - value != 0:  # zero, NaN, inf
            return value
        return round(value, 6 - int(math.floor(math.log10(abs(value)))))
    if isinstance(scale, int):
        return value
    return round(value, _decimals(scale))


# ---- the catalogue ----------------------------------------------------------------------
# name|unit|decimals|HA device_class|HA state_class|HA entity name, one "\n"-led line each: a
# constant string read in place (no table of tuples on the heap). ``decimals`` is the
# fixed-point resolution a value is stored and shown with (records.fixed / text) and the HA
# suggested_display_precision. Add a quantity by appending a line here.
_TABLE = """
import_kwh|kWh|3|energy|total_increasing|import energy
export_kwh|kWh|3|energy|total_increasing|export energy
power_w|W|0|power|measurement|power
voltage_l1|V|1|voltage|measurement|voltage L1
voltage_l2|V|1|voltage|measurement|voltage L2
voltage_l3|V|1|voltage|measurement|voltage L3
current_l1|A|3|current|measurement|current L1
current_l2|A|3|current|measurement|current L2
current_l3|A|3|current|measurement|current L3
frequency_hz|Hz|2|frequency|measurement|frequency
power_factor||3|power_factor|measurement|power factor
soc_pct|%|1|battery|measurement|battery
battery_v|V|3|voltage|measurement|battery voltage
power_l1|W|0|power|measurement|power L1
power_l2|W|0|power|measurement|power L2
power_l3|W|0|power|measurement|power L3
reactive_var|var|0|reactive_power|measurement|reactive power
apparent_va|VA|0|apparent_power|measurement|apparent power
pv_w|W|0|power|measurement|PV power
pv1_v|V|1|voltage|measurement|PV1 voltage
pv1_w|W|0|power|measurement|PV1 power
pv2_v|V|1|voltage|measurement|PV2 voltage
pv2_w|W|0|power|measurement|PV2 power
battery_w|W|0|power|measurement|battery power
inverter_state||0|||inverter state
yield_kwh|kWh|3|energy|total_increasing|yield
temperature_c|°C|1|temperature|measurement|temperature
alarms||0||measurement|alarms
gas_m3|m³|3|gas|total_increasing|gas
water_m3|m³|3|water|total_increasing|water
"""

# Storage codes of records.py segments: code = index + 1 (0 = name written out). Stored on
# flash, so append only; a quantity without a code is stored by name (an older firmware
# could not read a new code after a downgrade: decision 0005).
STORAGE_CODES = ("import_kwh", "export_kwh", "power_w", "voltage_l1", "voltage_l2", "voltage_l3",
                 "current_l1", "current_l2", "current_l3", "frequency_hz", "power_factor",
                 "soc_pct")  # fmt: skip

# Modbus TCP server register order (core/modbus_map.py): never reorder or insert, append only.
MODBUS_TCP_ORDER = (
    "voltage_l1", "voltage_l2", "voltage_l3",
    "current_l1", "current_l2", "current_l3",
    "power_w", "frequency_hz", "power_factor",
    "import_kwh", "export_kwh",
    "soc_pct", "battery_v",
)  # fmt: skip

DEFAULT_DECIMALS = 3  # a quantity not in the catalogue (a generic register's own name)
_COUNTER_SUFFIXES = ("_kwh", "_wh", "_kvarh", "_varh", "_m3", "_l", "_count")


def _fields(name):
    """The catalogue line of ``name`` split into its fields, or None."""
    if not isinstance(name, str) or "|" in name or "\n" in name:
        return None
    k = _TABLE.find("\n%s|" % name)
    if k < 0:
        return None
    return _TABLE[k + 1 : _TABLE.find("\n", k + 1)].split("|")


def known(name):
    """True if ``name`` is in the catalogue."""
    return _fields(name) is not None


def names():
    """Every catalogued quantity name, in catalogue order (a generator)."""
    i = 0
    while True:
        i = _TABLE.find("\n", i)
        if i < 0 or i + 1 >= len(_TABLE):
            return
        yield _TABLE[i + 1 : _TABLE.find("|", i)]
        i += 1


def unit(name, default=""):
    """Unit of ``name`` ("" when dimensionless), ``default`` when not catalogued."""
    f = _fields(name)
    return default if f is None else f[1]


_dec_cache = {}  # name -> decimals: the storage hot path looks names up without allocating


def decimals(name):
    """Fixed-point decimal places of ``name`` (DEFAULT_DECIMALS when not catalogued)."""
    d = _dec_cache.get(name)
    if d is None:
        f = _fields(name)
        d = DEFAULT_DECIMALS if f is None else int(f[2])
        if len(_dec_cache) < 64:  # bounded: generic registers bring names of their own
            _dec_cache[name] = d
    return d


def ha_spec(name):
    """(entity name, device_class or None, state_class, unit or None) for Home Assistant."""
    f = _fields(name)
    if f is None:
        return None
    return f[5], f[3] or None, f[4], f[1] or None


def storage_code(name):
    """records.py code of ``name`` (1..), 0 when it is stored by name."""
    return STORAGE_CODES.index(name) + 1 if name in STORAGE_CODES else 0


def is_counter(name):
    """True for cumulative counters (energy, volume): aggregated as differences, not means."""
    for s in _COUNTER_SUFFIXES:
        if name.endswith(s):
            return True
    return False


def round_to(name, value):
    """A number rounded to the catalogued decimals of ``name`` (ints stay ints); others as is."""
    if isinstance(value, bool) or not isinstance(value, float) or value - value != 0:
        return value
    return round(value, decimals(name))


# ---- fixed point: how a quantity is stored and shown exactly (records.py, history, billing)

POW10 = [10**i for i in range(10)]


def fixed(q, v):
    """Reading value v (number) -> fixed-point int of quantity q; None if not a finite number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    d = decimals(q)
    if isinstance(v, int):
        return v * POW10[d]
    if v != v or v in (float("inf"), float("-inf")):
        return None
    x = v * POW10[d]
    if x >= 0:
        return int(x + 0.5)
    return -int(-x + 0.5)


def number(q, i):
    """Fixed-point int -> number (int when the quantity has no decimals, float otherwise)."""
    d = decimals(q)
    if d == 0:
        return i
    return i / POW10[d]


def text(q, i, point="."):
    """Fixed-point int -> exact decimal text, trailing zeros trimmed ("12.5", "-0.003", "7")."""
    d = decimals(q)
    if d == 0:
        return str(i)
    a = -i if i < 0 else i
    ip = a // POW10[d]
    fp = a - ip * POW10[d]
    if fp == 0:
        return ("-%d" if i < 0 else "%d") % ip
    while fp % 10 == 0:
        fp //= 10
        d -= 1
    return "%s%d%s%0*d" % ("-" if i < 0 else "", ip, point, d, fp)
