"""The emulated ESP32's ROM and _boot.py: mount the flash image and run boot.py then main.py.

Run by `dingate emulate` as: micropython -X heapsize=... emuboot.py (MICROPYPATH = this folder).
Like the board, the filesystem partition (here a littlefs2 image file) is mounted at / with
VfsLfs2 on a block device, and the firmware's .mpy files are imported from /lib on it.
"""
import os
import sys
import vfs

import _emu
import machine  # noqa: F401  (loaded before the host filesystem is unmounted)
import network  # noqa: F401

_IOCTL_BLOCK_COUNT, _IOCTL_BLOCK_SIZE, _IOCTL_BLOCK_ERASE = 4, 5, 6


class FileBlockDevice:
    """The flash partition: a file on the host, block by block (littlefs calls these)."""

    def __init__(self, path, block_size, block_count):
        self.f = open(path, "r+b")
        self.bs = block_size
        self.n = block_count
        self.writes = 0

    def readblocks(self, block, buf, off=0):
        self.f.seek(block * self.bs + off)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, off=None):
        self.f.seek(block * self.bs + (off or 0))
        self.f.write(buf)
        self.f.flush()
        self.writes += len(buf)

    def ioctl(self, op, arg):
        if op == _IOCTL_BLOCK_COUNT:
            return self.n
        if op == _IOCTL_BLOCK_SIZE:
            return self.bs
        if op == _IOCTL_BLOCK_ERASE:
            self.f.seek(arg * self.bs)
            self.f.write(b"\xff" * self.bs)
            self.f.flush()
            return 0
        return 0


def mount_flash():
    conf = _emu.CONF
    bdev = FileBlockDevice(conf["flash"], conf["block_size"], conf["block_count"])
    host_paths = [p for p in sys.path if p.startswith("/")]
    vfs.mount(vfs.VfsPosix("/"), "/host")
    vfs.umount("/")
    vfs.mount(vfs.VfsLfs2(bdev), "/")
    os.chdir("/")
    # as on the board: "", .frozen, /lib; the emulated hardware modules stay reachable
    sys.path[:] = ["", ".frozen", "/lib"] + ["/host" + p for p in host_paths]
    return bdev


def run(path):
    try:
        os.stat(path)
    except OSError:
        return
    with open(path) as f:
        src = f.read()
    exec(src, {"__name__": "__main__", "__file__": path})


mount_flash()
_emu.send({"boot": 1})
run("/boot.py")
run("/main.py")
