"""The heap's high-water mark since boot (GET /api/status "mem_peak").

``gc.mem_alloc()`` counts every allocated block, garbage not yet collected included: sampled
often and never after a forced collection, its maximum is the most the heap held. Samples: a
task every ``PERIOD_MS`` (the loop), after every HTTP request, and just before the watchdog's
periodic collection. Nothing here allocates on the sampling path.
"""
import gc

from gateway.core.ticks import sleep_ms

PERIOD_MS = 50
peak = 0
live = 0  # the heap right after the last periodic collection (the watchdog's, every second)


def sample():
    global peak
    a = gc.mem_alloc()
    if a > peak:
        peak = a


def collected():
    """Called right after a periodic gc.collect(): the live heap, garbage excluded."""
    global live
    live = gc.mem_alloc()


async def run():
    while True:
        sample()
        await sleep_ms(PERIOD_MS)
