"""Simulated time for the emulated devices: a scaled clock for the emulator, a manual one for
unit tests."""

from __future__ import annotations

import time


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
