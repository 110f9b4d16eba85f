"""Register values and request planning.

A register spec is a dict as in the API's generic meter (docs/openapi.yaml):
``{"quantity", "function": 3|4, "register": int, "type", "word_order": "big"|"little",
"scale", "unit"}``. Types: u16 s16 (1 word), u32 s32 f32 (2 words), u64 (4 words). Bytes within
a word are always big-endian (Modbus); ``word_order`` "big" = high word first, "little" = low word
first (the "word-swapped" variants of other products).

``plan(specs, max_gap, max_count)`` merges the specs into as few reads as possible: specs of
the same function whose registers are at most ``max_gap`` unused registers apart share one
request of at most ``max_count`` (≤ 125) registers. A block is a tuple
``(function, start, count, items)`` with ``items`` a tuple of ``(offset, spec)``;
``extract(block, words, out)`` puts each spec's value from that block's reply into ``out``.

A device that refuses a merged read (exception 02 for the unused registers it spans) is read
with ``split(block)``: the same specs in gap-free blocks. A plan learned that way is kept as
``ranges(plan)`` (``[[function, start, count], ...]``) and rebuilt with ``assign(specs, ranges)``.
"""
import struct

from gateway.core.quantities import round_value

TYPES = {"u16": 1, "s16": 1, "u32": 2, "s32": 2, "f32": 2, "u64": 4}
_FMT = {"u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "f32": ">f", "u64": ">Q"}
WORD_ORDERS = ("big", "little")
MAX_REGISTERS = 125  # FC3/FC4 limit of one request


def words(type_):
    """Number of 16-bit registers a value of ``type_`` occupies."""
    return TYPES[type_]


def decode(regs, type_="u16", word_order="big", scale=1, offset=0):
    """Value of ``type_`` stored in ``regs[offset:]`` (16-bit ints), multiplied by ``scale``.

    Raises ValueError if ``regs`` is too short or ``type_``/``word_order`` is unknown.
    Integers stay integers when ``scale`` is an int; f32 NaN/inf are returned as they are.
    """
    if type_ not in TYPES:
        raise ValueError("unknown type %r" % (type_,))
    n = TYPES[type_]
    if offset < 0 or len(regs) - offset < n:
        raise ValueError("%s needs %d registers at offset %d" % (type_, n, offset))
    ws = regs[offset : offset + n]
    if word_order == "little":
        ws = ws[::-1]
    elif word_order != "big":
        raise ValueError("unknown word order %r" % (word_order,))
    v = struct.unpack(_FMT[type_], struct.pack(">%dH" % n, *ws))[0]
    if scale != 1:
        v = v * scale
    return v


def encode(value, type_="u16", word_order="big"):
    """The 16-bit registers holding ``value`` as ``type_`` (inverse of ``decode`` with scale 1)."""
    n = TYPES[type_]
    ws = list(struct.unpack(">%dH" % n, struct.pack(_FMT[type_], value)))
    if word_order == "little":
        ws.reverse()
    return ws


def plan(specs, max_gap=0, max_count=MAX_REGISTERS):
    """Fewest read blocks covering ``specs`` (see the module docstring); sorted by function, start."""
    if max_count > MAX_REGISTERS:
        max_count = MAX_REGISTERS
    order = sorted(specs, key=lambda s: (s["function"], s["register"]))
    blocks = []
    fc = start = end = -1
    items = None
    for s in order:
        f = s["function"]
        if f not in (3, 4):
            raise ValueError("function %r cannot be planned" % (f,))
        reg = s["register"]
        top = reg + TYPES[s["type"]]  # one past the last register
        if top > 0x10000 or reg < 0:
            raise ValueError("register 0x%X out of range" % reg)
        if f == fc and reg - end <= max_gap and max(top, end) - start <= max_count:
            if top > end:
                end = top
        else:
            if items is not None:
                blocks.append((fc, start, end - start, tuple(items)))
            fc, start, end, items = f, reg, top, []
        items.append((reg - start, s))
    if items is not None:
        blocks.append((fc, start, end - start, tuple(items)))
    return blocks


def extract(block, regs, out):
    """Decode every spec of ``block`` from its reply ``regs`` into ``out`` {quantity: value}.

    Non-finite values (f32 NaN/inf) are left out; the others are rounded to the register's
    resolution (``quantities.round_value``). Returns ``out``.
    """
    if len(regs) != block[2]:
        raise ValueError("block of %d registers got %d" % (block[2], len(regs)))
    for offset, s in block[3]:
        t, scale = s["type"], s.get("scale", 1)
        v = decode(regs, t, s.get("word_order", "big"), scale, offset)
        if v - v == 0:  # false for NaN and +-inf
            out[s["quantity"]] = round_value(v, t, scale)
    return out


def split(block):
    """The gap-free blocks (no unused register inside) covering ``block``'s specs; ``[block]``
    if it has no gap."""
    fc, start = block[0], block[1]
    parts = []
    items = []
    lo = hi = -1
    for offset, s in sorted(block[3], key=lambda it: it[0]):
        reg = start + offset
        top = reg + TYPES[s["type"]]
        if items and reg > hi:
            parts.append((fc, lo, hi - lo, tuple((r - lo, x) for r, x in items)))
            items = []
        if not items:
            lo = hi = reg
        items.append((reg, s))
        if top > hi:
            hi = top
    if items:
        parts.append((fc, lo, hi - lo, tuple((r - lo, x) for r, x in items)))
    if len(parts) == 1 and parts[0][1] == start and parts[0][2] == block[2]:
        return [block]
    return parts


def ranges(plan):
    """``[[function, start, count], ...]`` of a plan (what is kept on flash)."""
    return [[b[0], b[1], b[2]] for b in plan]


def assign(specs, ranges_):
    """Blocks of ``ranges_`` holding the specs that fit wholly inside one of them; the specs
    that fit in none get gap-free blocks of their own. Ranges left empty are dropped."""
    groups = [[] for _ in ranges_]
    rest = []
    for s in specs:
        reg = s["register"]
        top = reg + TYPES[s["type"]]
        for i, r in enumerate(ranges_):
            if r[0] == s["function"] and r[1] <= reg and top <= r[1] + r[2]:
                groups[i].append((reg - r[1], s))
                break
        else:
            rest.append(s)
    out = [(r[0], r[1], r[2], tuple(g)) for r, g in zip(ranges_, groups) if g]
    out.extend(plan(rest, 0))
    out.sort(key=lambda b: (b[0], b[1]))
    return out


def finish(blocks, values, hidden=None):
    """After all ``blocks`` of a read: drop the values equal to their spec's ``na`` (a device's
    "not implemented"), apply scale-factor registers (a spec's ``sf``: the hidden quantity
    holding a power of ten, times its ``mult``; SunSpec), negate the values whose ``neg`` names a
    hidden quantity that is non-zero (a magnitude with its direction in another register; the
    value is dropped when the direction was not read), count the alarms of fault registers
    (specs with ``fault``, see alarms.py) into ``alarms``, and move the hidden (``_``)
    quantities out of ``values`` (into ``hidden`` if given). A value whose scale factor is
    missing or not implemented is dropped. Returns ``values``."""
    found = False
    alarms = None
    for b in blocks:
        for _, s in b[3]:
            q = s["quantity"]
            if q[0] == "_":
                found = True
                if "fault" in s and q in values:
                    from gateway.core.alarms import codes

                    alarms = (alarms or 0) + len(codes(s["fault"], values[q]))
                continue
            v = values.get(q)
            if v is None:
                continue
            if "na" in s and v == s["na"]:
                del values[q]
                continue
            sfq = s.get("sf")
            if sfq is not None:
                sf = values.get(sfq)
                if sf is None or not -10 <= sf <= 10:
                    del values[q]
                    continue
                m = s.get("mult", 1) * 10 ** sf
                values[q] = v = round_value(v * m, "s16", m)
            nq = s.get("neg")
            if nq is not None:
                d = values.get(nq)
                if d is None:
                    del values[q]
                elif d:
                    values[q] = -v
    if found:
        for k in [k for k in values if k[0] == "_"]:
            v = values.pop(k)
            if hidden is not None:
                hidden[k] = v
    if alarms is not None:
        values["alarms"] = alarms
    return values
