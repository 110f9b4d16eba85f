# Run by test_meter_heap.py under the MicroPython unix port (MICROPYPATH: .frozen, firmware/):
# the firmware's own Poller and RTU master over a bus where every register answers, 32 meters of two profiles.
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
from gateway.services.rtu import OK, REQUESTS, RtuMaster

RING = sys.argv[1]  # an empty directory for the recorder's ring


class Master(RtuMaster):
    """The firmware's RTU master (its counters, its bookkeeping) with a bus on which every
    register answers."""

    async def read_registers(self, address, function, register, count, *args):
        c = self.tally(address)
        c[REQUESTS] += 1
        c[OK] += 1
        return [0x4366, 0x8000 + address] * (count // 2) + [0] * (count % 2)


def used():
    gc.collect()
    return gc.mem_alloc()


meters = []
for i in range(32):
    meters.append(M.validate_meter({"name": "meter-%02d" % (i + 1), "address": i + 1,
                                    "profile": "sdm630" if i % 2 else "sdm120"}, meters))
poller = P.Poller(Master(None), meters[:2])  # both profiles' plans and the values module loaded
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
