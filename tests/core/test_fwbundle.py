"""Firmware bundles: the streaming tar reader, the staging tree, installing, the ROMFS writer.

The bundles here are made by a small tar writer below (MicroPython has no tarfile); the host's
`dingate build` bundle (Python's tarfile) is read by tests/integration/test_backup_restore.py.
"""
import binascii
import hashlib
import json

from _assert import raises, tmpdir

from gateway.core import fwbundle
from gateway.core.errors import ValidationError


def _sha(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


def _header(name, size, typ):
    h = bytearray(512)
    nb = name.encode()
    h[0:len(nb)] = nb
    h[100:108] = b"0000644\x00"
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = ("%011o\x00" % size).encode()
    h[136:148] = b"00000000000\x00"
    h[148:156] = b"        "
    h[156] = ord(typ)
    h[257:263] = b"ustar\x00"
    h[263:265] = b"00"
    chk = 0
    for b in h:
        chk += b
    h[148:156] = ("%06o\x00 " % chk).encode()
    return bytes(h)


def _pad(data):
    return data + bytes((512 - len(data) % 512) % 512)


def _pax(records):
    out = b""
    for k, v in records:
        rest = " %s=%s\n" % (k, v)
        n = len(rest) + len(str(len(rest)))
        if len(str(n)) > len(str(len(rest))):
            n += 1
        out += ("%d%s" % (n, rest)).encode()
    return out


def _tar(members, sha=True, end=True):
    """members: (name, bytes) in order; each gets a pax header with its SHA-256."""
    out = b""
    for name, data in members:
        if sha is True or (sha and name in sha):
            rec = _pax([("DINGATE.sha256", _sha(data) if sha is True or sha[name] is None
                         else sha[name])])
            out += _header("PaxHeader/" + name[-80:], len(rec), "x") + _pad(rec)
        out += _header(name, len(data), "0") + _pad(data)
    if end:
        out += bytes(1024 * 3)
    return out


def _manifest(n, board="emulator", version="9.9.9", fmt=1):
    return ("dingate-firmware.json", json.dumps({"format": fmt, "version": version,
                                                 "board": board, "files": n}).encode())


FILES = [
    ("romfs.img", bytes(range(256)) * 9 + b"tail"),
    ("boot.py", b"import gc\n"),
    ("lib/gateway/app.mpy", b"M\x06" + b"x" * 1500),
    ("lib/gateway/core/new.mpy", b"M\x06new"),
    ("www/app.js.gz", b"\x1f\x8b" + b"j" * 700),
    ("manifest.json", b"{}"),
]


def _bundle(files=FILES, **kw):
    return _tar([_manifest(len(files), **kw)] + list(files))


def _tmpdir():
    return tmpdir("dgt_fw_")


def _read(path):
    f = open(path, "rb")
    try:
        return f.read()
    finally:
        f.close()


def _write(path, data):
    fwbundle.mkdirs(path[:path.rfind("/")])
    f = open(path, "wb")
    f.write(data)
    f.close()


class _Sink:
    def __init__(self):
        self.files = {}
        self._name = None

    def begin(self, name, size):
        self._name = name
        self.files[name] = b""

    def write(self, mv):
        self.files[self._name] += bytes(mv)

    def end(self, name):
        self._name = None


def _unpack(data, chunk=1024, board="emulator"):
    sink = _Sink()
    u = fwbundle.Unpacker(sink, board)
    for i in range(0, len(data), chunk):
        u.feed(data[i:i + chunk])
    return u.finish(), sink.files


def test_unpacks_in_any_chunking():
    data = _bundle()
    for chunk in (1, 7, 511, 512, 1024, 4096, len(data)):
        m, files = _unpack(data, chunk)
        assert m["version"] == "9.9.9" and m["files"] == len(FILES)
        assert files == dict(FILES), chunk


def test_damaged_member_is_refused():
    data = bytearray(_bundle())
    i = data.find(b"M\x06xxxx")
    data[i + 100] ^= 1
    e = raises(ValidationError, _unpack, bytes(data))
    assert e.field == "firmware" and "app.mpy" in e.message and "SHA-256" in e.message


def test_wrong_sha_in_pax_is_refused():
    data = _tar([_manifest(1), ("boot.py", b"x")], sha={"dingate-firmware.json": None,
                                                         "boot.py": "0" * 64})
    assert "SHA-256" in raises(ValidationError, _unpack, data).message


def test_member_without_sha_is_refused():
    data = _tar([_manifest(1), ("boot.py", b"x")], sha={"dingate-firmware.json": None})
    assert "no SHA-256" in raises(ValidationError, _unpack, data).message


def test_board_and_format_are_checked():
    assert "board" in raises(ValidationError, _unpack, _bundle(board="esp32-other")).message
    assert "format" in raises(ValidationError, _unpack, _bundle(fmt=2)).message
    # no board given: any board's bundle reads
    _unpack(_bundle(board="esp32-other"), board=None)


def test_manifest_must_come_first_and_once():
    data = _tar([("boot.py", b"x"), _manifest(1)])
    assert "first" in raises(ValidationError, _unpack, data).message
    data = _tar([_manifest(2), ("boot.py", b"x"), _manifest(2)])
    assert "twice" in raises(ValidationError, _unpack, data).message


def test_names_outside_the_build_are_refused():
    for name in ("../boot.py", "board.json", "data/cfg/users.json", "lib/../x", "lib//x",
                 "lib/gateway/a b.mpy", "provision.json", "www/.."):
        data = _tar([_manifest(1), (name, b"x")])
        e = raises(ValidationError, _unpack, data)
        assert e.field == "firmware", name
    for name in ("lib/gateway/x.mpy", "www/index.html.gz", "main.py"):
        fwbundle.check_name(name)


def test_truncation_and_counts():
    data = _bundle()
    for cut in (100, 512, 3000, len(data) - 3 * 1024 - 10):
        raises(ValidationError, _unpack, data[:cut])
    # without the end-of-archive marker: incomplete
    raises(ValidationError, _unpack, _tar([_manifest(1), ("boot.py", b"x")], end=False))
    e = raises(ValidationError, _unpack, _tar([_manifest(2), ("boot.py", b"x")]))
    assert "manifest says 2" in e.message
    raises(ValidationError, _unpack, _tar([_manifest(0), ("boot.py", b"x")]))
    # garbage after the end
    raises(ValidationError, _unpack, _bundle() + _header("x", 0, "0"))


def test_not_a_tar():
    raises(ValidationError, _unpack, b"PK\x03\x04" + bytes(2000))
    data = bytearray(_bundle())
    data[148] = ord("7")  # checksum field
    assert "checksum" in raises(ValidationError, _unpack, bytes(data)).message
    data = bytearray(_bundle())
    data[1024 + 156] = ord("2")  # the manifest as a symlink
    raises(ValidationError, _unpack, bytes(data))


def test_stage_and_install():
    root = _tmpdir()
    try:
        stage, target = root + "/fw.new", root + "/fs"
        _write(target + "/lib/gateway/app.mpy", b"old")
        _write(target + "/lib/gateway/gone.mpy", b"stale")
        _write(target + "/www/old.css.gz", b"stale")
        _write(target + "/data/cfg/meters.json", b"kept")
        _write(target + "/board.json", b"kept")
        stager = fwbundle.Stager(stage)
        u = fwbundle.Unpacker(stager, "emulator")
        data = _bundle()
        for i in range(0, len(data), 1000):
            u.feed(data[i:i + 1000])
        u.finish()
        assert stager.bytes == sum(len(d) for _, d in FILES)
        # verified but not committed: boot.py would not write it (a power cut here is harmless)
        assert fwbundle.staged_romfs(stage) and not fwbundle.pending_romfs(stage)
        assert fwbundle.finish_romfs(_Rom(), stage, log=lambda s: None) is False
        assert _read(stage + "/romfs.part") == FILES[0][1]
        fwbundle.commit_romfs(stage)
        assert fwbundle.pending_romfs(stage) and not fwbundle.staged_romfs(stage)
        done = list(fwbundle.install_files(stage, target))
        assert "lib/gateway/gone.mpy" in done and "www/old.css.gz" in done
        for name, d in FILES:
            if name != "romfs.img":
                assert _read(target + "/" + name) == d, name
        assert not fwbundle.exists(target + "/lib/gateway/gone.mpy")
        assert not fwbundle.exists(target + "/www/old.css.gz")
        assert _read(target + "/data/cfg/meters.json") == b"kept"
        assert _read(target + "/board.json") == b"kept"
        assert not fwbundle.exists(target + "/romfs.img")
        assert sorted(fwbundle.walk(stage)) == ["romfs.img"]  # for boot.py
        stager.abort()
        assert not fwbundle.exists(stage)
    finally:
        fwbundle.remove_tree(root)


class _Rom:
    """vfs.rom_ioctl over a bytearray partition; records the write order."""

    def __init__(self, size=8192, min_write=4):
        self.part = bytearray(b"\x00" * size)
        self.mw = min_write
        self.writes = []
        self.done = 0

    def __call__(self, op, *args):
        if op == 1:
            return 1
        if op == 2:
            return memoryview(self.part)
        if op == 3:
            n = args[-1]
            for i in range(0, (n + 4095) // 4096 * 4096):
                if i < len(self.part):
                    self.part[i] = 0xFF
            return self.mw
        if op == 4:
            off, buf = args[1], args[2]
            assert len(buf) % self.mw == 0
            for i in range(len(buf)):
                assert self.part[off + i] == 0xFF, "write over unerased flash"
            self.part[off:off + len(buf)] = buf
            self.writes.append(off)
            return 0
        if op == 5:
            self.done += 1
            return 0
        return -22


def test_write_romfs_header_last():
    root = _tmpdir()
    try:
        image = bytes(range(256)) * 9 + b"tail"  # 2308 bytes: not a multiple of the chunk
        _write(root + "/romfs.img", image)
        rom = _Rom()
        list(fwbundle.write_romfs(root + "/romfs.img", rom, chunk=1024))
        assert rom.writes == [1024, 2048, 0]
        assert bytes(rom.part[:len(image)]) == image
        assert rom.part[len(image)] == 0xFF and rom.done == 1
        assert fwbundle.rom_capacity(rom) == 8192
        big = _Rom(size=2048)
        e = raises(ValidationError, lambda: list(fwbundle.write_romfs(root + "/romfs.img", big)))
        assert "larger than the partition" in e.message and not big.writes
    finally:
        fwbundle.remove_tree(root)


def test_finish_romfs_at_boot():
    root = _tmpdir()
    try:
        stage = root + "/fw.new"
        assert fwbundle.finish_romfs(_Rom(), stage, log=lambda s: None) is False  # nothing staged
        _write(stage + "/romfs.img", b"R" * 3000)
        rom = _Rom()
        logs = []
        assert fwbundle.finish_romfs(rom, stage, log=logs.append) is True
        assert bytes(rom.part[:3000]) == b"R" * 3000 and not fwbundle.exists(stage)
        assert "written" in logs[0]
        # no rom_ioctl: the image is dropped (no boot loop), the boot goes on from /lib
        _write(stage + "/romfs.img", b"R" * 3000)
        assert fwbundle.finish_romfs(None, stage, log=logs.append) is False
        assert not fwbundle.exists(stage) and "rom_ioctl" in logs[-1]
    finally:
        fwbundle.remove_tree(root)
