"""Register encoding of the emulated devices: values as 16-bit registers and back.

pymodbus's codec, not the firmware's (gateway/core/registers.py): the emulated devices are an
independent oracle for what the gateway decodes (docs/decisions/0005).
"""

from __future__ import annotations

from pymodbus.client.mixin import ModbusClientMixin as _Codec

_DT = _Codec.DATATYPE
DATATYPES = {"u16": _DT.UINT16, "s16": _DT.INT16, "u32": _DT.UINT32, "s32": _DT.INT32,
             "u64": _DT.UINT64, "s64": _DT.INT64, "f32": _DT.FLOAT32}
RANGES = {"u16": (0, 0xFFFF), "s16": (-0x8000, 0x7FFF), "u32": (0, 0xFFFFFFFF),
          "s32": (-0x80000000, 0x7FFFFFFF), "u64": (0, 2**64 - 1), "s64": (-2**63, 2**63 - 1),
          "f32": (-3.4e38, 3.4e38)}


def register_count(typ: str) -> int:
    """16-bit registers a value of type ``typ`` takes."""
    return DATATYPES[typ].value[1]


def encode_value(value, typ: str, word_order: str = "big") -> list[int]:
    """A value as 16-bit registers. word_order "little" = least significant word first."""
    v = float(value) if typ == "f32" else int(value)
    return _Codec.convert_to_registers(v, DATATYPES[typ], word_order=word_order)


def decode_value(regs, typ: str, word_order: str = "big"):
    """Inverse of encode_value (used by the tests and handy for the lead's checks)."""
    return _Codec.convert_from_registers([int(r) for r in regs], DATATYPES[typ],
                                         word_order=word_order)


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def float_image(entries: dict) -> dict:
    """{address: float} -> {address: u16} of big-endian float32 pairs (high word first)."""
    out = {}
    for addr, val in entries.items():
        hi, lo = encode_value(val, "f32")
        out[addr] = hi
        out[addr + 1] = lo
    return out
