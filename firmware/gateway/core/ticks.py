"""Millisecond ticks and async sleeps that behave the same on MicroPython and CPython."""
import time

try:
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:  # CPython

    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_us():
        return time.monotonic_ns() // 1000

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


def sleep_ms(ms):
    """Awaitable sleep of ``ms`` milliseconds."""
    import asyncio

    if hasattr(asyncio, "sleep_ms"):
        return asyncio.sleep_ms(ms)
    return asyncio.sleep(ms / 1000)


# Seconds from the Unix epoch to this port's time.time() epoch: some MicroPython ports count
# from 2000. Everything the gateway stores and sends is Unix time.
EPOCH_SHIFT = 946684800 if time.gmtime(0)[0] == 2000 else 0


def unix_time():
    """Seconds since 1970-01-01 UTC, whatever the port's own epoch."""
    return time.time() + EPOCH_SHIFT
