# Heap probe, run by bench/heap32.py under MicroPython: the 64-bit unix port (the emulator's) and
# the 32-bit WebAssembly port. Prints "PROBE <json>". The firmware's .mpy tree is on sys.path
# (``LIB``, filled in by the caller), the ESP32's machine/network as empty stubs.
import gc
import sys

LIB = "@LIB@"
ROM = "@ROM@" == "True"  # the code from the ROMFS image micropython_rom.py maps (DINGATE_EMU), in place
RESIDENT = "@RESIDENT@".split(",")
ONDEMAND = [n for n in "@ONDEMAND@".split(",") if n]  # the board's other modules
T = 1795000000  # a Unix-epoch timestamp, as the firmware keeps them

if ROM:
    import json
    import os

    import uctypes
    import vfs

    ROM = json.loads(os.getenv("DINGATE_EMU"))["romfs"]
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(ROM[0], ROM[1])), "/rom")
    sys.path[:0] = [".frozen", "/rom/lib"]
else:
    sys.path[:0] = [".frozen", LIB]
sys.path.append("@STUBS@")
import asyncio  # noqa: E402,F401  frozen on the board (its objects are heap all the same)

import machine  # noqa: E402,F401  C modules on the board: baseline
import network  # noqa: E402,F401

out = {"bits": 64 if sys.maxsize > 2 ** 32 else 32}
gc.collect()
base = gc.mem_alloc()
out["missing"] = []
for name in RESIDENT:
    try:
        __import__(name)
    except ImportError:
        out["missing"].append(name)
gc.collect()
out["code"] = gc.mem_alloc() - base


# what on-demand code leaves behind once loaded and dropped (its interned names: qstrs are
# never freed): every module of the board not resident, loaded and dropped twice by the
# firmware's own on-demand loader (resident: gateway.app imports it)
from gateway.core import ondemand  # noqa: E402

out["failed"] = []
base = gc.mem_alloc()
for _ in range(2):
    for name in ONDEMAND:
        if name in sys.modules:
            continue
        before = ondemand.mark()
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - counted; its import needs what the probe lacks
            if name not in out["failed"]:
                out["failed"].append(name)
        ondemand.release(before)
gc.collect()
out["residue"] = gc.mem_alloc() - base

# data: 32 meters as the configuration holds them, their readings, 16 sessions
gc.collect()
base = gc.mem_alloc()
meters = []
for i in range(32):  # the shape gateway.core.meters.validate_meter gives
    meters.append({"id": str(i + 1), "name": "meter-%02d" % (i + 1), "address": i + 1,
                   "profile": "sdm630" if i % 2 else "sdm120", "enabled": True, "role": "load"})
readings = {}
QS = ("voltage_l1", "voltage_l2", "voltage_l3", "current_l1", "current_l2", "current_l3",
      "power_w", "frequency_hz", "power_factor", "import_kwh", "export_kwh", "soc_pct")
for m in meters:
    readings[m["id"]] = {"status": "ok", "ts": T + int(m["id"]),
                         "values": {q: 230.0 + int(m["id"]) + k / 7 for k, q in enumerate(QS)}}
sessions = {}
for i in range(16):
    sessions["%032x" % (i * 7919)] = {"user": "user%d" % i, "role": "user", "expires": T + 3600 * i,
                                     "csrf": "%032x" % i}
gc.collect()
out["data"] = gc.mem_alloc() - base
print("PROBE", out)
