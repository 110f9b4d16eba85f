"""Strict and imperfect Modbus devices for tests, served by a real pymodbus server.

A ``StrictDevice`` holds only the registers of its image and answers exception 02 (illegal data
address) to any read that touches another one, as many real meters and inverters do. On purpose
it can also refuse chosen ranges (``refuse``: exception 02 although mapped) or ignore them
(``ignore``: no answer at all, as some devices do). ``StrictLine(devices)`` is an ``RtuPeer``
(raw RTU over TCP: ``url`` for ``dingate emulate --bus``, ``port`` for ``rtu_stream.open_tcp``) whose
line holds these devices; ``requests(address)`` lists the reads each one was sent.

Images are ``{function: {register: u16}}`` built with the firmware's own encoding:
``image_from_specs(specs, values)`` (profile or generic register specs), ``sunspec_image``.
"""
import struct

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData

from gateway.core import registers

from ..emulator import bus
from ..emulator.devices import Device
from .rtu_peer import RtuPeer

# a believable value of each quantity (scan identification checks plausibility)
PLAUSIBLE = {"voltage": 231.5, "current": 4.25, "frequency_hz": 49.98, "power_factor": 0.97,
             "import_kwh": 12873.4, "export_kwh": 2210.8, "soc_pct": 64.0, "battery_v": 52.1}


def plausible(quantity):
    for prefix, v in PLAUSIBLE.items():
        if quantity.startswith(prefix):
            return v
    return 1234.5 if "power" in quantity else 12.5


def _hits(ranges, function, register, count):
    for fc, first, last in ranges:
        if fc == function and register <= last and register + count - 1 >= first:
            return True
    return False


class StrictDevice(Device):
    """``inputs``/``holding``: {register: u16}; ``refuse``/``ignore``: [(function, first, last)]."""

    type = "strict"
    shared = False

    def __init__(self, address, inputs=None, holding=None, refuse=(), ignore=(), name=None):
        super().__init__({"address": address, "name": name or "strict-%d" % address})
        self.inputs = dict(inputs or {})
        self.holding = dict(holding or {})
        self.refuse = list(refuse)
        self.ignore = list(ignore)
        self.log = []  # (function, register, count) of every read request received

    def _image(self):
        return self.inputs, self.holding

    def _blocks(self):
        def block(image):
            if not image:
                return [SimData(0, values=0, datatype=DataType.REGISTERS, readonly=True)]
            lo, hi = min(image), max(image)
            return [SimData(lo, count=hi - lo + 1, values=0, datatype=DataType.REGISTERS,
                            readonly=True)]

        bits = [SimData(0, values=False, datatype=DataType.BITS)]
        return (bits, list(bits), block(self.holding), block(self.inputs))

    async def _action(self, function_code, start_address, address, count, registers,
                      set_values):
        if function_code in (3, 4) and set_values is None:
            image = self.inputs if function_code == 4 else self.holding
            if _hits(self.refuse, function_code, address, count):
                return ExcCodes.ILLEGAL_ADDRESS
            for a in range(address, address + count):
                if a not in image:
                    return ExcCodes.ILLEGAL_ADDRESS
        return await super()._action(function_code, start_address, address, count, registers,
                                     set_values)


class _Backend(bus.PymodbusBackend):
    """The wire in front of pymodbus: logs each read and drops those a device ignores."""

    async def transact(self, frame):
        frame = bytes(frame)
        dev = self._by_addr.get(frame[0]) if len(frame) == 8 and bus.crc_ok(frame) else None
        if isinstance(dev, StrictDevice) and frame[1] in (3, 4):
            register, count = struct.unpack(">HH", frame[2:6])
            dev.log.append((frame[1], register, count))
            if dev.answering() and _hits(dev.ignore, frame[1], register, count):
                dev.counters["dropped"] += 1
                return None
        return await super().transact(frame)


class StrictLine(RtuPeer):
    """An outside RTU line holding ``devices`` (``StrictDevice`` or emulator devices)."""

    def __init__(self, devices):
        self._devices = list(devices)
        super().__init__({"devices": []})

    def _backend(self):
        return _Backend(self._devices)

    def requests(self, address):
        """The reads ``address`` was sent so far: [(function, register, count)]."""
        return self._in_loop(lambda: list(self.backend.device(address).log))

    def clear_log(self):
        def clear():
            for d in self._devices:
                if isinstance(d, StrictDevice):
                    d.log.clear()
        self._in_loop(clear)

    def set_refuse(self, address, ranges):
        self._in_loop(setattr, self.backend.device(address), "refuse", list(ranges))

    def set_ignore(self, address, ranges):
        self._in_loop(setattr, self.backend.device(address), "ignore", list(ranges))


def raw_value(spec, value):
    """The unscaled number a device stores so that ``spec`` reads ``value``."""
    if spec["type"] == "f32":
        return float(value) / spec.get("scale", 1)
    return int(round(value / spec.get("scale", 1)))


def image_from_specs(specs, values=None):
    """``{function: {register: u16}}`` holding ``values[quantity]`` (default: ``plausible``)
    at each spec's registers, encoded as the firmware decodes them (a value whose sign lives in
    a direction register, ``neg``, stored as its magnitude with the direction set)."""
    out = {3: {}, 4: {}}
    values = dict(values or {})
    for s in specs:
        if s.get("neg"):
            v = values.setdefault(s["quantity"], plausible(s["quantity"]))
            values.setdefault(s["neg"], 1 if v < 0 else 0)
            values[s["quantity"]] = abs(v)
    for s in specs:
        v = values.get(s["quantity"], plausible(s["quantity"]))
        words = registers.encode(raw_value(s, v), s["type"], s.get("word_order", "big"))
        for k, w in enumerate(words):
            out[s["function"]][s["register"] + k] = w
    return out


def device_from_specs(address, specs, values=None, **kw):
    img = image_from_specs(specs, values)
    return StrictDevice(address, inputs=img[4], holding=img[3], **kw)


def _text_words(text, n):
    raw = text.encode()[: 2 * n].ljust(2 * n, b"\0")
    return list(struct.unpack(">%dH" % n, raw))


def sunspec_image(manufacturer, model, serial, base=40000, models=()):
    """Holding registers of a SunSpec device: "SunS" at ``base``, common model 1 (manufacturer,
    model, serial), then ``models`` ((id, [words]) ...) and the end marker."""
    regs = [0x5375, 0x6E53, 1, 66]
    common = (_text_words(manufacturer, 16) + _text_words(model, 16) + _text_words("", 8)
              + _text_words("1.0", 8) + _text_words(serial, 16) + [1, 0])
    regs += common
    for mid, words in models:
        regs += [mid, len(words)] + list(words)
    regs += [0xFFFF, 0]
    return {base + i: w for i, w in enumerate(regs)}
