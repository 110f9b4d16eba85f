# Run by test_meter_heap.py under the MicroPython unix port (MICROPYPATH: .frozen, firmware/):
# the firmware's own Poller over an answering fake RTU master, 32 meters of two profiles.
# Prints "PER_METER <bytes>": the heap each meter adds once configured and polled twice
# (its polling state, last values, RTU counters; not its configuration dict, the store's), and
# "PER_SAMPLE <bytes>": what each meter's sample takes while it waits for the recorder's write.
import asyncio
import gc
import sys
import time

from gateway.core import meters as M
from gateway.core.ring import Ring
from gateway.services import poller as P
from gateway.services.recorder import Recorder
from gateway.services.rtu import COUNTERS

RING = sys.argv[1]  # an empty directory for the recorder's ring


class Master:
    """The RtuMaster interface the poller uses; every register answers."""

    def __init__(self):
        self._counters = {}

    def configure(self, bus):
        pass

    def forget(self, keep):
        pass

    def counters(self, address):
        c = self._counters.get(address)
        if c is None:
            c = {}
            for k in COUNTERS:
                c[k] = 0
            self._counters[address] = c
        return c

    async def read_registers(self, address, function, register, count, *args):
        c = self.counters(address)
        c["requests"] += 1
        c["ok"] += 1
        return [0x4366, 0x8000 + address] * (count // 2) + [0] * (count % 2)


def used():
    gc.collect()
    return gc.mem_alloc()


meters = []
for i in range(32):
    meters.append(M.validate_meter({"name": "meter-%02d" % (i + 1), "address": i + 1,
                                    "profile": "sdm630" if i % 2 else "sdm120"}, meters))
poller = P.Poller(Master(), meters[:2])  # both profiles' plans and the values module loaded
asyncio.run(poller.poll_once())
base = used()
poller.configure(meters)
asyncio.run(poller.poll_once())
asyncio.run(poller.poll_once())
print("PER_METER", (used() - base) // 30)

# one tick of the recorder: a sample per meter waiting in RAM for its write
rec = Recorder(Ring(RING), poller.readings, {"sample_interval_s": 60, "flush_interval_s": 3600})
rec.sample(time.time() - 120)  # the first sample loads what sampling needs
rec.pending = []
base = used()
n = rec.sample(time.time())
print("PER_SAMPLE", (used() - base) // n if n else 0)
print("STATUS", sorted(set(r["status"] for r in poller.readings().values())))
