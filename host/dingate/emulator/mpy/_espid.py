"""What the emulated board says about itself, as the ESP32 port's MicroPython does.

Imported by emuboot.py before any firmware code (it sits in the emulated chip's ROM):

- ``sys.platform`` is ``"esp32"`` (the unix port says ``"linux"``);
- ``os.uname()`` exists: (sysname, nodename, release, version, machine) as on the board, the
  machine being the stock image's board name (DINGATE_EMU "machine");
- a peer address is ``(ip, port)``: the unix port's sockets give raw sockaddr bytes, the ESP32's
  give a tuple; asyncio's stream (what microdot's ``req.client_addr`` comes from) answers with the
  tuple, as on the board.

``sys`` and ``os`` are replaced in ``sys.modules`` by _espsys.py and _espos.py, which give
every other name from the built-in ones (module ``__getattr__``),
so ``import sys`` anywhere after this sees the board's. What is still not emulated is listed in
docs/architecture.md ("What the emulator does not emulate").
"""
import json
import os
import sys

_conf = json.loads(os.getenv("DINGATE_EMU") or "{}")
def uname():
    v = sys.implementation.version
    release = "%d.%d.%d" % (v[0], v[1], v[2])
    built = sys.version.split(" on ")[-1] if " on " in sys.version else ""
    return _Uname(("esp32", "esp32", release, "v%s on %s" % (release, built),
                   _conf.get("machine", "Generic ESP32 module with ESP32")))


class _Uname(tuple):
    sysname = property(lambda self: self[0])
    nodename = property(lambda self: self[1])
    release = property(lambda self: self[2])
    version = property(lambda self: self[3])
    machine = property(lambda self: self[4])


def peer(addr):
    """(ip, port) of a unix-port sockaddr_in (bytes); anything else as it is."""
    if isinstance(addr, (bytes, bytearray)) and len(addr) >= 8 and addr[0] in (2, 0):
        return ("%d.%d.%d.%d" % (addr[4], addr[5], addr[6], addr[7]), (addr[2] << 8) | addr[3])
    return addr


def install():
    import _espos
    import _espsys

    sys.modules["sys"] = _espsys
    sys.modules["os"] = _espos
    from asyncio.stream import Stream

    real = Stream.get_extra_info

    def get_extra_info(self, v):
        got = real(self, v)
        return peer(got) if v == "peername" else got

    Stream.get_extra_info = get_extra_info
