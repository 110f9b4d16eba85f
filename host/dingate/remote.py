"""A running board over its REPL, through mpremote's transport (`deploy`, `provision`).

PORT is a serial device (/dev/ttyUSB0, COM3) or socket://HOST:PORT (the emulator's --repl-port,
or a serial-to-TCP bridge). Connecting interrupts the firmware (Ctrl-C) and soft-resets into the
raw REPL: a clean heap, boot.py run, main.py not, exactly what mpremote does before its commands.

Files go over as base64 in chunks executed on the board, each written to PATH.tmp and renamed
over PATH when complete (littlefs renames atomically: a cut cable never leaves half a module).
If the board file sets a watchdog, it is fed between commands: on the ESP32 a watchdog started by
the firmware keeps running after Ctrl-C and a soft reset.
"""
import binascii
import json

CHUNK = 2048  # raw bytes per command: ~2.7 KB of base64 source, small for a WROOM's heap

_HELPERS = """
import os, gc, hashlib, binascii
from binascii import a2b_base64 as _dg_a2b
_dg_wdt = None
def _dg_feed():
    if _dg_wdt:
        _dg_wdt.feed()
def _dg_hash(p, b=bytearray(1024)):
    h = hashlib.sha256()
    m = memoryview(b)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(m[:n])
    return binascii.hexlify(h.digest()).decode()
def _dg_walk(d):
    try:
        es = list(os.ilistdir(d))
    except OSError:
        return
    for e in es:
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            _dg_walk(p)
        else:
            print(p, _dg_hash(p))
            _dg_feed()
def _dg_mkdirs(p):
    q = ''
    for part in p.split('/')[1:-1]:
        q += '/' + part
        try:
            os.mkdir(q)
        except OSError:
            pass
def _dg_put(p, data, first, last):
    global _dg_f
    _dg_feed()
    if first:
        _dg_mkdirs(p)
        _dg_f = open(p + '.tmp', 'wb')
    _dg_f.write(data)
    if last:
        _dg_f.close()
        _dg_f = None
        os.rename(p + '.tmp', p)
"""


class RemoteError(Exception):
    pass


def b64(data):
    return binascii.b2a_base64(data).strip().decode()


class Board:
    """One REPL session with a board. Use as a context manager."""

    def __init__(self, port, log=None):
        self.port = port
        self.log = log or (lambda text: None)
        self.t = None

    def __enter__(self):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        try:
            self.t = SerialTransport(self.port, baudrate=115200)
            self.t.enter_raw_repl(soft_reset=True)
        except (TransportError, OSError) as e:
            if self.t is not None:
                self.t.close()
            raise RemoteError("%s: no MicroPython REPL answered (%s)" % (self.port, e))
        self.exec(_HELPERS)
        return self

    def __exit__(self, *exc):
        if self.t is not None:
            try:
                if self.t.in_raw_repl:
                    self.t.exit_raw_repl()
            except OSError:
                pass
            self.t.close()
            self.t = None

    # --- commands -----------------------------------------------------------------------------
    def exec(self, code):
        """Run ``code`` on the board; its output (bytes). Errors on the board raise RemoteError."""
        from mpremote.transport import TransportError, TransportExecError

        try:
            return self.t.exec(code)
        except TransportExecError as e:
            raise RemoteError("on the board: %s" % e.error_output.strip().splitlines()[-1])
        except (TransportError, OSError) as e:
            raise RemoteError("%s: %s" % (self.port, e))

    def eval(self, expr):
        return json.loads(self.exec("import json\nprint(json.dumps(%s))" % expr).decode())

    def read_text(self, path):
        """The file's text, or None if it does not exist."""
        out = self.exec("try:\n print(open(%r).read())\nexcept OSError:\n print('\\x00')" % path)
        text = out.decode().rstrip("\r\n")
        return None if text == "\x00" else text

    def read_file(self, path):
        """The file's bytes, read in chunks (for files in ROM too)."""
        data = bytearray()
        while True:
            out = self.exec("with open(%r, 'rb') as f:\n f.seek(%d)\n print(binascii.b2a_base64("
                            "f.read(%d)).decode().strip())" % (path, len(data), CHUNK))
            chunk = binascii.a2b_base64(out.strip())
            data += chunk
            if len(chunk) < CHUNK:
                return bytes(data)

    def watchdog(self, timeout_ms):
        """Feed (and so keep) the board's watchdog during the session."""
        if timeout_ms:
            self.exec("import machine\n_dg_wdt = machine.WDT(timeout=%d)\n_dg_feed()" % int(timeout_ms))

    def hashes(self, dirs=(), files=()):
        """{path: sha256 hex} of every file under ``dirs`` and of the ``files`` that exist."""
        code = "".join("_dg_walk(%r)\n" % d.rstrip("/") for d in dirs)
        for p in files:
            code += "try:\n print(%r, _dg_hash(%r))\nexcept OSError:\n pass\n" % (p, p)
        out = {}
        for line in self.exec(code or "pass").decode().splitlines():
            if line.strip():
                path, digest = line.strip().rsplit(" ", 1)
                out[path] = digest
        return out

    def write_file(self, path, data, progress=None):
        """Write ``data`` to ``path`` (parents made, via PATH.tmp and a rename)."""
        n = max(1, (len(data) + CHUNK - 1) // CHUNK)
        for i in range(n):
            chunk = data[i * CHUNK:(i + 1) * CHUNK]
            self.exec("_dg_put(%r, _dg_a2b(%r), %d, %d)" % (path, b64(chunk), i == 0, i == n - 1))
            if progress:
                progress(min(len(data), (i + 1) * CHUNK), len(data))

    def remove(self, paths):
        if paths:
            self.exec("for p in %r:\n try:\n  os.remove(p)\n except OSError:\n  pass" % (list(paths),))

    def mac_hex(self):
        return self.exec("import machine\nprint(binascii.hexlify(machine.unique_id()).decode())"
                         ).decode().strip()

    def reset(self):
        """Hard reset (machine.reset()); the session ends."""
        try:
            self.t.exec_raw_no_follow("import machine\nmachine.reset()")
        except OSError:
            pass
        self.t.in_raw_repl = False  # the board is rebooting: nothing to leave
