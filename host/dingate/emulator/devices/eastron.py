"""Emulated Eastron energy meters: SDM630, SDM630MCT and SDM120.

Register addresses are 0-based protocol addresses, as sent in the request.

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

SDM630MCT (the CT-connected SDM630): the SDM630's map.

Identification, FC3 (holding, read-only): 0xFC00 serial number (u32), 0xFC02 product code (u16:
SDM630 112, SDM630MCT 121, SDM120 32), as the Venus OS Eastron drivers probe them.

The Eastron meters also answer FC3 (holding, read-only here, float32) 0x0000..0x002F:
0x000A system type (3 = 3P4W, 1 = 1P2W), 0x0014 parity/stop code (0 = N1, 1 = E1, 2 = O1,
3 = N2), 0x0016 Modbus address, 0x001C baud code (0 = 2400, 1 = 4800, 2 = 9600, 3 = 19200,
4 = 38400, 5 = 57600, 6 = 115200). Coil/discrete reads: exception 01 (illegal function).
"""

from __future__ import annotations

import math

from pymodbus.simulator import DataType, SimData

from .base import Device
from .codec import clamp, float_image
from .profiles import daily_power

_ID_BASE = 0xFC00  # holding: serial number (u32), then the product code (u16)
_BAUD_CODES = {2400: 0, 4800: 1, 9600: 2, 19200: 3, 38400: 4, 57600: 5, 115200: 6}
_PARITY_CODES = {("N", 1): 0, ("E", 1): 1, ("O", 1): 2, ("N", 2): 3}


class EastronMeter(Device):
    """SDM630 / SDM120 with a daily power curve; energy counters integrate it."""

    shared = False
    phases = 3
    product_code = 112

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
        self._holding = float_image({
            0x000A: 3.0 if self.phases == 3 else 1.0,
            0x0014: float(_PARITY_CODES.get(par, 0)),
            0x0016: float(self.address),
            0x001C: float(_BAUD_CODES.get(int(line.get("baud", 9600)), 2)),
        })
        # identification (what a bus scan reads): serial number u32 at 0xFC00, product code
        # u16 at 0xFC02 (sdm_modbus: serial_number 0xFC00; product codes as the Venus OS
        # Eastron drivers probe them, github.com/Telekatz/venus.dbus-modbus-eastron Eastron.py)
        serial = 26000000 + self.address
        self._holding.update({_ID_BASE: serial >> 16, _ID_BASE + 1: serial & 0xFFFF,
                              _ID_BASE + 2: self.product_code})
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
        pf = self.pf_nom if not noisy else clamp(self.pf_nom + self._jitter(0.01), 0.05, 1.0)
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
        return float_image(f), self._holding

    def _blocks(self):
        hold = [0] * 0x30
        for a, val in self._holding.items():
            if a < 0x30:
                hold[a] = val
        ident = [self._holding[_ID_BASE + k] for k in range(3)]
        return (
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0, values=False, datatype=DataType.BITS)],
            [SimData(0x0000, values=hold, datatype=DataType.REGISTERS, readonly=True),
             SimData(_ID_BASE, values=ident, datatype=DataType.REGISTERS, readonly=True)],
            [SimData(0x0000, count=0x180, values=0, datatype=DataType.REGISTERS,
                     readonly=True)],
        )

class SDM630(EastronMeter):
    type = "sdm630"
    phases = 3
    product_code = 112


class SDM630MCT(SDM630):
    """The CT-connected SDM630: the SDM630's register map, its own product code."""

    type = "sdm630mct"
    product_code = 121


class SDM120(EastronMeter):
    type = "sdm120"
    phases = 1
    product_code = 32

