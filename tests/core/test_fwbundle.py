"""Firmware bundles: the streaming tar reader, signatures, the staging tree, the switch-over at
boot with a power cut at every step (gateway.core.fwswitch), the ROMFS writer.

The bundles here are made by a small tar writer below (MicroPython has no tarfile); the host's
`dingate build` bundle (Python's tarfile) is read by tests/integration/test_backup_restore.py.
"""
import binascii
import hashlib
import json

from _assert import raises, tempdir

from gateway.core import fwbundle, fwswitch
from gateway.core.errors import ValidationError

KEY = b"test-update-key-" + bytes(range(16))


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


def _tar(members, sha=True, end=True, key=KEY):
    """members: (name, bytes) in order; each gets a pax header with its SHA-256; the manifest's
    also its signature under ``key`` (None: unsigned)."""
    out = b""
    for name, data in members:
        if sha is True or (sha and name in sha):
            recs = [("DINGATE.sha256", _sha(data) if sha is True or sha[name] is None
                     else sha[name])]
            if name == fwbundle.MANIFEST and key is not None:
                recs.append(("DINGATE.hmac", fwbundle.sign(key, data)))
            rec = _pax(recs)
            out += _header("PaxHeader/" + name[-80:], len(rec), "x") + _pad(rec)
        out += _header(name, len(data), "0") + _pad(data)
    if end:
        out += bytes(1024 * 3)
    return out


def _members(files):
    d = fwbundle.members_digest()
    for name, data in files:
        fwbundle.member(d, name, _sha(data))
    return binascii.hexlify(d.digest()).decode()


def _manifest(n, board="emulator", version="9.9.9", fmt=2, files=None):
    return ("dingate-firmware.json", json.dumps({
        "format": fmt, "version": version, "board": board, "files": n,
        "members": _members(files or [])}).encode())


FILES = [
    ("romfs.img", bytes(range(256)) * 9 + b"tail"),
    ("boot.py", b"import gc\n"),
    ("lib/gateway/app.mpy", b"M\x06" + b"x" * 1500),
    ("lib/gateway/core/new.mpy", b"M\x06new"),
    ("www/app.js.gz", b"\x1f\x8b" + b"j" * 700),
    ("manifest.json", b"{}"),
]


def _bundle(files=FILES, key=KEY, **kw):
    return _tar([_manifest(len(files), files=files, **kw)] + list(files), key=key)


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

    def begin(self, name, size, sha=None):
        self._name = name
        self.files[name] = b""

    def write(self, mv):
        self.files[self._name] += bytes(mv)

    def end(self, name):
        self._name = None


def _unpack(data, chunk=1024, board="emulator", key=KEY, running="0.1.0"):
    sink = _Sink()
    u = fwbundle.Unpacker(sink, board, key, running)
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
    e = raises(ValidationError, _unpack, _bundle(board="esp32-other"))
    assert "board" in e.message
    assert (e.code, e.params) == ("fw_board", {"board": "esp32-other", "want": "emulator"})
    assert "format" in raises(ValidationError, _unpack, _bundle(fmt=1)).message
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
    assert raises(ValidationError, _unpack, b"PK\x03\x04" + bytes(2000)).code == "fw_bundle"
    data = bytearray(_bundle())
    data[148] = ord("7")  # checksum field
    assert "checksum" in raises(ValidationError, _unpack, bytes(data)).message
    data = bytearray(_bundle())
    data[1024 + 156] = ord("2")  # the manifest as a symlink
    raises(ValidationError, _unpack, bytes(data))


def test_signature_version_and_members_are_checked():
    m, files = _unpack(_bundle())
    assert files == dict(FILES)
    e = raises(ValidationError, _unpack, _bundle(key=None))
    assert "not signed" in e.message and e.code == "fw_signature"
    e = raises(ValidationError, _unpack, _bundle(key=b"k" * 32))
    assert "signature" in e.message and e.code == "fw_signature"
    e = raises(ValidationError, _unpack, _bundle(), key=None)
    assert "update key" in e.message and e.code == "fw_key"
    e = raises(ValidationError, _unpack, _bundle(version="0.0.9"))
    assert "older" in e.message
    assert (e.code, e.params) == ("fw_downgrade", {"version": "0.0.9", "running": "0.1.0"})
    _unpack(_bundle(version="0.1.0+rebuilt"))  # the same version again is not a downgrade
    assert fwbundle.version_key("1.10.2+x") > fwbundle.version_key("1.9.30")
    # re-packed: a line added to boot.py, the member's own SHA-256 made right, the signed
    # manifest kept: the members digest no longer matches
    tampered = [(n, d + b"import evil\n" if n == "boot.py" else d) for n, d in FILES]
    data = _tar([_manifest(len(FILES), files=FILES)] + tampered)
    assert "altered" in raises(ValidationError, _unpack, data).message
    # a member dropped and the count forged in a re-signed manifest needs the key: refused
    data = _tar([_manifest(len(FILES), files=FILES)] + tampered, key=b"attacker" * 4)
    assert "signature" in raises(ValidationError, _unpack, data).message


def _stage(root, data=None):
    stager = fwbundle.Stager(root + fwswitch.STAGE, root)
    u = fwbundle.Unpacker(stager, "emulator", KEY, "0.1.0")
    data = data or _bundle()
    for i in range(0, len(data), 1000):
        u.feed(data[i:i + 1000])
    u.finish()
    return stager


OLD = {"boot.py": b"old boot", "lib/gateway/app.mpy": b"old", "lib/gateway/gone.mpy": b"stale",
       "www/old.css.gz": b"stale", "data/cfg/meters.json": b"kept", "board.json": b"kept",
       "manifest.json": b"old"}


def _tree(root):
    out = {}
    for rel in fwswitch._files(root):
        if not rel.startswith("fw."):
            out[rel] = _read(root + "/" + rel)
    return out


def _old_state():
    return dict(OLD)


def _new_state():
    new = {"data/cfg/meters.json": b"kept", "board.json": b"kept"}
    for name, d in FILES:
        if name != "romfs.img":
            new[name] = d
    return new


def _fresh(root):
    fwbundle.remove_tree(root)
    fwbundle.mkdirs(root)
    for rel, d in OLD.items():
        _write(root + "/" + rel, d)


def test_stage_commit_switch():
    with tempdir("dgt_fw_") as root:
        _fresh(root)
        stager = _stage(root)
        assert stager.bytes == sum(len(d) for _, d in FILES)
        # verified, not committed: the next boot drops it and changes nothing
        assert fwswitch.switch(root, log=lambda s: None) is None
        assert not fwswitch.exists(root + fwswitch.STAGE) and _tree(root) == _old_state()
        _stage(root)
        fwswitch.commit(root)
        assert fwswitch.switch(root, log=lambda s: None) == "romfs"
        assert _tree(root) == _new_state()  # every file switched before the ROMFS is written
        rom = _Rom()
        assert fwbundle.finish_romfs(rom, root, log=lambda s: None) is True
        assert bytes(rom.part[:len(FILES[0][1])]) == FILES[0][1]
        assert not fwswitch.exists(root + fwswitch.READY)
        assert not fwswitch.exists(root + fwswitch.OLD)
        assert "ROMFS partition written" in fwswitch.take_result(root)
        assert fwswitch.take_result(root) is None
        # a refused upload's staging is dropped by abort
        stager = fwbundle.Stager(root + fwswitch.STAGE)
        stager.begin("boot.py", 3)
        stager.abort()
        assert not fwswitch.exists(root + fwswitch.STAGE)


class PowerCut(BaseException):
    """Raised at the cut: nothing after it happens (not an Exception: the switch cannot catch it)."""


class _CutOS:
    """``os`` for fwswitch that loses power (or fails, ``fail``) at mutating operation ``cut``."""

    def __init__(self, real, cut, fail=None):
        self.real = real
        self.cut = cut
        self.fail = fail
        self.ops = 0

    def _op(self, may_fail=False):
        self.ops += 1
        if self.fail is not None and self.cut is not None and self.ops >= self.cut and may_fail:
            self.cut = None
            raise self.fail("failed at %d" % self.ops)
        if self.fail is None and self.cut is not None and self.ops >= self.cut:
            raise PowerCut("cut at %d" % self.ops)  # and nothing reaches the flash after it

    def listdir(self, p):
        return self.real.listdir(p)

    def stat(self, p):
        return self.real.stat(p)

    def rename(self, a, b):
        self._op(True)
        self.real.rename(a, b)

    def remove(self, p):
        self._op()
        self.real.remove(p)

    def mkdir(self, p):
        self._op()
        self.real.mkdir(p)

    def rmdir(self, p):
        self._op()
        self.real.rmdir(p)


def _boot(root, cut=None, fail=None, rom=None):
    """One boot: fwswitch.switch (then the ROMFS write) with power lost at operation ``cut``."""
    import os

    fake = _CutOS(os, cut, fail)
    fwswitch.os = fake
    real_open = open

    def cut_open(path, mode="r"):
        if "w" in mode:
            fake._op()
        return real_open(path, mode)

    fwswitch.open = cut_open
    try:
        state = fwswitch.switch(root, log=lambda s: None)
        if state == "romfs":
            assert _tree(root) == _new_state(), "ROMFS written before every file was switched"
            fwbundle.finish_romfs(rom or _Rom(), root, log=lambda s: None)
        return state, fake.ops
    finally:
        fwswitch.os = os
        del fwswitch.open


def test_power_cut_at_every_step_boots_old_or_new_whole():
    with tempdir("dgt_fw_") as root:
        _fresh(root)
        _stage(root)
        fwswitch.commit(root)
        _state, total = _boot(root)  # an uncut switch: how many flash operations it makes
        assert total > 10 and _tree(root) == _new_state()
        for cut in range(1, total + 1):
            _fresh(root)
            _stage(root)
            fwswitch.commit(root)
            try:
                _boot(root, cut)
                raise AssertionError("no cut at %d" % cut)
            except PowerCut:
                pass
            for _ in range(3):  # the next boots finish it
                if _boot(root)[0] is None:
                    break
            assert _tree(root) == _new_state(), cut
            for name in ("STAGE", "READY", "OLD", "UNDO", "DONE"):
                assert not fwswitch.exists(root + getattr(fwswitch, name)), (cut, name)


def test_unchanged_files_are_not_staged_and_stay():
    with tempdir("dgt_fw_") as root:
        _fresh(root)
        same = dict(FILES)["lib/gateway/core/new.mpy"]
        _write(root + "/lib/gateway/core/new.mpy", same)  # installed already, identical
        stager = _stage(root)
        assert stager.kept == 1
        assert not fwswitch.exists(root + fwswitch.STAGE + "/lib/gateway/core/new.mpy")
        assert stager.bytes == sum(len(d) for n, d in FILES) - len(same)
        fwswitch.commit(root)
        assert fwswitch.switch(root, log=lambda s: None) == "romfs"
        assert _tree(root) == _new_state()  # the kept file was neither moved away nor lost
        fwbundle.finish_romfs(_Rom(), root, log=lambda s: None)
        assert _tree(root) == _new_state()


def test_staging_keeps_the_spare_flash():
    with tempdir("dgt_fw_") as root:
        _fresh(root)
        free = [36000]
        stager = fwbundle.Stager(root + fwswitch.STAGE, root, spare=32768, free=lambda: free[0])
        u = fwbundle.Unpacker(stager, "emulator", KEY, "0.1.0")
        e = raises(fwbundle.NoRoom, u.feed, _bundle())  # romfs.img: a 4096-byte block > 36000 - 32768
        assert "not enough flash" in str(e)
        stager.abort()
        assert not fwswitch.exists(root + fwswitch.STAGE) and _tree(root) == _old_state()


def test_failed_switch_rolls_back_to_the_old_firmware():
    with tempdir("dgt_fw_") as root:
        for cut in (1, 3, 6, 9, 14):
            _fresh(root)
            _stage(root)
            fwswitch.commit(root)
            state, _ops = _boot(root, cut, fail=OSError)
            assert state == "rolled back", (cut, state)
            assert _tree(root) == _old_state(), cut
            assert "previous firmware was kept" in fwswitch.take_result(root)
            assert _boot(root)[0] is None and _tree(root) == _old_state()


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
    with tempdir("dgt_fw_") as root:
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


def test_finish_romfs_at_boot():
    with tempdir("dgt_fw_") as root:
        ready = root + fwswitch.READY
        assert fwbundle.finish_romfs(_Rom(), root, log=lambda s: None) is False  # nothing staged
        _write(ready + "/romfs.img", b"R" * 3000)
        _write(ready + "/lib/x.mpy", b"x")
        _write(ready + fwswitch.MARK, b"")
        # files still waiting: the image is not written
        assert fwbundle.finish_romfs(_Rom(), root, log=lambda s: None) is False
        fwbundle.remove_tree(ready + "/lib")
        rom = _Rom()
        logs = []
        assert fwbundle.finish_romfs(rom, root, log=logs.append) is True
        assert bytes(rom.part[:3000]) == b"R" * 3000 and not fwswitch.exists(ready)
        assert "written" in logs[0]
        # no rom_ioctl: the image is dropped (no boot loop), the boot goes on from /lib
        _write(ready + "/romfs.img", b"R" * 3000)
        _write(ready + fwswitch.MARK, b"")
        assert fwbundle.finish_romfs(None, root, log=logs.append) is False
        assert not fwswitch.exists(ready) and "rom_ioctl" in logs[-1]
