"""The emulated battery inverter/charger ("battery").

Register addresses are 0-based protocol addresses, as sent in the request.

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
"""

from __future__ import annotations

from pymodbus.simulator import DataType, SimData

from .base import Device
from .codec import clamp, encode_value


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
            self.soc = clamp(self.soc + p * dt / 3600.0 / self.capacity_wh * 100.0, 0.0, 100.0)
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
            0x0101: int(clamp(round(v * 100), 0, 0xFFFF)),
            0x0102: int(clamp(round(i * 10), -0x8000, 0x7FFF)) & 0xFFFF,
            0x0103: int(clamp(round(p), -0x8000, 0x7FFF)) & 0xFFFF,
            0x0104: int(clamp(round(self.load_w), 0, 0xFFFF)),
            0x0105: 1 if self.generator_running else 0,
            0x0106: int(round((25.0 + abs(p) / 1000.0) * 10)) & 0xFFFF,
            0x0107: state,
            0x010E: int(clamp(round(self.capacity_wh / self.nominal_v), 0, 0xFFFF)),
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

