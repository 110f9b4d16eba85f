# dingate: runs first at every boot (kept tiny; the application starts in main.py)
import gc
import os

if [n for n in os.listdir("/") if n in ("fw.new", "fw.ready", "fw.old", "fw.undo", "fw.done")]:
    # A firmware update (POST /api/firmware) was committed, or a switch was cut short: finish
    # it (gateway/core/fwswitch.py, resumable), before any application code is imported.
    from gateway.core import fwswitch

    _state = fwswitch.switch()
    del fwswitch
    if _state == "romfs":
        # every file is switched: write the new ROMFS image now, with the new code from /lib
        # (nothing may run in place from /rom while its partition is rewritten)
        import sys

        import vfs

        for _m in [m for m in sys.modules if m.startswith("gateway")]:
            del sys.modules[_m]
        try:
            vfs.umount("/rom")
        except OSError:
            pass
        from gateway.core.fwbundle import finish_romfs

        finish_romfs(getattr(vfs, "rom_ioctl", None))
    if _state is not None:
        import machine

        machine.reset()
gc.collect()
