"""The emulated device's common part: address, faults, the model stepped by the simulated
clock, and the pymodbus ``SimDevice`` whose ``action`` hook refreshes the registers from the model
on every access (the answers on the wire come out of a real pymodbus server, bus.PymodbusBackend).
"""

from __future__ import annotations

import random

from pymodbus.constants import ExcCodes
from pymodbus.simulator import SimData, SimDevice

from .clock import SimClock


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
