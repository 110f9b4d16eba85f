"""The REPL of the emulated board's USB serial line (see replboot.py): friendly, raw, raw-paste."""
import sys

from _resets import HARD, SoftReset, exit_code

WINDOW = 128  # raw-paste flow-control window: the ESP32 port's (half its 256-byte stdin buffer)

_in = sys.stdin.buffer
_out = sys.stdout.buffer
CURRENT = ["friendly"]  # the REPL in use: a soft reset comes back to it


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


def banner():
    v = sys.implementation.version
    built = sys.version.split(" on ")[-1] if " on " in sys.version else ""
    return ("MicroPython v%d.%d.%d on %s; %s\r\n"
            'Type "help()" for more information.\r\n' % (v[0], v[1], v[2], built,
                                                           _machine())).encode()


def _machine():
    """The board's name as its MicroPython image prints it (DINGATE_EMU "machine")."""
    import json
    import os

    return json.loads(os.getenv("DINGATE_EMU") or "{}").get("machine", "Generic ESP32 module with ESP32")


def _run(src, g, mode, eof):
    """Compile and run ``src``; with ``eof`` the raw REPL's framing (\\x04 out \\x04 err \\x04)."""
    try:
        exec(compile(src, "<stdin>", mode), g)
    except SystemExit as e:
        if exit_code(e) in HARD:
            raise
        if eof:
            _w(b"\x04\x04")
        raise SoftReset()
    except BaseException as e:  # noqa: B036 - KeyboardInterrupt too, as the board prints it
        if eof:
            _w(b"\x04")
        sys.print_exception(e)
        if eof:
            _w(b"\x04")
        return
    if eof:
        _w(b"\x04\x04")



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
                    raise SoftReset()
                src = bytes(line)
                line = bytearray()
                _run(src, g, "exec", True)
                _w(b">")
            else:
                line.append(c)
        except KeyboardInterrupt:  # Ctrl-C between two bytes: clears the line, as a byte would
            line = bytearray()
        except MemoryError as e:  # the firmware's objects still fill the heap: say so, go on
            line = bytearray()
            sys.print_exception(e)
            _w(b">")


# --- friendly REPL ----------------------------------------------------------------------------

def _readline(prompt, text=""):
    """Read a line with echo. Returns (control char or 0, text); controls end an empty line."""
    _w(prompt + text.encode())
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
        elif c in (1, 2, 4, 5) and not line.strip():
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
    return len(lines) > 1 and last.strip() != ""


def _indent(src):
    """Auto-indent, as the board's REPL: the last line's indentation, 4 more after a colon."""
    last = src.split("\n")[-1]
    ind = last[:len(last) - len(last.lstrip())]
    return ind + "    " if last.rstrip().endswith(":") else ind


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
                raise SoftReset()
            if ctrl == 5:
                _paste_mode(g)
                continue
            if not src:
                continue
            while _continues(src):
                ctrl, more = _readline(b"... ", _indent(src))
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
        except MemoryError as e:
            sys.print_exception(e)


def install_vfs_rom():
    """`import vfs` in the REPL gets vfs plus rom_ioctl (the unix port's vfs has no ROMFS writes)."""
    import builtins

    try:
        import _vfsrom
    except MemoryError:  # after Ctrl-C the firmware may fill the heap; a soft reset frees it
        return
    if not _vfsrom.available():
        return
    real = builtins.__import__

    def _import(name, *args):
        if name == "vfs" and (len(args) < 4 or not args[3]):
            return _vfsrom
        return real(name, *args)

    builtins.__import__ = _import


def serve(mode, g):
    """The board's REPL loop; ends only by a reset (SoftReset, SystemExit)."""
    while True:
        CURRENT[0] = mode
        try:
            if mode == "raw":
                raw_repl(g)
                mode = "friendly"
            else:
                friendly_repl(g)
                mode = "raw"
        except KeyboardInterrupt:
            # a Ctrl-C (SIGINT from the host) that landed while the REPL itself was writing, e.g.
            # its prompt: on a board it is a byte the REPL reads, so the same REPL goes on
            pass
