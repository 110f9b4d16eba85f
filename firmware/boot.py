# dingate: runs first at every boot (kept tiny; the application starts in main.py)
import gc
import os

try:
    os.stat("/fw.new/romfs.img")
except OSError:
    pass
else:
    # A firmware update (POST /api/firmware) left a new ROMFS image: write it now, before any
    # code runs in place from /rom, then boot it. The update already put the same code in /lib.
    import vfs

    try:
        vfs.umount("/rom")
    except OSError:
        pass
    from gateway.core.fwbundle import finish_romfs  # from /lib now that /rom is gone

    finish_romfs(getattr(vfs, "rom_ioctl", None))
    import machine

    machine.reset()
gc.collect()
