"""Register values and request planning.

A register spec is a dict as in the API's generic meter (CONTRACT §3):
``{"quantity", "function": 3|4, "register": int, "type", "word_order": "big"|"little",
"scale", "unit"}``. Types: u16 s16 (1 word), u32 s32 f32 (2 words), u64 (4 words). Bytes within
a word are always big-endian (Modbus); ``word_order`` "big" = high word first, "little" = low word
first (the "word-swapped" variants of other products).

``plan(specs, max_gap, max_count)`` merges the specs into as few reads as possible: specs of
the same function whose registers are at most ``max_gap`` unused registers apart share one
request of at most ``max_count`` (≤ 125) registers. A block is a tuple
``(function, start, count, items)`` with ``items`` a tuple of ``(offset, spec)``;
``extract(block, words, out)`` puts each spec's value from that block's reply into ``out``.
"""
import struct

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

    Non-finite values (f32 NaN/inf) are left out. Returns ``out``.
    """
    if len(regs) != block[2]:
        raise ValueError("block of %d registers got %d" % (block[2], len(regs)))
    for offset, s in block[3]:
        v = decode(regs, s["type"], s.get("word_order", "big"), s.get("scale", 1), offset)
        if v - v == 0:  # false for NaN and +-inf
            out[s["quantity"]] = v
    return out
