"""The emulated generic device ("generic").

Register addresses are 0-based protocol addresses, as sent in the request.

Generic device ("generic") -- the same registers answer FC3 and FC4, range 0x0000..0x003F
(plus any scenario ``registers``). "little" word order = least significant 16-bit word first,
bytes inside a word always big-endian (the usual "word swapped" variant)::

    0x0000 u16 big       12345
    0x0001 s16 big       -12345
    0x0002 u32 big       305419896 (0x12345678)      0x0004 u32 little  305419896
    0x0006 s32 big       -123456789                  0x0008 s32 little  -123456789
    0x000A u64 big       1234567890123456789         0x000E u64 little  1234567890123456789
    0x0012 f32 big       230.5                       0x0014 f32 little  230.5
    0x0016 f32 big       live power W (daily curve)  0x0018 f32 big     live import kWh
    0x001A u32 big       live import energy Wh       0x001C s16         live power W
    0x001D u16           reads served (wraps)
    0x0000..0x002F read-only (writes: exception 02); 0x0030..0x003F read/write scratch.
    Scenario "registers": [{"register", "type", "word_order", "value", "writable"}] add or
    override values anywhere (decimal or "0x.." register numbers); "writable" is honoured
    outside the read-only 0x0000..0x002F.
"""

from __future__ import annotations

from pymodbus.simulator import DataType, SimData

from .base import Device
from .codec import clamp, encode_value
from .profiles import daily_power

GENERIC_FIXED = [
    # (register, type, word_order, value)
    (0x0000, "u16", "big", 12345),
    (0x0001, "s16", "big", -12345),
    (0x0002, "u32", "big", 0x12345678),
    (0x0004, "u32", "little", 0x12345678),
    (0x0006, "s32", "big", -123456789),
    (0x0008, "s32", "little", -123456789),
    (0x000A, "u64", "big", 1234567890123456789),
    (0x000E, "u64", "little", 1234567890123456789),
    (0x0012, "f32", "big", 230.5),
    (0x0014, "f32", "little", 230.5),
]


class GenericDevice(Device):
    """Every data type and word order at documented registers (map in the module docstring)."""

    type = "generic"

    def __init__(self, spec, clock=None, seed=1, line=None):
        super().__init__(spec, clock, seed, line)
        self.profile = spec.get("profile", "load")
        self.base_w = float(spec.get("base_w", 150))
        self.peak_w = float(spec.get("peak_w", 2000))
        self.power_w = float(spec.get("power_w", 1000))
        self.noise = float(spec.get("noise", 0.03))
        self.import_kwh = float(spec.get("import_kwh", 0))
        self.reads = 0
        self.custom = list(spec.get("registers") or [])
        self._static = {}
        for reg, typ, wo, val in GENERIC_FIXED:
            for k, r in enumerate(encode_value(val, typ, wo)):
                self._static[reg + k] = r
        self._writable_custom = set()
        for c in self.custom:
            regs = encode_value(c["value"], c["type"], c["word_order"])
            for k, r in enumerate(regs):
                self._static[c["register"] + k] = r
                if c.get("writable"):
                    self._writable_custom.add(c["register"] + k)
        self.refresh()

    def _advance(self, t0, t1):
        p0 = daily_power(t0, self.profile, self.base_w, self.peak_w, self.power_w)
        p1 = daily_power(t1, self.profile, self.base_w, self.peak_w, self.power_w)
        self.import_kwh += (max(p0, 0.0) + max(p1, 0.0)) / 2.0 * (t1 - t0) / 3.6e6

    def _on_read(self):
        self.reads = (self.reads + 1) & 0xFFFF

    def _image(self):
        p = daily_power(self._t_last, self.profile, self.base_w, self.peak_w, self.power_w)
        if self.noise:
            p *= 1.0 + self.rng.gauss(0.0, self.noise)
        regs = {a: v for a, v in self._static.items() if a not in self._writable_custom}
        for a, val, typ in ((0x0016, p, "f32"), (0x0018, self.import_kwh, "f32"),
                            (0x001A, min(int(self.import_kwh * 1000), 0xFFFFFFFF), "u32"),
                            (0x001C, int(clamp(round(p), -0x8000, 0x7FFF)), "s16")):
            for k, r in enumerate(encode_value(val, typ)):
                regs[a + k] = r
        regs[0x001D] = self.reads
        self.values = {"power_w": p, "import_kwh": self.import_kwh}
        return regs, {}

    def _blocks(self):
        blocks = [SimData(0x0000, count=0x30, values=0, datatype=DataType.REGISTERS,
                          readonly=True),
                  SimData(0x0030, count=0x10, values=0, datatype=DataType.REGISTERS)]
        fixed_end = 0x40
        for c in sorted(self.custom, key=lambda c: c["register"]):
            n = len(encode_value(c["value"], c["type"], c["word_order"]))
            a = c["register"]
            if a + n <= fixed_end:
                continue  # overrides inside the built-in range: image only
            start = max(a, fixed_end)
            blocks.append(SimData(start, count=a + n - start, values=0,
                                  datatype=DataType.REGISTERS, readonly=not c.get("writable")))
            fixed_end = a + n
        # initial values for writable custom registers (the image does not overwrite them)
        for c in self.custom:
            if c.get("writable"):
                for k, r in enumerate(encode_value(c["value"], c["type"], c["word_order"])):
                    a = c["register"] + k
                    for b in blocks:
                        if not isinstance(b.values, list):
                            b.values = [b.values] * b.count
                            b.count = 1
                        if b.address <= a < b.address + len(b.values):
                            b.values[a - b.address] = r
        return blocks

