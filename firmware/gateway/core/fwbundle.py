"""Firmware bundles: what POST /api/firmware takes and `dingate build` writes
(build/<board>/firmware.tar, the path the build prints).

A bundle is a POSIX tar archive (pax format, no compression) of what `dingate build` puts on a
board, its members in this order:

  dingate-firmware.json   {"format": 2, "version": "0.2.0", "board": "<board name>", "files": n,
                           "members": "<hex SHA-256 over every later member's name and SHA-256>"}
  romfs.img               the ROMFS partition image: the code, executed in place (optional)
  boot.py, main.py, manifest.json, lib/..., www/...    the littlefs files the build owns

Every member is preceded by a pax header carrying ``DINGATE.sha256`` (its SHA-256, hex); the
manifest's also carries ``DINGATE.hmac``: HMAC-SHA256 of the manifest's bytes under the update
key (docs/decisions/0006): the signature. Since the manifest names the digest of every member
(``members_digest``), the signature covers the whole bundle. ``files`` counts the members after
the manifest. The board file is not in a bundle (it is the device's).

The device reads an upload in small chunks (``Unpacker.feed``), checking as it goes: tar header
checksums, names (only the ones above, no "..", no absolute paths), the manifest first, signed
with this device's update key, for this board and not older than the running firmware, each
member's size and SHA-256, the end-of-archive marker, the members digest. Members are written
into the staging tree /fw.new (``Stager``). Only when the whole upload checked out does
gateway.core.fwswitch.commit make it the update (one rename); the next boot switches the files
and then writes the ROMFS image (``finish_romfs``, from boot.py, before any code runs from /rom).

Nothing here needs more than one chunk of RAM (bounded by the caller, 1 KiB in the web layer).
"""
import hashlib
import json
import os

from gateway.core import fwswitch
from gateway.core.auth import ct_equal, hmac_sha256
from gateway.core.configstore import mkdirs, remove_tree
from gateway.core.errors import ValidationError

FORMAT = 2
MANIFEST = "dingate-firmware.json"
ROMFS = fwswitch.ROMFS
STAGE = fwswitch.STAGE
BLOCK = 512
MAX_MANIFEST = 2048
MAX_PAX = 1024
MAX_MEMBER = 1024 * 1024
TOP_FILES = ("boot.py", "main.py", "manifest.json")
TOP_DIRS = ("lib", "www")
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
_ZERO = bytes(BLOCK)
FIELD = "firmware"


def _bad(message, code="fw_bundle", params=None):
    """A refused bundle; the code says it to the page ("fw_bundle": not a bundle, or damaged)."""
    return ValidationError(FIELD, message, code, params)


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


def version_key(text):
    """"1.2.3+x" -> (1, 2, 3): the numbers a downgrade is judged by (a suffix is ignored)."""
    out = []
    for part in text.split("+")[0].split("-")[0].split("."):
        n = 0
        for c in part:
            if not "0" <= c <= "9":
                break
            n = n * 10 + ord(c) - 48
        out.append(n)
    return tuple(out)


def members_digest():
    """The running digest the manifest's "members" is: ``member(d, name, sha_hex)`` each."""
    return hashlib.sha256()


def member(d, name, sha_hex):
    d.update(name.encode())
    d.update(b"\x00")
    d.update(sha_hex.encode())
    d.update(b"\n")


def sign(key, manifest_bytes):
    """The manifest's signature (hex), ``key`` the update key (bytes)."""
    return _hex(hmac_sha256(key, manifest_bytes))


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

    ``sink`` gets ``begin(name, size, sha256 hex)``, ``write(memoryview)``, ``end(name)`` for
    every member after the manifest. ``board``: the device's board name (the manifest must name it, unless
    None); ``key``: the device's update key (bytes; None: every bundle is refused);
    ``running``: the running firmware's version (an older bundle is refused).
    """

    def __init__(self, sink, board=None, key=None, running=None):
        self.sink = sink
        self.board = board
        self.key = key
        self.running = running
        self._hmac = None  # the manifest's signature from its pax header
        self._next_hmac = None
        self._members = members_digest()
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
        if not ct_equal(_hex(self._members.digest()), self.manifest["members"]):
            raise _bad("the bundle was altered after it was signed (members digest)")
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
            self.sink.begin(name, size, self._next_sha)
        self._want = self._next_sha
        self._hmac = self._next_hmac
        self._next_sha = self._next_path = self._next_hmac = None
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
            self._next_hmac = rec.get("DINGATE.hmac")
            if "size" in rec:
                raise _bad("a bundle's members are smaller than 8 GB")
            return
        got = _hex(self._sha.digest())
        self._sha = None
        if got != self._want:
            raise _bad("%s is damaged (SHA-256 mismatch)" % self._name)
        if kind == "manifest":
            self._check_signature(self._buf)
            self.manifest = self._check_manifest(self._buf)
            self._buf = None
        else:
            member(self._members, self._name, got)
            self.sink.end(self._name)

    def _check_signature(self, raw):
        if self.key is None:
            raise _bad("this device has no update key: provision it (dingate provision) to "
                       "take signed bundles", "fw_key")
        if not self._hmac:
            raise _bad("the bundle is not signed: refused", "fw_signature")
        if not ct_equal(sign(self.key, raw), self._hmac.lower()):
            raise _bad("bad signature: the bundle was not signed with this device's update "
                       "key, or was altered", "fw_signature")

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
            raise _bad("this bundle is for the board %s, not %s" % (m.get("board"), self.board),
                       "fw_board", {"board": str(m.get("board")), "want": self.board})
        if self.running is not None and version_key(m["version"]) < version_key(self.running):
            raise _bad("firmware %s is older than the running %s: downgrades are refused" % (
                m["version"], self.running), "fw_downgrade", {"version": m["version"], "running": self.running})
        members = m.get("members")
        if not isinstance(members, str) or len(members) != 64:
            raise _bad("%s: members digest missing" % MANIFEST)
        return {"format": FORMAT, "version": m["version"], "board": m.get("board"), "files": n,
                "members": members.lower()}


def _hex(b):
    return "".join("%02x" % x for x in b)


# --- files ---------------------------------------------------------------------------------------

class NoRoom(Exception):
    """The staged update would leave less than ``spare`` bytes of flash free."""


def _same_file(path, size, sha_hex, buf):
    """The file at ``path`` has ``size`` bytes and SHA-256 ``sha_hex`` (read through ``buf``)."""
    try:
        if os.stat(path)[6] != size:
            return False
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(memoryview(buf)[:n])
    except OSError:
        return False
    return _hex(h.digest()) == sha_hex


class Stager:
    """A sink for ``Unpacker``: each member written to ``root``/name (the staging tree).

    A member identical to the installed file (``target``/name: same size and SHA-256) is not
    written again: its name goes to ``root``/.keep instead (gateway.core.fwswitch keeps that file
    in place), so an update stages only what changed. Before each member is written the flash
    must keep ``spare`` bytes free after it (else ``NoRoom``); ``free()`` tells what is free.
    """

    def __init__(self, root=STAGE, target="", spare=0, free=None, block=4096):
        self.root = root
        self.target = target
        self.spare = spare
        self.free = free
        self.block = block
        self._f = None
        self._buf = bytearray(512)
        self.bytes = 0  # written to the staging tree
        self.kept = 0  # members identical to the installed files

    def begin(self, name, size, sha=None):
        mkdirs(self.root)
        if name != ROMFS and sha and _same_file(self.target + "/" + name, size, sha, self._buf):
            with open(self.root + fwswitch.KEEP, "a") as f:
                f.write(name + "\n")
            self.kept += 1
            return
        if self.free is not None:
            left = self.free()
            if left is not None and left - (size + self.block - 1) // self.block * self.block \
                    < self.spare:
                raise NoRoom("not enough flash for this update: %s needs %d bytes, %d free "
                             "(%d kept for data)" % (name, size, left, self.spare))
        path = self.root + "/" + name
        mkdirs(path[:path.rfind("/")])
        self._f = open(path, "wb")

    def write(self, mv):
        if self._f is not None:
            self._f.write(mv)
            self.bytes += len(mv)

    def end(self, name):
        if self._f is not None:
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
        raise _bad("the ROMFS image (%d bytes) is larger than the partition" % size, "fw_rom_size")
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


def finish_romfs(rom, root="", log=print):
    """At boot (boot.py), once gateway.core.fwswitch.switch() said "romfs" and before anything
    runs from /rom: write the update's ROMFS image, then drop the update's leftovers. True when
    the image was written. A failure drops them too (no boot loop: the code then runs from the
    new /lib); a power cut does not, so the next boot writes the image again."""
    if not fwswitch.romfs_pending(root):
        return False
    path = root + fwswitch.READY + "/" + ROMFS
    size = os.stat(path)[6]
    try:
        if rom is None:
            raise OSError("this MicroPython has no vfs.rom_ioctl")
        for _ in write_romfs(path, rom):
            pass
        ok = True
        text = "update installed, ROMFS partition written (%d bytes)" % size
    except Exception as e:  # noqa: BLE001 - logged, then the boot goes on
        ok = False
        text = "update installed, but the ROMFS was not written (%s): code runs from /lib" % e
    fwswitch.done(root)
    fwswitch.note(root, text, log)
    return ok
