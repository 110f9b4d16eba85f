"""Emulated RS485 devices: the register maps and the values behind them.

Each device is a plain model (values evolving with a simulation clock) plus a pymodbus
``SimDevice`` whose ``action`` hook refreshes the registers from the model on every access, so
the answers on the wire come out of a real pymodbus server (see bus.PymodbusBackend).

Register maps (addresses are 0-based protocol addresses, as sent in the request):

Eastron SDM630 (three phase) -- input registers, FC4, IEEE-754 float32, big-endian (high word
first), two registers per value. The whole range 0x0000..0x017F reads (unlisted registers read 0),
so merged reads across the map's holes work as on the meter::

    0x0000 0x0002 0x0004  L1/L2/L3 voltage V        0x0006 0x0008 0x000A  L1/L2/L3 current A
    0x000C 0x000E 0x0010  L1/L2/L3 active power W   0x0012 0x0014 0x0016  L1/L2/L3 apparent VA
    0x0018 0x001A 0x001C  L1/L2/L3 reactive VAr     0x001E 0x0020 0x0022  L1/L2/L3 power factor
    0x0024 0x0026 0x0028  L1/L2/L3 phase angle deg  0x002A average L-N voltage V
    0x002E average current A                        0x0030 sum of line currents A
    0x0034 total system power W (negative = export) 0x0038 total VA   0x003C total VAr
    0x003E total power factor                       0x0042 total phase angle deg
    0x0046 frequency Hz                             0x0048 import active energy kWh
    0x004A export active energy kWh                 0x004C / 0x004E import / export kVArh
    0x0054 total system power demand W              0x0056 maximum total power demand W
    0x00C8 0x00CA 0x00CC  L1-L2 / L2-L3 / L3-L1 voltage V   0x00CE average L-L voltage V
    0x00E0 neutral current A                        0x0156 total active energy kWh
    0x0158 total reactive energy kVArh

Eastron SDM120 (single phase) -- same encoding, range 0x0000..0x017F::

    0x0000 voltage V  0x0006 current A  0x000C active power W  0x0012 apparent VA
    0x0018 reactive VAr  0x001E power factor  0x0024 phase angle deg  0x0046 frequency Hz
    0x0048 import kWh  0x004A export kWh  0x004C / 0x004E import / export kVArh
    0x0156 total kWh  0x0158 total kVArh

Both Eastron meters also answer FC3 (holding, read-only here, float32) 0x0000..0x002F:
0x000A system type (3 = 3P4W, 1 = 1P2W), 0x0014 parity/stop code (0 = N1, 1 = E1, 2 = O1,
3 = N2), 0x0016 Modbus address, 0x001C baud code (0 = 2400, 1 = 4800, 2 = 9600, 3 = 19200,
4 = 38400, 5 = 57600, 6 = 115200). Coil/discrete reads: exception 01 (illegal function).

Battery / inverter ("battery") -- the same registers answer FC3 and FC4, range 0x0100..0x010F
(anything else: exception 02), big-endian, read-only::

    0x0100 u16  x1     state of charge %              (soc_pct)
    0x0101 u16  x0.01  battery voltage V
    0x0102 s16  x0.1   battery current A              (+ charging, - discharging)
    0x0103 s16  x1     battery power W                (+ charging, - discharging)
    0x0104 u16  x1     AC load power W
    0x0105 u16         generator input running        (1 = genset running / AC-in present)
    0x0106 s16  x0.1   battery temperature degC
    0x0107 u16         state: 0 idle, 1 charging, 2 discharging, 3 full
    0x0108 f32         state of charge % (float, big-endian word order)
    0x010A u32  x0.01  total charged energy kWh       (big-endian word order)
    0x010C u32  x0.01  total discharged energy kWh
    0x010E u16  x1     capacity Ah at nominal voltage
    0x010F u16         reserved (0)

SOC either follows a scenario profile (``soc_profile``: [[t_s, soc], ...], linear interpolation,
looping with the period of the last point) or physics: discharge at ``load_w`` until empty,
charge at ``charge_w`` (tapering above 90 %) while ``set_generator_running(True)``.

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

import math
import random
import time

from pymodbus.client.mixin import ModbusClientMixin as _Codec
from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

# ------------------------------------------------------------------------- value encoding
# pymodbus's codec, not the firmware's (gateway/core/registers.py): the emulated devices are an
# independent oracle for what the gateway decodes (docs/decisions/0005).

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


def _clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


# ------------------------------------------------------------------------- clock


class SimClock:
    """Simulated epoch seconds: start + (monotonic elapsed) * time_scale + manual offset.

    ``advance(s)`` jumps simulated time forward (tests, "fast forward" buttons).
    """

    def __init__(self, time_scale: float = 1.0, start: float | None = None, monotonic=None):
        self._mono = monotonic or time.monotonic
        self.time_scale = float(time_scale)
        self._t0 = self._mono()
        self._start = time.time() if start is None else float(start)
        self._offset = 0.0

    def now(self) -> float:
        return self._start + (self._mono() - self._t0) * self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        self._offset += seconds


class ManualClock:
    """A clock that moves only when told (unit tests)."""

    def __init__(self, start: float = 1_767_225_600.0):
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        self.t += seconds


def _hour_of_day(t: float) -> float:
    lt = time.localtime(t)
    return lt.tm_hour + lt.tm_min / 60.0 + (lt.tm_sec + (t % 1.0)) / 3600.0


def _gauss_bump(h, center, width):
    d = (h - center + 12.0) % 24.0 - 12.0
    return math.exp(-0.5 * (d / width) ** 2)


def daily_power(t: float, profile: str, base_w: float, peak_w: float,
                power_w: float = 0.0) -> float:
    """Smooth plausible power (W, + import / - export) at simulated epoch t, no noise.

    load      base load plus a morning (7:30) and a larger evening (19:00) peak reaching peak_w
    pv        a house with solar: base load minus a sine-shaped PV day (6:00..20:00, peak_w at
              13:00) -- exports around noon
    constant  power_w all the time
    """
    if profile == "constant":
        return power_w
    h = _hour_of_day(t)
    if profile == "pv":
        sun = math.sin(math.pi * (h - 6.0) / 14.0) if 6.0 < h < 20.0 else 0.0
        return base_w - peak_w * max(0.0, sun)
    shape = 0.55 * _gauss_bump(h, 7.5, 1.0) + 1.0 * _gauss_bump(h, 19.0, 1.8) \
        + 0.2 * _gauss_bump(h, 12.5, 2.0)
    return base_w + (peak_w - base_w) * min(1.0, shape)


# ------------------------------------------------------------------------- devices


class Device:
    """Base: address, name, faults, the pymodbus SimDevice and the register image.

    Subclasses implement ``_advance(t0, t1)`` (integrate state) and ``_image(t)`` returning
    ``(shared_or_input_regs, holding_regs)`` dicts {address: u16}.
    """

    type = ""
    shared = True            # FC3 and FC4 read the same registers
    bit_functions = False    # coil/discrete reads allowed

    def __init__(self, spec: dict, clock=None, seed: int = 1, line: dict | None = None):
        self.spec = spec
        self.address = int(spec["address"])
        self.name = spec.get("name") or f"{self.type}-{self.address}"
        self.clock = clock or SimClock()
        self.line = line
        self.rng = random.Random(seed * 1000 + self.address)
        self.fault_rng = random.Random(seed * 7919 + self.address)
        self.turnaround_ms = float(spec.get("turnaround_ms", 3.0))
        self.slow_ms = float(spec.get("slow", 0) or 0)
        self.silent = bool(spec.get("silent", False))
        self.flap = spec.get("flap")
        self.crc_error_rate = float(spec.get("crc_error_rate", 0) or 0)
        self.noise_rate = float(spec.get("noise_rate", 0) or 0)
        self._t_created = self.clock.now()
        self._t_last = self._t_created
        self.values: dict = {}
        self.counters = {"requests": 0, "answered": 0, "dropped": 0, "crc_corrupted": 0,
                         "noise_bursts": 0}
        self._simdevice: SimDevice | None = None

    # --- faults
    @property
    def turnaround_s(self) -> float:
        return (self.turnaround_ms + self.slow_ms) / 1000.0

    def answering(self) -> bool:
        """False while the device is silent or in the off part of its flap cycle."""
        if self.silent:
            return False
        if self.flap:
            period = self.flap["period_s"]
            phase = ((self.clock.now() - self._t_created) % period) / period
            return phase < self.flap["duty"]
        return True

    # --- model
    def refresh(self) -> None:
        """Bring the model up to the clock's now (integrates in steps of <= 60 s)."""
        t1 = self.clock.now()
        t0 = self._t_last
        if t1 > t0:
            step = self._max_step()
            t = t0
            while t < t1:
                tn = min(t1, t + step)
                self._advance(t, tn)
                t = tn
            self._t_last = t1

    def _max_step(self) -> float:
        return 60.0

    def _advance(self, t0: float, t1: float) -> None:
        pass

    def _image(self) -> tuple[dict, dict]:
        return {}, {}

    def registers(self) -> tuple[dict, dict]:
        """Refresh and return (input-or-shared registers, holding registers)."""
        self.refresh()
        return self._image()

    # --- pymodbus
    def _blocks(self) -> list[SimData] | tuple:
        raise NotImplementedError

    def simdevice(self) -> SimDevice:
        if self._simdevice is None:
            self._simdevice = SimDevice(id=self.address, simdata=self._blocks(),
                                        action=self._action)
        return self._simdevice

    async def _action(self, function_code, start_address, address, count, registers,
                      set_values):
        if function_code in (1, 2, 5, 15) and not self.bit_functions:
            return ExcCodes.ILLEGAL_FUNCTION
        if function_code in (1, 2, 5, 15):
            return None
        if set_values is None or function_code == 23:
            regs, holding = self.registers()
            image = holding if (function_code != 4 and not self.shared) else regs
            n = len(registers)
            for a in range(address, address + count):
                val = image.get(a)
                i = a - start_address
                if val is not None and 0 <= i < n:
                    registers[i] = val
            self._on_read()
        return None

    def _on_read(self):
        pass

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} @{self.address}>"


def _float_image(entries: dict) -> dict:
    out = {}
    for addr, val in entries.items():
        hi, lo = encode_value(val, "f32")
        out[addr] = hi
        out[addr + 1] = lo
    return out


_BAUD_CODES = {2400: 0, 4800: 1, 9600: 2, 19200: 3, 38400: 4, 57600: 5, 115200: 6}
_PARITY_CODES = {("N", 1): 0, ("E", 1): 1, ("O", 1): 2, ("N", 2): 3}


class EastronMeter(Device):
    """SDM630 / SDM120 with a daily power curve; energy counters integrate it."""

    shared = False
    phases = 3

    def __init__(self, spec, clock=None, seed=1, line=None):
        super().__init__(spec, clock, seed, line)
        self.profile = spec.get("profile", "load")
        self.base_w = float(spec.get("base_w", 400))
        self.peak_w = float(spec.get("peak_w", 6000))
        self.power_w = float(spec.get("power_w", 1000))
        self.noise = float(spec.get("noise", 0.03))
        self.v_nom = float(spec.get("voltage", 230))
        self.f_nom = float(spec.get("frequency", 50))
        self.pf_nom = float(spec.get("power_factor", 0.95))
        self.import_kwh = float(spec.get("import_kwh", 0))
        self.export_kwh = float(spec.get("export_kwh", 0))
        self.import_kvarh = 0.0
        self.export_kvarh = 0.0
        self.max_demand_w = 0.0
        self._demand_w = 0.0
        line = self.line or {}
        par = (line.get("parity", "N"), int(line.get("stop", 1)))
        self._holding = _float_image({
            0x000A: 3.0 if self.phases == 3 else 1.0,
            0x0014: float(_PARITY_CODES.get(par, 0)),
            0x0016: float(self.address),
            0x001C: float(_BAUD_CODES.get(int(line.get("baud", 9600)), 2)),
        })
        # phase shares drift slowly; fixed per device
        if self.phases == 3:
            a, b = 0.3 + 0.2 * self.rng.random(), 0.25 + 0.15 * self.rng.random()
            self.shares = (a, b, max(0.05, 1.0 - a - b))
            s = sum(self.shares)
            self.shares = tuple(x / s for x in self.shares)
        else:
            self.shares = (1.0,)
        self.refresh()

    def power_at(self, t: float) -> float:
        return daily_power(t, self.profile, self.base_w, self.peak_w, self.power_w)

    def _advance(self, t0, t1):
        p0, p1 = self.power_at(t0), self.power_at(t1)
        dt_h = (t1 - t0) / 3600.0
        # trapezoid on the positive and negative parts separately
        pos = (max(p0, 0.0) + max(p1, 0.0)) / 2.0
        neg = (max(-p0, 0.0) + max(-p1, 0.0)) / 2.0
        self.import_kwh += pos * dt_h / 1000.0
        self.export_kwh += neg * dt_h / 1000.0
        q = math.tan(math.acos(self.pf_nom))
        self.import_kvarh += pos * q * dt_h / 1000.0
        self.export_kvarh += neg * q * dt_h / 1000.0
        # 15-minute sliding demand (exponential)
        k = 1.0 - math.exp(-(t1 - t0) / 900.0)
        self._demand_w += (abs(p1) - self._demand_w) * k
        self.max_demand_w = max(self.max_demand_w, self._demand_w)

    def _jitter(self, sigma):
        return self.rng.gauss(0.0, sigma) if sigma > 0 else 0.0

    def _image(self):
        t = self._t_last
        p = self.power_at(t) * (1.0 + self._jitter(self.noise))
        noisy = self.noise > 0
        hz = self.f_nom + (0.02 * math.sin(t / 37.0) + self._jitter(0.005) if noisy else 0.0)
        pf = self.pf_nom if not noisy else _clamp(self.pf_nom + self._jitter(0.01), 0.05, 1.0)
        sign = 1.0 if p >= 0 else -1.0
        phase_v, phase_i, phase_p, phase_s, phase_q = [], [], [], [], []
        for i, share in enumerate(self.shares):
            v = self.v_nom + (1.5 * math.sin(t / 53.0 + i) + self._jitter(0.3) if noisy else 0.0)
            pp = p * share
            s = abs(pp) / pf
            q = math.sqrt(max(s * s - pp * pp, 0.0)) * sign
            phase_v.append(v)
            phase_p.append(pp)
            phase_s.append(s)
            phase_q.append(q)
            phase_i.append(s / v)
        angle = math.degrees(math.acos(pf)) * sign
        total_p = sum(phase_p)
        total_s = sum(phase_s)
        total_q = sum(phase_q)
        self.values = {
            "power_w": total_p, "frequency_hz": hz, "power_factor": pf,
            "import_kwh": self.import_kwh, "export_kwh": self.export_kwh,
        }
        f = {0x0046: hz, 0x0048: self.import_kwh, 0x004A: self.export_kwh,
             0x004C: self.import_kvarh, 0x004E: self.export_kvarh,
             0x0156: self.import_kwh + self.export_kwh,
             0x0158: self.import_kvarh + self.export_kvarh}
        if self.phases == 1:
            f.update({0x0000: phase_v[0], 0x0006: phase_i[0], 0x000C: phase_p[0],
                      0x0012: phase_s[0], 0x0018: phase_q[0], 0x001E: pf, 0x0024: angle})
            self.values.update(voltage_l1=phase_v[0], current_l1=phase_i[0])
        else:
            for i in range(3):
                f[0x0000 + 2 * i] = phase_v[i]
                f[0x0006 + 2 * i] = phase_i[i]
                f[0x000C + 2 * i] = phase_p[i]
                f[0x0012 + 2 * i] = phase_s[i]
                f[0x0018 + 2 * i] = phase_q[i]
                f[0x001E + 2 * i] = pf
                f[0x0024 + 2 * i] = angle
                self.values[f"voltage_l{i + 1}"] = phase_v[i]
                self.values[f"current_l{i + 1}"] = phase_i[i]
            vll = [math.sqrt(3.0) * (phase_v[i] + phase_v[(i + 1) % 3]) / 2.0 for i in range(3)]
            # neutral current: vector sum of three currents 120 degrees apart
            re = sum(phase_i[i] * math.cos(2 * math.pi * i / 3) for i in range(3))
            im = sum(phase_i[i] * math.sin(2 * math.pi * i / 3) for i in range(3))
            f.update({0x002A: sum(phase_v) / 3, 0x002E: sum(phase_i) / 3, 0x0030: sum(phase_i),
                      0x0034: total_p, 0x0038: total_s, 0x003C: total_q, 0x003E: pf,
                      0x0042: angle, 0x0054: self._demand_w, 0x0056: self.max_demand_w,
                      0x00C8: vll[0], 0x00CA: vll[1], 0x00CC: vll[2], 0x00CE: sum(vll) / 3,
                      0x00E0: math.hypot(re, im)})
        return _float_image(f), self._holding

    def _blocks(self):
        hold = [0] * 0x30
        for a, val in self._holding.items():
            hold[a] = val
        return (
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0x0000, values=hold, datatype=DataType.REGISTERS, readonly=True)],
            [SimData(0x0000, count=0x180, values=0, datatype=DataType.REGISTERS,
                     readonly=True)],
        )

class SDM630(EastronMeter):
    type = "sdm630"
    phases = 3


class SDM120(EastronMeter):
    type = "sdm120"
    phases = 1


class Battery(Device):
    """Battery inverter/charger reporting SOC (map in the module docstring)."""

    type = "battery"
    BASE = 0x0100

    def __init__(self, spec, clock=None, seed=1, line=None):
        super().__init__(spec, clock, seed, line)
        self.mode = spec.get("mode", "physics")
        self.capacity_wh = float(spec.get("capacity_wh", 10_000))
        self.load_w = float(spec.get("load_w", 800))
        self.charge_w = float(spec.get("charge_w", 3000))
        self.nominal_v = float(spec.get("nominal_v", 51.2))
        self.soc = float(spec.get("soc_start", 50))
        self.profile = [tuple(p) for p in (spec.get("soc_profile") or [])]
        self.generator_running = bool(spec.get("generator_running", False))
        self.power_w = 0.0            # + charging, - discharging
        self.charged_kwh = 0.0
        self.discharged_kwh = 0.0
        if self.mode == "profile":
            self.soc = self.soc_at(self._t_created)
        self.power_w = self._physics_power(self.soc) if self.mode == "physics" else 0.0
        self.refresh()

    # --- SOC models
    def soc_at(self, t: float) -> float:
        """Profile mode: interpolated SOC, looping with the last point's time as period."""
        pts = self.profile
        if len(pts) == 1:
            return pts[0][1]
        period = pts[-1][0]
        x = t - self._t_created
        if period > 0:
            x %= period
        if x <= pts[0][0]:
            return pts[0][1]
        for (ta, sa), (tb, sb) in zip(pts, pts[1:], strict=False):
            if x <= tb:
                return sa + (sb - sa) * (x - ta) / (tb - ta)
        return pts[-1][1]

    def _physics_power(self, soc):
        if self.generator_running:
            if soc >= 100.0:
                return 0.0
            taper = 1.0 if soc < 90.0 else max(0.05, (100.0 - soc) / 10.0)
            return self.charge_w * taper
        return -self.load_w if soc > 0.0 else 0.0

    def _max_step(self):
        return 10.0

    def _advance(self, t0, t1):
        dt = t1 - t0
        if self.mode == "profile":
            s1 = self.soc_at(t1)
            p = (s1 - self.soc) / 100.0 * self.capacity_wh * 3600.0 / dt
            self.soc = s1
            self.power_w = p
        else:
            p = self._physics_power(self.soc)
            self.soc = _clamp(self.soc + p * dt / 3600.0 / self.capacity_wh * 100.0, 0.0, 100.0)
            self.power_w = self._physics_power(self.soc)
        e = abs(p) * dt / 3.6e6
        if p > 0:
            self.charged_kwh += e
        else:
            self.discharged_kwh += e

    def set_generator_running(self, on: bool) -> None:
        """Feed the emulated genset relay: charging starts/stops from now on."""
        self.refresh()
        self.generator_running = bool(on)
        if self.mode == "physics":
            self.power_w = self._physics_power(self.soc)

    def voltage(self) -> float:
        ocv = self.nominal_v * (0.94 + 0.12 * self.soc / 100.0)
        r = 0.01 * (self.nominal_v / 51.2) ** 2
        return ocv + (self.power_w / self.nominal_v) * r

    def _image(self):
        v = self.voltage()
        p = self.power_w
        i = p / v if v > 0 else 0.0
        soc_i = int(round(self.soc))
        state = 3 if self.soc >= 99.95 and p <= 0 else 1 if p > 0 else 2 if p < 0 else 0
        regs = {
            0x0100: soc_i,
            0x0101: int(_clamp(round(v * 100), 0, 0xFFFF)),
            0x0102: int(_clamp(round(i * 10), -0x8000, 0x7FFF)) & 0xFFFF,
            0x0103: int(_clamp(round(p), -0x8000, 0x7FFF)) & 0xFFFF,
            0x0104: int(_clamp(round(self.load_w), 0, 0xFFFF)),
            0x0105: 1 if self.generator_running else 0,
            0x0106: int(round((25.0 + abs(p) / 1000.0) * 10)) & 0xFFFF,
            0x0107: state,
            0x010E: int(_clamp(round(self.capacity_wh / self.nominal_v), 0, 0xFFFF)),
            0x010F: 0,
        }
        for a, r in zip((0x0108, 0x010A, 0x010C), (
                encode_value(self.soc, "f32"),
                encode_value(min(int(self.charged_kwh * 100), 0xFFFFFFFF), "u32"),
                encode_value(min(int(self.discharged_kwh * 100), 0xFFFFFFFF), "u32")), strict=True):
            regs[a], regs[a + 1] = r
        self.values = {"soc_pct": self.soc, "battery_voltage": v, "battery_power_w": p,
                       "generator_running": self.generator_running}
        return regs, {}

    def _blocks(self):
        return [SimData(self.BASE, count=16, values=0, datatype=DataType.REGISTERS,
                        readonly=True)]


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
                            (0x001C, int(_clamp(round(p), -0x8000, 0x7FFF)), "s16")):
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


DEVICE_CLASSES = {"sdm630": SDM630, "sdm120": SDM120, "battery": Battery,
                  "generic": GenericDevice}


def make_device(spec: dict, clock=None, seed: int = 1, line: dict | None = None) -> Device:
    """One device from a (validated) scenario device dict."""
    return DEVICE_CLASSES[spec["type"]](spec, clock, seed, line)


def devices_from_scenario(scenario, clock=None) -> list[Device]:
    """All devices of a scenario sharing one SimClock (time_scale/start_time of the scenario)."""
    if clock is None:
        clock = SimClock(scenario.time_scale, scenario.start_time)
    return [make_device(d, clock, scenario.seed, scenario.line) for d in scenario.devices]
