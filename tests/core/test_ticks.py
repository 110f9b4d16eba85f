import time

from gateway.core import ticks


def test_unix_time_is_unix_epoch_on_every_port():
    t = ticks.unix_time()
    assert t > 1700000000  # 2023: a clock counting from 2000 would read ~9.5e8 less
    assert abs(t - (time.time() + ticks.EPOCH_SHIFT)) < 5


def test_ticks_diff_is_signed():
    a = ticks.ticks_ms()
    assert ticks.ticks_diff(ticks.ticks_add(a, 10), a) == 10
    assert ticks.ticks_diff(a, ticks.ticks_add(a, 10)) == -10
