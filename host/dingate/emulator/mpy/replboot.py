"""The emulated board's USB serial console: MicroPython's REPL as the ESP32 port speaks it.

Runs inside MicroPython (imported by emuboot.py when `dingate emulate --repl-port N` is given):
boot.py, main.py, then the REPL, as the ESP32 port's main loop. The unix port's own REPL has no
raw REPL, so the REPL is written in Python (_repl.py, imported only once main.py has ended, so it
costs the running firmware no heap; both live in the emulated chip's ROM, /rom/emu) and speaks,
on the process's stdin/stdout (the host bridges them to the TCP port, as a USB-UART bridge would):

- the friendly REPL: banner, ``>>> `` prompt, echo, backspace, continuation lines (``... ``),
  Ctrl-A raw REPL, Ctrl-B banner, Ctrl-C cancel, Ctrl-D soft reset, Ctrl-E paste mode;
- the raw REPL (Ctrl-A): ``raw REPL; CTRL-B to exit\\r\\n>``, code up to Ctrl-D, ``OK``, output,
  ``\\x04``, exception, ``\\x04``, ``>``; Ctrl-D on an empty line soft-resets; Ctrl-B leaves;
- raw-paste mode (``\\x05A\\x01``): ``R\\x01`` and a 128-byte window, ``\\x01`` for each window
  consumed, ``\\x04`` to acknowledge the end of the code — what mpremote uses.

Ctrl-C: the host turns the byte into SIGINT, which MicroPython raises as KeyboardInterrupt in
whatever runs (the firmware's asyncio loop, code exec'd from the REPL, or the REPL waiting for a
byte, where it counts as the Ctrl-C character).

A soft reset needs a fresh VM, so it ends the process: exit code 5 (friendly REPL: boot.py and
main.py run again) or 6 (raw REPL: only boot.py, then the raw REPL, as on the board) and the host
starts MicroPython again on the same flash. ``machine.reset()`` (SystemExit 3) and a lost host
link (4) leave the process as they do without a REPL.

In the REPL, ``import vfs`` gives the ``vfs`` of a MicroPython built with ROMFS write support
(``vfs.rom_ioctl``, see _vfsrom.py), so mpremote's ``romfs`` commands and ``dingate deploy`` can
rewrite the emulated romfs partition as on the board.
"""
import sys

from _resets import HARD, SOFT_RESET_FRIENDLY, SOFT_RESET_RAW, SoftReset, exit_code


def run_script(path, g):
    """Run a boot script as the board does; False if it raised (then main.py does not run)."""
    try:
        with open(path) as f:
            src = f.read()
    except OSError:
        return True
    g["__file__"] = path
    try:
        exec(compile(src, path[1:], "exec"), g)
    except SystemExit as e:
        if exit_code(e) in HARD:
            raise
        raise SoftReset()
    except BaseException as e:  # noqa: B036 - Ctrl-C in main.py lands here, then the REPL
        sys.print_exception(e)
        return False
    return True


def _release_tasks():
    """After Ctrl-C the interrupted asyncio loop still holds every task and what they reference:
    drop them, so the REPL has the heap the firmware no longer uses."""
    import gc

    aio = sys.modules.get("asyncio")
    if aio is not None:
        try:
            aio.new_event_loop()
        except Exception:  # noqa: S110 - a firmware without asyncio running: nothing to drop
            pass
    gc.collect()


def _unmount_host():
    """emuboot mounts the host's filesystem at /host to boot; a REPL open to any tool on the
    serial line must not reach it (`mpremote rm -r :/` would walk into it). On a chip board the
    emulated chip's modules (/.chip, all imported by now) leave the board's tree too."""
    import vfs

    for mount in ("/host", "/.chip"):
        try:
            vfs.umount(mount)
        except OSError:
            pass
    sys.path[:] = [p for p in sys.path if not p.startswith(("/host", "/.chip"))]


def boot(mode):
    """boot.py, main.py (friendly mode only, and only if boot.py went well), then the REPL.

    The REPL itself (_repl.py) is imported only then: while the firmware runs it costs no heap."""
    g = {"__name__": "__main__"}
    try:
        ok = run_script("/boot.py", g)
        if mode != "raw" and ok:
            run_script("/main.py", g)
        g.pop("__file__", None)
        _release_tasks()
        import _repl

        _repl.install_vfs_rom()
        _unmount_host()
        _repl.serve(mode, g)
    except SoftReset:
        repl = sys.modules.get("_repl")
        if repl is not None:
            mode = repl.CURRENT[0]  # the REPL the reset was asked from
        sys.stdout.buffer.write(b"MPY: soft reboot\r\n")
        sys.exit(SOFT_RESET_RAW if mode == "raw" else SOFT_RESET_FRIENDLY)
