"""`dingate deploy`: copy what changed to a running board over its REPL, then reset it.

The build is compared file by file with the board, by SHA-256 computed on the board (streamed,
1 KB at a time); only what differs travels.

1. The littlefs filesystem (/): every file of the build tree (build/<board>/fs, or --build-dir)
   whose hash differs is written; files under /lib and /www that the build no longer has are
   removed; /manifest.json goes last, and only if its content changed.
2. The ROMFS partition (/rom): on a ROMFS board the code runs from /rom/lib, which comes before
   /lib on sys.path, so a changed module written only to /lib would never load. The board's
   /rom/lib is hashed like the rest; if it differs from the build's /lib, a new ROMFS image is
   made (mpremote's ROMFS writer, as `dingate build` makes build/romfs.img) and written through
   vfs.rom_ioctl, the interface `mpremote romfs deploy` uses: erase, write in chunks, complete.
   /rom/lib is the build's; anything else in the partition is kept (read back and put in the new
   image), e.g. the emulator's /rom/emu hardware modules. The littlefs copy of /lib is written
   first: if the ROMFS write is cut, the board boots from /lib until the next deploy.
3. machine.reset(): the board boots the new code.

/board.json is the build's board file, except its "http" section (the web server's address and
port), which stays the board's: it is per installation (and per instance in the emulator).

The board's name comes from its /board.json; without --build-dir the firmware is first built
for that board (`dingate build --board NAME`, cached), so what goes over is what the tree holds.
"""
import hashlib
import json
import os
import zlib

from . import boards, build
from .paths import BUILD
from .remote import Board, RemoteError, b64

OWNED_DIRS = ("/lib", "/www")  # stale files in these are removed
MANIFEST = "/manifest.json"
BOARD_FILE = "/board.json"


class DeployError(Exception):
    pass


class Report:
    def __init__(self, board):
        self.board = board
        self.written = []  # littlefs paths written, in order
        self.removed = []
        self.romfs = None  # bytes of the ROMFS image written, or None when it was up to date
        self.romfs_kept = []  # ROMFS entries kept from the board

    def summary(self):
        return "%d file(s) written, %d removed, ROMFS %s" % (
            len(self.written), len(self.removed),
            "rewritten (%d bytes)" % self.romfs if self.romfs else "unchanged")


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def read_tree(root):
    """{fs path: bytes} of a build tree (build/<board>/fs)."""
    files = {}
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names):
            path = os.path.join(d, n)
            with open(path, "rb") as f:
                files["/" + os.path.relpath(path, root).replace(os.sep, "/")] = f.read()
    return files


def board_file_for(build_bytes, device_text):
    """The build's board file with the board's own "http" section, serialised as the build does."""
    if not device_text:
        return build_bytes
    try:
        dev = json.loads(device_text)
        new = json.loads(build_bytes)
    except ValueError:
        return build_bytes
    if "http" not in dev or dev.get("name") != new.get("name"):
        return build_bytes
    new["http"] = dev["http"]
    return json.dumps(new, separators=(",", ":")).encode()


def plan(files, device_hashes, owned=OWNED_DIRS):
    """(paths to write, paths to remove) on the littlefs; the manifest is left to the caller."""
    write = [p for p in sorted(files) if p != MANIFEST and device_hashes.get(p) != _sha(files[p])]
    remove = sorted(p for p in device_hashes
                    if p not in files and any(p.startswith(d + "/") for d in owned))
    return write, remove


def romfs_plan(files, rom_hashes):
    """(needs rewriting, kept entries): compares the board's /rom with the build's /lib."""
    want = {"/rom" + p: _sha(d) for p, d in files.items() if p.startswith("/lib/")}
    have = {p: h for p, h in rom_hashes.items() if p.startswith("/rom/lib/")}
    kept = sorted(p for p in rom_hashes if not p.startswith("/rom/lib/"))
    return want != have, kept


def _load_build(board_name, build_dir, log):
    if build_dir is None:
        try:
            boards.load(board_name)
            path, _files = build.build(board_name)
        except (boards.BoardError, build.BuildError) as e:
            raise DeployError(str(e))
        log("built %s for board %s" % (path, board_name))
        build_dir = os.path.join(BUILD, board_name, "fs")
    if not os.path.isdir(build_dir):
        raise DeployError("no build tree at %s: run `dingate build --board %s`" % (build_dir, board_name))
    return read_tree(build_dir)


def deploy(port, board=None, build_dir=None, reset=True, log=print):
    """Bring the board on ``port`` to the build; returns a Report."""
    try:
        with Board(port) as dev:
            return _deploy(dev, board, build_dir, reset, log)
    except RemoteError as e:
        raise DeployError(str(e))


def _deploy(dev, board, build_dir, reset, log):
    device_board = dev.read_text(BOARD_FILE)
    name = board
    if name is None:
        try:
            name = json.loads(device_board or "{}").get("name")
        except ValueError:
            name = None
        if not name:
            raise DeployError("the board has no readable /board.json: say which with --board")
    files = dict(_load_build(name, build_dir, log))
    if BOARD_FILE in files:
        files[BOARD_FILE] = board_file_for(files[BOARD_FILE], device_board)
    files.pop(MANIFEST, None)
    manifest = build.manifest(files)
    try:
        board_conf = json.loads(files.get(BOARD_FILE) or b"{}")
    except ValueError:
        board_conf = {}
    dev.watchdog(board_conf.get("watchdog_ms"))
    report = Report(name)

    # 1. littlefs
    top = [p for p in files if not p.startswith(tuple(d + "/" for d in OWNED_DIRS))]
    have = dev.hashes(dirs=OWNED_DIRS, files=top)
    write, remove = plan(files, have)
    for path in write:
        dev.write_file(path, files[path])
        report.written.append(path)
        log("  + %s (%d bytes)" % (path, len(files[path])))
    dev.remove(remove)
    for path in remove:
        report.removed.append(path)
        log("  - %s" % path)
    try:
        old_manifest = json.loads(dev.read_text(MANIFEST) or "null")
    except ValueError:
        old_manifest = None
    if old_manifest != manifest or write or remove:
        data = json.dumps(manifest, indent=0).encode()
        dev.write_file(MANIFEST, data)
        report.written.append(MANIFEST)
        log("  + %s (%d bytes)" % (MANIFEST, len(data)))

    # 2. ROMFS
    rom = dev.eval("(lambda v: v.rom_ioctl(1) if hasattr(v, 'rom_ioctl') else 0)(__import__('vfs'))")
    if rom > 0:
        _deploy_romfs(dev, files, name, report, log)
    else:
        log("  (no ROMFS on this board: the code runs from /lib)")

    # 3. reset
    if reset:
        dev.reset()
        log("reset: the board boots the new firmware")
    return report


def _deploy_romfs(dev, files, board_name, report, log):
    rom_hashes = dev.hashes(dirs=("/rom",))
    stale, kept = romfs_plan(files, rom_hashes)
    if not stale:
        return
    kept_files = {p[len("/rom"):]: dev.read_file(p) for p in kept}
    size = dev.eval("(lambda d: len(d) if not hasattr(d, 'ioctl') else d.ioctl(4, 0) * d.ioctl(5, 0))"
                    "(__import__('vfs').rom_ioctl(2, 0))")
    try:
        _off, board_size = boards.romfs_geometry(boards.load(board_name))
        size = min(size, board_size)
    except (boards.BoardError, KeyError):
        pass
    rom_files = dict(kept_files)
    rom_files.update({p: d for p, d in files.items() if p.startswith("/lib/")})
    try:
        image = build.romfs_image(rom_files, size, dirs=("/lib/",) + tuple(kept_files))
    except build.BuildError as e:
        raise DeployError(str(e))
    changed = sum(1 for p, d in files.items() if p.startswith("/lib/")
                  and rom_hashes.get("/rom" + p) != _sha(d))
    log("  ROMFS: %d module(s) changed; writing a %d-byte image%s" % (
        changed, len(image), " (kept from the board: %s)" % ", ".join(kept) if kept else ""))
    write_romfs(dev, image)
    report.romfs = len(image)
    report.romfs_kept = kept


def write_romfs(dev, image, chunk=4096):
    """Erase and write the board's ROMFS partition 0 through vfs.rom_ioctl, then complete.

    Chunks travel deflate-compressed when the board has the deflate module (about half the bytes
    of .mpy code over a 115200-baud line), as plain base64 otherwise."""
    dev.exec("import vfs\ntry:\n vfs.umount('/rom')\nexcept OSError:\n pass")
    try:
        dev.exec("from io import BytesIO\nfrom deflate import DeflateIO, RAW")
        deflate = True
    except RemoteError:
        deflate = False
    min_write = dev.eval("vfs.rom_ioctl(3, 0, %d)" % len(image))
    if min_write < 0:
        raise DeployError("the board refused to erase its ROMFS partition (error %d)" % min_write)
    step = max(1, min_write)
    for off in range(0, len(image), chunk):
        part = image[off:off + chunk]
        if len(part) % step:
            part += bytes(step - len(part) % step)
        if deflate:
            z = zlib.compressobj(9, zlib.DEFLATED, -9)
            data = "DeflateIO(BytesIO(_dg_a2b(%r)), RAW, 9).read()" % b64(z.compress(part) + z.flush())
        else:
            data = "_dg_a2b(%r)" % b64(part)
        res = dev.eval("(_dg_feed(), vfs.rom_ioctl(4, 0, %d, %s))[1]" % (off, data))
        if res is not None and res < 0:
            raise DeployError("ROMFS write at %d failed (error %d)" % (off, res))
    res = dev.eval("vfs.rom_ioctl(5, 0)")
    if res is not None and res < 0:
        raise DeployError("ROMFS write did not complete (error %d)" % res)
