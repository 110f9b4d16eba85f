"""SunSpec devices: discovery of the model chain, model tables as data, point decoding.

A SunSpec device holds "SunS" at a base address (40000, 50000 or 0, holding registers), then a
chain of models, each ``[id, length, <length registers>]``, ended by id 0xFFFF. ``discover``
walks the chain; a meter keeps what it found as its ``"sunspec"`` layout ``[[id, address], ...]``
(address: the model's first point, after id and length). ``specs(layout)`` turns a layout into
register specs for the poller: the points a table maps to quantities, each integer point with
its scale-factor register as a hidden spec (quantity ``_sf<address>``), applied after the read
by ``registers.finish`` (which also drops SunSpec's "not implemented" values).

Model tables are data, ``profiles/sunspec/<file>.json`` (``FILES``), parsed for the call only::

    {"ids": [201, ...], "len": 105, "points": [[name, type, sf point | string length], ...],
     "quantities": {point: quantity | [quantity, multiplier]}, "names": {"201": {point: name}}}

The same tables decode (``decode``) and encode (``encode``, a whole device: ``image``) a model's
registers, so the Modbus TCP server can serve SunSpec from them too (issue 14).
"""
import json
import struct

from gateway.core import profiles

BASES = (40000, 50000, 0)
SUNS = (0x5375, 0x6E53)
END = 0xFFFF
MAX_MODELS = 32
FILES = {1: "common", 101: "inverter", 102: "inverter", 103: "inverter", 111: "inverter_float",
         112: "inverter_float", 113: "inverter_float", 124: "storage", 201: "meter", 202: "meter",
         203: "meter", 204: "meter", 211: "meter_float", 212: "meter_float", 213: "meter_float",
         214: "meter_float", 802: "battery"}
# SunSpec type: (registers, our register type, raw "not implemented" value)
TYPES = {
    "int16": (1, "s16", -32768), "uint16": (1, "u16", 0xFFFF), "acc16": (1, "u16", 0),
    "enum16": (1, "u16", 0xFFFF), "bitfield16": (1, "u16", 0xFFFF), "sunssf": (1, "s16", -32768),
    "pad": (1, "u16", None), "count": (1, "u16", None),
    "int32": (2, "s32", -0x80000000), "uint32": (2, "u32", 0xFFFFFFFF), "acc32": (2, "u32", 0),
    "enum32": (2, "u32", 0xFFFFFFFF), "bitfield32": (2, "u32", 0xFFFFFFFF),
    "float32": (2, "f32", None), "acc64": (4, "u64", 0), "uint64": (4, "u64", 0xFFFFFFFFFFFFFFFF),
}


def table(model_id):
    """The parsed table of ``model_id``, or None for a model the library does not hold."""
    name = FILES.get(model_id)
    if name is None:
        return None
    with open("%s/sunspec/%s.json" % (profiles.DIR, name)) as f:
        return json.load(f)


def points(t, model_id=None):
    """[(name, sunspec type, sf point or None, offset, registers)] of table ``t``."""
    rename = (t.get("names") or {}).get(str(model_id)) or {}
    out = []
    off = 0
    for p in t["points"]:
        if p[1] == "string":
            n, sf = p[2], None
        else:
            n, sf = TYPES[p[1]][0], (p[2] if len(p) > 2 else None)
        out.append((rename.get(p[0], p[0]), p[1], sf, off, n))
        off += n
    return out


def _raw(words, type_, off, n):
    from gateway.core import registers

    if type_ == "string":
        b = struct.pack(">%dH" % n, *words[off:off + n])
        return b.split(b"\0")[0].decode("utf-8", "replace")
    return registers.decode(words, TYPES[type_][1], "big", 1, off)


def implemented(type_, raw):
    if type_ == "string":
        return raw != ""
    if type_ == "float32":
        return raw - raw == 0  # NaN (0x7FC00000) and inf: not implemented
    return raw != TYPES[type_][2]


def scaled(raw, sf, mult=1):
    """``raw`` x 10**sf (x ``mult``), rounded to the decimals the scale factor gives."""
    from gateway.core.quantities import round_value

    m = mult * 10 ** sf
    return round_value(raw * m, "s16", m)


def decode(model_id, words):
    """{point: value} of every point of ``model_id`` in ``words`` (its registers after id and
    length): scaled by its scale factor, None where not implemented (as pysunspec2 reads it)."""
    t = table(model_id)
    pts = points(t, model_id)
    raw = {}
    for name, type_, _sf, off, n in pts:
        if off + n <= len(words):
            v = _raw(words, type_, off, n)
            raw[name] = v if implemented(type_, v) else None
    out = {}
    for name, _type, sf, _off, _n in pts:
        v = raw.get(name)
        if v is not None and sf is not None:
            f = raw.get(sf)
            v = None if f is None else (scaled(v, f) if f else v)
        out[name] = v
    return out


def encode(model_id, values):
    """The registers (after id and length) of ``model_id`` holding ``values`` {point: raw value},
    "not implemented" for the points not given."""
    t = table(model_id)
    buf = bytearray(2 * t["len"])
    encode_into(buf, points(t, model_id), values)
    return list(struct.unpack(">%dH" % t["len"], buf))


def encode_into(buf, pts, values):
    """Write ``values`` {point: raw value} into ``buf`` (a zeroed bytearray of the model's
    registers after id and length) at the places of ``pts`` (``points()``), "not implemented"
    for the points not given: no list of words (the Modbus TCP server answers from ``buf``)."""
    from gateway.core.registers import _FMT

    for name, type_, _sf, off, n in pts:
        v = values.get(name)
        o = 2 * off
        if type_ == "string":
            b = (v or "").encode()[:2 * n]
            buf[o:o + len(b)] = b
            continue
        kind = TYPES[type_]
        if v is None:
            v = kind[2] if kind[2] is not None else (float("nan") if type_ == "float32" else 0)
        struct.pack_into(_FMT[kind[1]], buf, o, v)


def image(models, base=40000):
    """Holding registers ``{address: word}`` of a whole SunSpec device: "SunS" at ``base``, each
    of ``models`` (``(id, {point: raw value})``) with its id and length, the end marker."""
    regs = list(SUNS)
    for mid, values in models:
        words = encode(mid, values)
        regs += [mid, len(words)] + words
    regs += [END, 0]
    return dict((base + i, w) for i, w in enumerate(regs))


async def discover(read, bases=BASES):
    """``{"base", "models": [[id, address], ...], "manufacturer", "model", "serial"}`` of the
    SunSpec device ``read(function, register, count)`` reaches (None: no "SunS" marker)."""
    for base in bases:
        if tuple(await read(3, base, 2) or ()) != SUNS:
            continue
        out = {"base": base, "models": []}
        addr = base + 2
        while len(out["models"]) < MAX_MODELS:
            head = await read(3, addr, 2)
            if not head or head[0] in (END, 0):
                break
            mid, n = head[0], head[1]
            out["models"].append([mid, addr + 2])
            if mid == 1 and n >= 64:
                common = await read(3, addr + 2, 64)
                if common:
                    d = decode(1, common)
                    out["manufacturer"], out["model"], out["serial"] = d["Mn"], d["Md"], d["SN"]
            addr += 2 + n
        return out
    return None


def specs(layout):
    """Register specs of the mapped points of ``layout`` ([[id, address], ...]): one per
    quantity (a later model of the chain overrides an earlier one), then the scale factors."""
    chosen = {}
    for mid, addr in layout:
        t = table(mid)
        if t is None or not t.get("quantities"):
            continue
        qmap = t["quantities"]
        pts = points(t, mid)
        where = dict((p[0], p) for p in pts)
        for name, type_, sf, off, _n in pts:
            q = qmap.get(name)
            if q is None:
                continue
            mult = 1
            if isinstance(q, list):
                q, mult = q[0], q[1]
            kind = TYPES[type_]
            s = {"quantity": q, "function": 3, "register": addr + off, "type": kind[1]}
            if type_ == "float32":
                if mult != 1:
                    s["scale"] = mult
            else:
                if kind[2] is not None:
                    s["na"] = kind[2]
                if sf is not None:
                    s["sf"] = "_sf%d" % (addr + where[sf][3])
                    s["mult"] = mult
                elif mult != 1:
                    s["scale"] = mult
            chosen[q] = s
    out = list(chosen.values())
    sfs = sorted(set(s["sf"] for s in out if "sf" in s))
    for q in sfs:
        out.append({"quantity": q, "function": 3, "register": int(q[3:]), "type": "s16"})
    return out


def check_layout(value):
    """A meter's ``"sunspec"`` layout from the API, normalised; ValueError if malformed."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_MODELS:
        raise ValueError("sunspec must be a list of [model id, address] pairs")
    out = []
    for pair in value:
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
                or not 1 <= pair[0] < END or not 0 <= pair[1] <= 0xFFFF):
            raise ValueError("sunspec must be a list of [model id, address] pairs")
        out.append([pair[0], pair[1]])
    return out
