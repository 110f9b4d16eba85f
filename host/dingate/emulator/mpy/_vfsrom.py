"""`vfs` as a MicroPython built with MICROPY_VFS_ROM_IOCTL has it: the built-in vfs plus rom_ioctl.

The unix port's vfs can mount a ROMFS but cannot rewrite one; on the board `vfs.rom_ioctl` is how
mpremote's `romfs deploy` and `dingate deploy` write the romfs partition. In the emulated REPL,
`import vfs` returns this module (replboot.py), which writes the partition like the chip's flash:

  rom_ioctl(1)                    number of ROMFS segments (1)
  rom_ioctl(2, 0)                 the partition as a memoryview (memory-mapped, read-only use)
  rom_ioctl(3, 0, [offset,] n)    erase (prepare) n bytes from offset, in 4 KiB sectors
  rom_ioctl(4, 0, offset, buf)    write buf at offset
  rom_ioctl(5, 0)                 writing complete
  rom_ioctl(6, 0)                 erase granularity (4096)

Writes go to a copy of the partition file that replaces it (as a new file) at "complete", so the
code executing in place from the current mapping never changes under the running VM; like the board after a
romfs deploy, the new content is what the next reset boots from.
"""
import json
import os

from vfs import *  # noqa: F401,F403 - this module stands for the built-in vfs

_conf = json.loads(os.getenv("DINGATE_EMU") or "{}")
_image = os.getenv("DINGATE_ROMFS_IMAGE")
SECTOR = 4096
MIN_WRITE = 4
_EINVAL = -22
PART = "/.romfs-partition"  # the partition file's folder, mounted only while writing
_pending = None  # the partition being written: PART + "/<image>.new"


def available():
    return bool(_conf.get("romfs") and _image)


def _size():
    return int(_conf.get("romfs_size") or _conf["romfs"][1])


def _image_path():
    """The partition file, through a mount of its folder alone (not the whole host filesystem)."""
    folder, name = _image.rsplit("/", 1)
    try:
        mount(VfsPosix(folder), PART)  # noqa: F405 - from the built-in vfs
    except OSError:
        pass  # already mounted
    return PART + "/" + name


def _open_pending():
    global _pending
    if _pending is None:
        image = _image_path()
        path = image + ".new"
        buf = bytearray(SECTOR)
        done = 0
        with open(image, "rb") as src, open(path, "wb") as dst:
            while done < _size():
                n = src.readinto(buf) or 0
                if n < SECTOR:
                    for i in range(n, SECTOR):
                        buf[i] = 0xFF
                n = min(SECTOR, _size() - done)
                dst.write(memoryview(buf)[:n])
                done += n
        _pending = path
    return _pending


def _erase(offset, length):
    start = offset // SECTOR * SECTOR
    end = min(_size(), (offset + length + SECTOR - 1) // SECTOR * SECTOR)
    blank = b"\xff" * SECTOR
    with open(_open_pending(), "r+b") as f:
        f.seek(start)
        while start < end:
            f.write(blank[: end - start])
            start += SECTOR


def _replace(src, dst):
    """dst := src as a new file: the old one is unlinked, so the boot-time mapping of it stays
    intact (VfsPosix's rename cannot be used: it fails under a mount point in this port)."""
    os.remove(dst)
    buf = bytearray(SECTOR)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            n = fi.readinto(buf)
            if not n:
                break
            fo.write(memoryview(buf)[:n])
    os.remove(src)


def rom_ioctl(op, *args):
    global _pending
    if op == 1:
        return 1 if available() else 0
    if not available() or not args or args[0] != 0:
        return _EINVAL
    if op == 2:
        import uctypes

        addr, n = _conf["romfs"]
        return memoryview(uctypes.bytearray_at(addr, n))
    if op == 3:
        offset, length = (0, args[1]) if len(args) == 2 else (args[1], args[2])
        if offset < 0 or length < 0 or offset + length > _size():
            return _EINVAL
        _erase(offset, length)
        return MIN_WRITE
    if op == 4:
        offset, buf = args[1], args[2]
        if offset < 0 or offset + len(buf) > _size():
            return _EINVAL
        with open(_open_pending(), "r+b") as f:
            f.seek(offset)
            f.write(buf)
        return 0
    if op == 5:
        if _pending is not None:
            _replace(_pending, _image_path())
            _pending = None
            umount(PART)  # noqa: F405
        return 0
    if op == 6:
        return SECTOR
    return _EINVAL
