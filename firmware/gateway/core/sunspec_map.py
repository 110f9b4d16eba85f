"""The Modbus TCP server's SunSpec view of a meter, pure: registers 40000.. of its unit id.

Each meter (unit id = its RS485 address, as in core/modbus_map.py) is a SunSpec device::

    40000  "SunS"
    40002  1, 66        common model: Mn "dingate", Md the meter's profile, Vr the firmware,
                        SN "<gateway serial>-<address>", DA the unit id
    40070  20x, 105     meter model: 201 single phase, 202 split phase, 203 three phase (wye),
                        by the phases the meter's register map has (``model_id``)
    40177  0xFFFF, 0    end

The model tables and their encoder are core/sunspec.py's (the client side reads the same
tables): the meter model's table is parsed once into a small plan (``_plan``: a 210-byte
template and the ~18 points served); a request encodes only the models it touches, from the
poller's latest values (~3 KB transient, measured on the unix port). Integer points get a
scale factor per group, chosen for the values of the moment: the quantity's decimals
(quantities.decimals) unless the group's largest value needs a coarser one to fit the
register; read a model in one request (as SunSpec clients do) to get values and scale
factors of the same moment.
"""
import math
import struct

from gateway.core import sunspec
from gateway.core.quantities import decimals

BASE = 40000
COMMON_AT = 2  # offsets from BASE: the common model's id
COMMON_LEN = 66
METER_AT = COMMON_AT + 2 + COMMON_LEN  # 70: the meter model's id
METER_LEN = 105
POINTS_FIRST = METER_AT + 2  # 72: the meter model's first point
POINTS_END = POINTS_FIRST + METER_LEN  # 177: the end marker
LEN = POINTS_END + 2  # 179 registers
MANUFACTURER = "dingate"
# points the server derives from the phases: the total current, the average L-N voltage
DERIVED = {"A": ("current_l1", "current_l2", "current_l3", 1),
           "PhV": ("voltage_l1", "voltage_l2", "voltage_l3", 0)}
_LIMIT = {"int16": 32767, "acc32": 0xFFFFFFFF}

_models = {}  # meter id -> (meter dict, profile, model id): a profile is read once per config
_plans = {}  # model id -> _plan(): the table is parsed once, not at every request


def model_id(meter):
    """201, 202 or 203: the SunSpec meter model of ``meter``'s phases (what its map reads)."""
    got = _models.get(meter["id"])
    if got is not None and got[0] is meter and got[1] == meter.get("profile"):
        return got[2]
    from gateway.core import profiles

    qs = [s["quantity"] for s in profiles.registers(meter, False)]
    mid = 201
    for q in qs:
        if q.endswith("_l3"):
            mid = 203
            break
        if q.endswith("_l2"):
            mid = 202
    if len(_models) >= 32:  # gateway.core.meters.MAX_METERS
        _models.clear()
    _models[meter["id"]] = (meter, meter.get("profile"), mid)
    return mid


def _mult_decimals(mult):
    return -int(round(math.log10(mult)))  # 0.01 -> 2: a point in % has 2 decimals fewer


def _plan(mid):
    """(template, entries) of meter model ``mid``, built once from its table: ``template`` the
    model's registers with every point "not implemented" and every scale factor 0 (bytes);
    ``entries`` the points served, ``(byte offset, struct format, register limit, sf byte
    offset, quantity or derived tuple, multiplier)``. ~1.2 KB per model id in use (ESP32)."""
    p = _plans.get(mid)
    if p is not None:
        return p
    t = sunspec.table(mid)
    qmap = t["quantities"]
    pts = sunspec.points(t, mid)
    where = {}
    zero = {}
    for name, type_, _sf, off, _n in pts:
        where[name] = off
        if type_ == "sunssf":
            zero[name] = 0
    buf = bytearray(2 * t["len"])
    sunspec.encode_into(buf, pts, zero)
    entries = []
    for name, type_, sf, off, _n in pts:
        if sf is None or type_ not in _LIMIT:
            continue
        q = qmap.get(name) or DERIVED.get(name)
        if q is None:
            continue
        mult = 1
        if isinstance(q, list):
            q, mult = q[0], q[1]
        entries.append((2 * off, ">h" if type_ == "int16" else ">I", _LIMIT[type_],
                        2 * where[sf], q, mult))
    p = (bytes(buf), tuple(entries))
    _plans[mid] = p
    return p


def encode_meter(mid, values, buf=None):
    """The registers (bytearray, after id and length) of meter model ``mid`` holding
    ``values`` {quantity: value}: each point in its unit (``/ mult``), its group's scale factor
    the finest that keeps the quantity's decimals and fits every value of the group."""
    template, entries = _plan(mid)
    if buf is None:
        buf = bytearray(template)
    else:
        buf[:] = template
    factors = {}  # sf byte offset -> scale factor
    got = []
    for off, fmt, limit, sf, q, mult in entries:
        if isinstance(q, tuple):  # derived from the phases: a sum or a mean
            vs = [values[k] for k in q[:3] if values.get(k) is not None]
            if not vs:
                continue
            v = sum(vs) if q[3] else sum(vs) / len(vs)
            dec = decimals(q[0])
        else:
            v = values.get(q)
            if v is None or v is True or v is False or v - v != 0:
                continue
            dec = decimals(q)
            if mult != 1:
                v = v / mult
                dec -= _mult_decimals(mult)
        f = -dec
        while abs(v) * 10 ** -f > limit and f < 10:
            f += 1
        if f > factors.get(sf, -99):
            factors[sf] = f
        got.append((off, fmt, v, sf))
    for sf, f in factors.items():
        struct.pack_into(">h", buf, sf, f)
    for off, fmt, v, sf in got:
        f = factors[sf]
        raw = int(round(v * 10 ** -f)) if f <= 0 else int(round(v / 10 ** f))
        if fmt == ">I" and raw <= 0:
            continue  # 0 is "not implemented" for an accumulator; nothing negative
        struct.pack_into(fmt, buf, off, raw)
    return buf


def common_points(meter, serial):
    from gateway import VERSION

    return {"Mn": MANUFACTURER, "Md": meter.get("profile") or "", "Vr": VERSION,
            "SN": "%s-%d" % (serial, meter["address"]), "DA": meter["address"]}


def _segment(meter, values, serial, at, want_points):
    """The registers (bytes) of the part of the device that starts at offset ``at``."""
    if at == 0:
        return struct.pack(">HH", *sunspec.SUNS)
    if at == COMMON_AT:
        buf = bytearray(4 + 2 * COMMON_LEN)
        struct.pack_into(">HH", buf, 0, 1, COMMON_LEN)
        sunspec.encode_into(memoryview(buf)[4:], sunspec.points(sunspec.table(1), 1),
                            common_points(meter, serial))
        return buf
    if at == METER_AT:
        mid = model_id(meter)
        buf = bytearray(4 + 2 * METER_LEN)
        struct.pack_into(">HH", buf, 0, mid, METER_LEN)
        if want_points:
            encode_meter(mid, values or {}, memoryview(buf)[4:])
        return buf
    return struct.pack(">HH", sunspec.END, 0)


def registers(meter, values, first, count, serial=""):
    """Registers ``BASE + first`` .. ``+ count`` (within ``LEN``) of ``meter``'s SunSpec device
    as bytes (big-endian words), its poller values ``values`` ({quantity: value}) in the meter
    model: only the models the range touches are encoded."""
    end = first + count
    out = bytearray()
    for at, top in ((0, COMMON_AT), (COMMON_AT, METER_AT), (METER_AT, POINTS_END),
                    (POINTS_END, LEN)):
        if first < top and end > at:
            seg = _segment(meter, values, serial, at, end > POINTS_FIRST and first < POINTS_END)
            out += seg[2 * (max(first, at) - at):2 * (min(end, top) - at)]
    return out
