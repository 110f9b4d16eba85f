"""Firmware bundles: what POST /api/firmware takes and `dingate build` writes (build/firmware.tar).

A bundle is a POSIX tar archive (pax format, no compression) of what `dingate build` puts on a
board, its members in this order:

  dingate-firmware.json   {"format": 1, "version": "0.2.0", "board": "<board name>", "files": n}
  romfs.img               the ROMFS partition image: the code, executed in place (optional)
  boot.py, main.py, manifest.json, lib/..., www/...    the littlefs files the build owns

Every member is preceded by a pax header carrying ``DINGATE.sha256`` (its SHA-256, hex); ``files``
counts the members after the manifest. The board file is not in a bundle (it is the device's).

The device reads an upload in small chunks (``Unpacker.feed``), checking as it goes: tar header
checksums, names (only the ones above, no "..", no absolute paths), the manifest first and for
this board, each member's size and SHA-256, the end-of-archive marker. Members are written into a
staging tree (``Stager``: /fw.new; the ROMFS image as romfs.part). Only when the whole upload
checked out (and the SHA-256 of the whole body matched the X-Firmware-SHA256 header, when given)
does ``commit_romfs`` name the image romfs.img and ``install_files`` move the staged files into
place; the image is written to its partition by ``finish_romfs``, called from boot.py at the next
boot before any code runs from /rom: the running firmware executes its bytecode in place from
that partition, so it cannot erase it under itself. An upload cut short (even by a power loss)
never leaves a romfs.img for boot.py.

Nothing here needs more than one chunk of RAM (bounded by the caller, 1 KiB in the web layer).
"""
import hashlib
import json
import os

from gateway.core.configstore import exists, mkdirs, remove_tree
from gateway.core.configstore import is_dir as _isdir
from gateway.core.errors import ValidationError

FORMAT = 1
MANIFEST = "dingate-firmware.json"
ROMFS = "romfs.img"
ROMFS_PART = "romfs.part"  # the ROMFS image while it is not verified (boot.py ignores it)
STAGE = "/fw.new"
BLOCK = 512
MAX_MANIFEST = 2048
MAX_PAX = 1024
MAX_MEMBER = 1024 * 1024
TOP_FILES = ("boot.py", "main.py", "manifest.json")
TOP_DIRS = ("lib", "www")
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
_ZERO = bytes(BLOCK)
FIELD = "firmware"


def _bad(message):
    return ValidationError(FIELD, message)


def _cstr(b):
    i = 0
    while i < len(b) and b[i]:
        i += 1
    try:
        return bytes(b[:i]).decode()
    except (UnicodeError, ValueError):
        raise _bad("bad name in a tar header")


def _octal(b):
    s = _cstr(b).strip()
    if not s:
        return 0
    n = 0
    for c in s:
        if c < "0" or c > "7":
            raise _bad("not a tar archive (bad number in a header)")
        n = n * 8 + ord(c) - 48
    return n


def check_name(name):
    """A member name of a bundle, or ValidationError: only what the build owns, nothing else."""
    parts = name.split("/")
    for p in parts:
        if not p or p in (".", "..") or len(p) > 64:
            raise _bad("bad file name in the bundle: %s" % name)
        for c in p:
            if c not in _NAME_CHARS:
                raise _bad("bad file name in the bundle: %s" % name)
    if len(parts) == 1:
        if name not in TOP_FILES and name not in (MANIFEST, ROMFS):
            raise _bad("a bundle cannot carry %s" % name)
    elif parts[0] not in TOP_DIRS:
        raise _bad("a bundle cannot carry %s" % name)
    return name


def _pax(raw):
    """{key: value} of a pax extended header's records ("<len> key=value\\n")."""
    try:
        data = bytes(raw).decode()
    except (UnicodeError, ValueError):
        raise _bad("bad pax header")
    out = {}
    i = 0
    while i < len(data):
        sp = data.find(" ", i)
        n = int(data[i:sp]) if sp > i and data[i:sp].isdigit() else 0
        rec = data[sp + 1:i + n]
        if n <= 0 or i + n > len(data) or not rec.endswith("\n") or "=" not in rec:
            raise _bad("bad pax header")
        eq = rec.find("=")
        out[rec[:eq]] = rec[eq + 1:-1]
        i += n
    return out


class Unpacker:
    """Push parser: ``feed(bytes)`` as the upload arrives, ``finish()`` at its end.

    ``sink`` gets ``begin(name, size)``, ``write(memoryview)``, ``end(name)`` for every member
    after the manifest. ``board``: the device's board name (the manifest must name it).
    """

    def __init__(self, sink, board=None):
        self.sink = sink
        self.board = board
        self.manifest = None
        self.count = 0
        self._hdr = bytearray(BLOCK)
        self._fill = 0
        self._left = 0  # data bytes of the current member still to come
        self._pad = 0  # padding after it
        self._kind = None  # "pax" | "manifest" | "file"
        self._name = None
        self._buf = None  # pax header or manifest, kept in RAM (small)
        self._sha = None
        self._want = None  # the member's SHA-256 from its pax header
        self._next_sha = None
        self._next_path = None
        self._ended = False

    def feed(self, data):
        mv = memoryview(data)
        n = len(mv)
        i = 0
        while i < n:
            if self._left:
                k = min(self._left, n - i)
                self._data(mv[i:i + k])
                i += k
                self._left -= k
                if not self._left:
                    self._end()
            elif self._pad:
                k = min(self._pad, n - i)
                i += k
                self._pad -= k
            else:
                k = min(BLOCK - self._fill, n - i)
                self._hdr[self._fill:self._fill + k] = mv[i:i + k]
                self._fill += k
                i += k
                if self._fill == BLOCK:
                    self._fill = 0
                    self._header()

    def finish(self):
        """The upload is complete: it must have ended with the end-of-archive marker."""
        if self._left or self._fill or not self._ended:
            raise _bad("the bundle is incomplete (cut short?)")
        if self.manifest is None:
            raise _bad("not a dingate firmware bundle (no %s)" % MANIFEST)
        if self.count != self.manifest["files"]:
            raise _bad("the bundle has %d files, its manifest says %d" % (
                self.count, self.manifest["files"]))
        return self.manifest

    # --- internals
    def _header(self):
        h = self._hdr
        if h == _ZERO:
            self._ended = True  # end of archive: only zero blocks may follow
            return
        if self._ended:
            raise _bad("data after the end of the archive")
        if bytes(h[257:262]) != b"ustar":
            raise _bad("not a tar archive (ustar)")
        chk = sum(h) - sum(h[148:156]) + 256  # the checksum field counts as spaces
        if chk != _octal(h[148:156]):
            raise _bad("damaged tar header (checksum)")
        typ = h[156]
        size = _octal(h[124:136])
        if typ == 0x78:  # "x": pax header of the next member
            if size > MAX_PAX:
                raise _bad("pax header too large")
            self._start("pax", None, size)
            return
        if typ == 0x35:  # "5": a directory (nothing to write)
            self._next_sha = self._next_path = None
            return
        if typ not in (0x30, 0):
            raise _bad("a bundle holds only regular files")
        name = self._next_path
        if name is None:
            name = _cstr(h[0:100])
            prefix = _cstr(h[345:500])
            if prefix:
                name = prefix + "/" + name
        check_name(name)
        if self._next_sha is None:
            raise _bad("%s has no SHA-256 in the bundle" % name)
        if size > MAX_MEMBER:
            raise _bad("%s is too large" % name)
        if self.manifest is None:
            if name != MANIFEST:
                raise _bad("not a dingate firmware bundle (%s must come first)" % MANIFEST)
            if size > MAX_MANIFEST:
                raise _bad("%s too large" % MANIFEST)
            kind = "manifest"
        elif name == MANIFEST:
            raise _bad("%s appears twice" % MANIFEST)
        else:
            kind = "file"
            self.count += 1
            if self.count > self.manifest["files"]:
                raise _bad("the bundle has more files than its manifest says")
            self.sink.begin(name, size)
        self._want = self._next_sha
        self._next_sha = self._next_path = None
        self._sha = hashlib.sha256()
        self._start(kind, name, size)

    def _start(self, kind, name, size):
        self._kind = kind
        self._name = name
        self._left = size
        self._pad = (BLOCK - size % BLOCK) % BLOCK
        self._buf = bytearray() if kind != "file" else None
        if not size:
            self._end()

    def _data(self, mv):
        if self._kind == "file":
            self._sha.update(mv)
            self.sink.write(mv)
            return
        if self._kind == "manifest":
            self._sha.update(mv)
        self._buf.extend(mv)

    def _end(self):
        kind = self._kind
        self._kind = None
        if kind == "pax":
            rec = _pax(self._buf)
            self._buf = None
            sha = rec.get("DINGATE.sha256")
            if sha is not None:
                if len(sha) != 64:
                    raise _bad("bad SHA-256 in the bundle")
                self._next_sha = sha.lower()
            if "path" in rec:
                self._next_path = rec["path"]
            if "size" in rec:
                raise _bad("a bundle's members are smaller than 8 GB")
            return
        got = _hex(self._sha.digest())
        self._sha = None
        if got != self._want:
            raise _bad("%s is damaged (SHA-256 mismatch)" % self._name)
        if kind == "manifest":
            self.manifest = self._check_manifest(self._buf)
            self._buf = None
        else:
            self.sink.end(self._name)

    def _check_manifest(self, raw):
        try:
            m = json.loads(bytes(raw).decode())
        except ValueError:  # UnicodeError is one too
            raise _bad("%s is not JSON" % MANIFEST)
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise _bad("unknown bundle format (this firmware reads format %d)" % FORMAT)
        n = m.get("files")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise _bad("%s: files must be a count" % MANIFEST)
        if not isinstance(m.get("version"), str):
            raise _bad("%s: version missing" % MANIFEST)
        if self.board is not None and m.get("board") != self.board:
            raise _bad("this bundle is for the board %s, not %s" % (m.get("board"), self.board))
        return {"format": FORMAT, "version": m["version"], "board": m.get("board"), "files": n}


def _hex(b):
    return "".join("%02x" % x for x in b)


# --- files ---------------------------------------------------------------------------------------

def walk(root, rel=""):
    """Relative paths of the files under ``root`` (depth first; directories not listed)."""
    base = root + ("/" + rel if rel else "")
    for name in sorted(os.listdir(base)):
        r = rel + "/" + name if rel else name
        if _isdir(root + "/" + r):
            for x in walk(root, r):
                yield x
        else:
            yield r


class Stager:
    """A sink for ``Unpacker``: each member written to ``root``/name (the staging tree)."""

    def __init__(self, root=STAGE):
        self.root = root
        self._f = None
        self.bytes = 0

    def begin(self, name, size):
        path = self.root + "/" + (ROMFS_PART if name == ROMFS else name)
        mkdirs(path[:path.rfind("/")])
        self._f = open(path, "wb")

    def write(self, mv):
        self._f.write(mv)
        self.bytes += len(mv)

    def end(self, name):
        self._f.close()
        self._f = None

    def abort(self):
        if self._f is not None:
            try:
                self._f.close()
            except OSError:
                pass
            self._f = None
        remove_tree(self.root)


def install_files(stage=STAGE, target=""):
    """Move the staged littlefs files into place (``target`` "" is the filesystem root).

    Files under lib/ and www/ that the bundle does not carry are removed first (the build owns
    those trees); the ROMFS image stays in the staging tree for ``finish_romfs``. A generator:
    the caller may yield to its loop between steps. Returns by StopIteration; yields file names.
    """
    for top in TOP_DIRS:
        if not _isdir(stage + "/" + top) or not _isdir(target + "/" + top):
            continue
        for rel in list(walk(target + "/" + top)):
            if not exists(stage + "/" + top + "/" + rel):
                os.remove(target + "/" + top + "/" + rel)
                yield top + "/" + rel
    for rel in list(walk(stage)):
        if rel in (ROMFS, ROMFS_PART):
            continue
        dest = target + "/" + rel
        if "/" in rel:
            mkdirs(dest[:dest.rfind("/")])
        if exists(dest):
            os.remove(dest)
        os.rename(stage + "/" + rel, dest)
        yield rel
    for top in TOP_DIRS:
        remove_tree(stage + "/" + top)


def rom_capacity(rom):
    """The size of ROMFS partition 0 through ``vfs.rom_ioctl`` (0 when there is none)."""
    if rom is None or rom(1) <= 0:
        return 0
    part = rom(2, 0)
    if hasattr(part, "ioctl"):
        return part.ioctl(4, 0) * part.ioctl(5, 0)
    return len(part)


def write_romfs(path, rom, chunk=1024):
    """Erase ROMFS partition 0 and write the image file ``path`` into it through ``rom``
    (vfs.rom_ioctl): every chunk but the first, then the first one (its header), so an image cut
    short by a power loss is not a valid ROMFS and the next boot writes it again. A generator
    (yields bytes written so far)."""
    size = os.stat(path)[6]
    if size > rom_capacity(rom):
        raise _bad("the ROMFS image (%d bytes) is larger than the partition" % size)
    mw = rom(3, 0, size)
    if mw is None or mw < 0:
        raise OSError("ROMFS erase failed (%s)" % mw)
    mw = max(1, mw)
    if chunk % mw:
        chunk = (chunk // mw + 1) * mw
    buf = bytearray(chunk)
    f = open(path, "rb")
    try:
        off = chunk
        while off < size:
            f.seek(off)
            n = _put(rom, f, buf, off, mw)
            off += n
            yield off
        f.seek(0)
        _put(rom, f, buf, 0, mw)
    finally:
        f.close()
    r = rom(5, 0)
    if r is not None and r < 0:
        raise OSError("ROMFS write did not complete (%d)" % r)
    yield size


def _put(rom, f, buf, off, mw):
    n = f.readinto(buf)
    if not n:
        raise OSError("ROMFS image read failed at %d" % off)
    m = n
    if m % mw:
        m += mw - m % mw
        for i in range(n, m):
            buf[i] = 0xFF
    r = rom(4, 0, off, memoryview(buf)[:m])
    if r is not None and r < 0:
        raise OSError("ROMFS write failed at %d (%d)" % (off, r))
    return n


def staged_romfs(stage=STAGE):
    """The verified upload carries a ROMFS image (not yet committed for boot.py)."""
    return exists(stage + "/" + ROMFS_PART)


def commit_romfs(stage=STAGE):
    """The staged image, verified, becomes what boot.py writes at the next boot."""
    os.rename(stage + "/" + ROMFS_PART, stage + "/" + ROMFS)


def pending_romfs(stage=STAGE):
    return exists(stage + "/" + ROMFS)


def finish_romfs(rom, stage=STAGE, log=print):
    """At boot (boot.py), before anything runs from /rom: write a staged ROMFS image, then drop
    it. True when an image was written. A failure drops the image too (no boot loop); a power
    cut does not, so the next boot writes it again."""
    path = stage + "/" + ROMFS
    if not exists(path):
        return False
    try:
        if rom is None:
            raise OSError("this MicroPython has no vfs.rom_ioctl")
        for _ in write_romfs(path, rom):
            pass
        log("firmware: ROMFS partition written (%d bytes)" % os.stat(path)[6])
        ok = True
    except Exception as e:  # noqa: BLE001 - logged, then the boot goes on
        log("firmware: ROMFS not written: %s" % e)
        ok = False
    remove_tree(stage)
    return ok
