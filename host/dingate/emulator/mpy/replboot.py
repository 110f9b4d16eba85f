"""The emulated board's USB serial console: MicroPython's REPL as the ESP32 port speaks it.

Runs inside MicroPython (imported by emuboot.py when `dingate emulate --repl-port N` is given).
The unix port's own REPL has no raw REPL, so this one is written in Python and speaks, on the
process's stdin/stdout (the host bridges them to the TCP port, as a USB-UART bridge would):

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

SOFT_RESET_FRIENDLY = 5
SOFT_RESET_RAW = 6
HARD = (3, 4)  # machine.reset(), host gone: the process ends as it would without a REPL
WINDOW = 128  # raw-paste flow-control window: the ESP32 port's (half its 256-byte stdin buffer)

_in = sys.stdin.buffer
_out = sys.stdout.buffer


class _SoftReset(Exception):
    pass


def _w(b):
    _out.write(b)


def _getc():
    """One byte from the serial line; Ctrl-C (SIGINT from the host) arrives as 3."""
    try:
        b = _in.read(1)
    except KeyboardInterrupt:
        return 3
    if not b:
        raise SystemExit(4)  # the host closed the line: it is gone
    return b[0]


def _exit_code(e):
    return e.args[0] if e.args else 0


def banner():
    v = sys.implementation.version
    built = sys.version.split(" on ")[-1] if " on " in sys.version else ""
    return ("MicroPython v%d.%d.%d on %s; dingate emulated ESP32 (unix port) with ESP32\r\n"
            'Type "help()" for more information.\r\n' % (v[0], v[1], v[2], built)).encode()


def _run(src, g, mode, eof):
    """Compile and run ``src``; with ``eof`` the raw REPL's framing (\\x04 out \\x04 err \\x04)."""
    try:
        exec(compile(src, "<stdin>", mode), g)
    except SystemExit as e:
        if _exit_code(e) in HARD:
            raise
        if eof:
            _w(b"\x04\x04")
        raise _SoftReset()
    except BaseException as e:  # noqa: B036 - KeyboardInterrupt too, as the board prints it
        if eof:
            _w(b"\x04")
        sys.print_exception(e)
        if eof:
            _w(b"\x04")
        return
    if eof:
        _w(b"\x04\x04")


def run_script(path, g):
    """Run a boot script as the board does; False if it raised (then main.py does not run)."""
    try:
        with open(path) as f:
            src = f.read()
    except OSError:
        return True
    g["__file__"] = path
    try:
        exec(src, g)
    except SystemExit as e:
        if _exit_code(e) in HARD:
            raise
        raise _SoftReset()
    except BaseException as e:  # noqa: B036 - Ctrl-C in main.py lands here, then the REPL
        sys.print_exception(e)
        return False
    return True


# --- raw REPL ---------------------------------------------------------------------------------

def _raw_paste(cmd, g):
    if cmd != 0x41:  # "A": the only raw-paste command
        _w(b"R\x00")
        return
    _w(b"R\x01" + bytes((WINDOW & 0xFF, WINDOW >> 8)))
    buf = bytearray()
    remain = WINDOW
    while True:
        c = _getc()
        if c == 3 or c == 4:
            _w(b"\x04")  # end of code acknowledged
            break
        buf.append(c)
        remain -= 1
        if remain == 0:
            _w(b"\x01")  # the host may send another window
            remain = WINDOW
    if c == 3:
        _w(b"\x04")
        sys.print_exception(KeyboardInterrupt())
        _w(b"\x04")
        return
    _run(bytes(buf), g, "exec", True)


def raw_repl(g):
    """Returns when Ctrl-B asks for the friendly REPL."""
    _w(b"raw REPL; CTRL-B to exit\r\n>")
    line = bytearray()
    while True:
        try:
            c = _getc()
            if c == 1:  # Ctrl-A: \x05A\x01 starts raw-paste, otherwise the raw REPL restarts
                if len(line) == 2 and line[0] == 5:
                    cmd = line[1]
                    line = bytearray()
                    _raw_paste(cmd, g)
                    _w(b">")
                else:
                    line = bytearray()
                    _w(b"raw REPL; CTRL-B to exit\r\n>")
            elif c == 2:
                _w(b"\r\n")
                return
            elif c == 3:
                line = bytearray()
            elif c == 4:
                _w(b"OK")
                if not line:
                    _w(b"\r\n")
                    raise _SoftReset()
                src = bytes(line)
                line = bytearray()
                _run(src, g, "exec", True)
                _w(b">")
            else:
                line.append(c)
        except KeyboardInterrupt:  # Ctrl-C between two bytes: clears the line, as a byte would
            line = bytearray()


# --- friendly REPL ----------------------------------------------------------------------------

def _readline(prompt, text=""):
    """Read a line with echo. Returns (control char or 0, text); controls end an empty line."""
    _w(prompt)
    line = text
    esc = 0
    while True:
        try:
            c = _getc()
        except KeyboardInterrupt:
            c = 3
        if esc == 1:  # skip VT100 sequences (arrow keys): ESC [ ... final byte
            esc = 2 if c == 0x5B else 0
            continue
        if esc == 2:
            if 0x40 <= c <= 0x7E:
                esc = 0
            continue
        if c == 0x1B:
            esc = 1
        elif c == 3:
            return 3, line
        elif c in (1, 2, 4, 5) and not line:
            return c, line
        elif c in (0x0D, 0x0A):
            _w(b"\r\n")
            return 0, line
        elif c in (8, 0x7F):
            if line:
                line = line[:-1]
                _w(b"\x08 \x08")
        elif c >= 0x20 or c == 9:
            ch = chr(c) if c < 0x80 else "?"
            line += ch
            _w(ch.encode())


def _continues(src):
    """Does the REPL need more lines? (open brackets or strings, a colon, a block under way)."""
    if src.count('"""') % 2 or src.count("'''") % 2:
        return True
    depth = 0
    for ch in src:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    if depth > 0:
        return True
    lines = src.split("\n")
    last = lines[-1].rstrip()
    if last.endswith(":") or last.endswith("\\"):
        return True
    return len(lines) > 1 and last != ""


def _paste_mode(g):
    _w(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
    src = ""
    while True:
        try:
            c = _getc()
        except KeyboardInterrupt:
            c = 3
        if c == 3:
            _w(b"\r\n")
            return
        if c == 4:
            _w(b"\r\n")
            break
        if c in (0x0D, 0x0A):
            src += "\n"
            _w(b"\r\n=== ")
        else:
            ch = chr(c) if c < 0x80 else "?"
            src += ch
            _w(ch.encode())
    _run(src, g, "exec", False)


def friendly_repl(g):
    """Returns when Ctrl-A asks for the raw REPL."""
    _w(banner())
    while True:
        try:
            ctrl, src = _readline(b">>> ")
            if ctrl == 1:
                _w(b"\r\n")
                return
            if ctrl == 2:
                _w(b"\r\n" + banner())
                continue
            if ctrl == 3:
                _w(b"\r\n")
                continue
            if ctrl == 4:
                _w(b"\r\n")
                raise _SoftReset()
            if ctrl == 5:
                _paste_mode(g)
                continue
            if not src:
                continue
            while _continues(src):
                ctrl, more = _readline(b"... ")
                if ctrl == 3:
                    _w(b"\r\n")
                    src = ""
                    break
                if ctrl == 4:
                    break
                src += "\n" + more
            if src:
                _run(src + "\n", g, "single", False)
        except KeyboardInterrupt:
            _w(b"\r\n")


# --- the board's main loop ----------------------------------------------------------------------

def _install_vfs_rom():
    """`import vfs` in the REPL gets vfs plus rom_ioctl (the unix port's vfs has no ROMFS writes)."""
    import builtins

    import _vfsrom

    if not _vfsrom.available():
        return
    real = builtins.__import__

    def _import(name, *args):
        if name == "vfs" and (len(args) < 4 or not args[3]):
            return _vfsrom
        return real(name, *args)

    builtins.__import__ = _import


def boot(mode):
    """boot.py, main.py (friendly mode only, and only if boot.py went well), then the REPL."""
    g = {"__name__": "__main__"}
    try:
        ok = run_script("/boot.py", g)
        if mode != "raw" and ok:
            run_script("/main.py", g)
        g.pop("__file__", None)
        _install_vfs_rom()
        while True:
            if mode == "raw":
                raw_repl(g)
                mode = "friendly"
            else:
                friendly_repl(g)
                mode = "raw"
    except _SoftReset:
        _w(b"MPY: soft reboot\r\n")
        sys.exit(SOFT_RESET_RAW if mode == "raw" else SOFT_RESET_FRIENDLY)
