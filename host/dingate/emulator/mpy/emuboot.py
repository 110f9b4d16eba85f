"""The emulated ESP32's ROM and _boot.py: mount the partitions, run boot.py then main.py.

Run by `dingate emulate` through micropython_rom.py. Like the board: the romfs partition
(memory-mapped by the launcher) is mounted at /rom with VfsRom and /rom/lib comes first on
sys.path, so the firmware's .mpy execute in place; the vfs partition (a littlefs2 image file
here) is mounted at / with VfsLfs2 on a block device. The emulated machine/network modules are
in the ROM too (/rom/emu), as the chip's are in its firmware.
"""
import json
import os
import sys

import vfs

_conf = json.loads(os.getenv("DINGATE_EMU") or "{}")
_host = [p for p in sys.path if p.startswith("/")]  # MICROPYPATH: this folder
if _conf.get("romfs") or _conf.get("chiprom"):
    import uctypes

if _conf.get("romfs"):
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(_conf["romfs"][0], _conf["romfs"][1])), "/rom")
    sys.path[:0] = ["/rom/emu"]
if _conf.get("chiprom"):  # a chip board: the chip's built-in modules, apart from its partitions
    vfs.mount(vfs.VfsRom(uctypes.bytearray_at(_conf["chiprom"][0], _conf["chiprom"][1])), "/.chip")
    sys.path[:0] = ["/.chip/emu"]

import _emu  # noqa: E402
import _espid  # noqa: E402
import machine  # noqa: E402,F401  (loaded before the host filesystem is unmounted)
import network  # noqa: E402,F401

if _conf.get("romfs"):
    import _vfsrom  # noqa: E402

    if _vfsrom.available():  # the chip's MicroPython has vfs.rom_ioctl (MICROPY_VFS_ROM_IOCTL)
        sys.modules["vfs"] = _vfsrom


class FileBlockDevice:
    """The flash partition: a file on the host, block by block (littlefs calls these)."""

    def __init__(self, path, block_size, block_count, offset=0):
        self.f = open(path, "r+b")
        self.bs = block_size
        self.n = block_count
        self.off = offset  # the partition's start in the flash file
        self.erased = b"\xff" * 256  # made once and small: an erase must not allocate

    def readblocks(self, block, buf, off=0):
        self.f.seek(self.off + block * self.bs + off)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, off=None):
        self.f.seek(self.off + block * self.bs + (off or 0))
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.n
        if op == 5:  # block size
            return self.bs
        if op == 6:  # erase
            self.f.seek(self.off + arg * self.bs)
            for _ in range(self.bs // 256):
                self.f.write(self.erased)
            self.f.flush()
        return 0


_bdev = FileBlockDevice(_conf["flash"], _conf["block_size"], _conf["block_count"],
                        _conf.get("flash_offset", 0))
vfs.mount(vfs.VfsPosix("/"), "/host")
vfs.umount("/")
try:
    vfs.mount(vfs.VfsLfs2(_bdev), "/")
except OSError:  # no filesystem in the vfs partition: MicroPython's _boot.py makes one
    print("[emuboot] no filesystem in the vfs partition: formatting it (littlefs)")
    vfs.VfsLfs2.mkfs(_bdev)
    vfs.mount(vfs.VfsLfs2(_bdev), "/")
os.chdir("/")
rom = ["/rom", "/rom/lib"] if _conf.get("romfs") else []
# as on the board: "", .frozen, the ROMFS, /lib; then the emulated hardware
sys.path[:] = ["", ".frozen"] + rom + ["/lib", "/rom/emu", "/.chip/emu"] + ["/host" + p for p in _host]
_espid.install()  # sys.platform, os.uname(), (ip, port) peers: as the board's MicroPython
_emu.send({"boot": 1})
if _conf.get("repl"):  # --repl-port: boot.py, main.py, then the REPL on the USB serial line
    import replboot

    replboot.boot(_conf["repl"])  # does not return: the REPL ends in a reset
# what the emulation holds before boot.py (these modules, the block device, the host link; the
# chip has them in C or not at all): the board's `emulated_hardware_bytes` covers it
# (tests/integration/test_boards_flash.py measures the two against each other)
# (no new global: one more would grow this module's dictionary for the rest of the run)
__import__("gc").collect()
print("[emuboot] heap before boot.py: %d bytes" % __import__("gc").mem_alloc())
for _script in ("/boot.py", "/main.py"):
    try:
        with open(_script) as _f:
            _src = _f.read()
    except OSError:
        continue
    exec(_src, {"__name__": "__main__", "__file__": _script})
