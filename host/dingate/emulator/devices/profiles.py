"""Power profiles the emulated meters follow: smooth daily curves of simulated time."""

from __future__ import annotations

import math
import time


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
