"""`dingate build`: compile the firmware with mpy-cross; write the filesystem and ROMFS images.

The staging tree build/<board>/fs/ mirrors the board's filesystem:
  /boot.py, /main.py      source (MicroPython runs these two as scripts)
  /lib/gateway/...mpy     our firmware, compiled
  /lib/microdot/...mpy    microdot from its PyPI package, compiled
  /www/...gz              the page, gzipped
  /board.json             the board file
build/fs.img is that tree as a littlefs2 image (the board's vfs partition). build/romfs.img holds
/lib again as a ROMFS image for the romfs partition: MicroPython mounts it at /rom and executes
the bytecode in place from flash, so it costs no heap (docs/decisions/0002-code-in-romfs.md).
build/firmware.tar is the update bundle the page's "Firmware update" (POST /api/firmware) takes:
the ROMFS image and the littlefs files the build owns, each with its SHA-256
(gateway/core/fwbundle.py); build/firmware.tar.sha256 holds the SHA-256 of the whole file, for the
X-Firmware-SHA256 header.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

from . import boards
from .paths import BUILD, FIRMWARE

MICRODOT_MODULES = ("__init__.py", "microdot.py", "helpers.py", "multipart.py")
SOURCE_FILES = ("boot.py", "main.py")


class BuildError(Exception):
    pass


def mpy_cross_path():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(exe):
        return exe
    found = shutil.which("mpy-cross")
    if not found:
        raise BuildError("mpy-cross not found: run `make setup`")
    return found


def _microdot_dir():
    import microdot

    return os.path.dirname(microdot.__file__)


def sources(board):
    """Yield (fs path, source path, how) for every file that goes on the board."""
    for name in SOURCE_FILES:
        yield "/" + name, os.path.join(FIRMWARE, name), "copy"
    pkg = os.path.join(FIRMWARE, "gateway")
    for root, dirs, files in os.walk(pkg):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(root, f), FIRMWARE)
                yield "/lib/" + rel[:-3] + ".mpy", os.path.join(root, f), "mpy"
    md = _microdot_dir()
    for f in MICRODOT_MODULES:
        yield "/lib/microdot/" + f[:-3] + ".mpy", os.path.join(md, f), "mpy"
    www = os.path.join(FIRMWARE, "www")
    if os.path.isdir(www):
        for root, dirs, files in os.walk(www):
            dirs.sort()
            for f in sorted(files):
                rel = os.path.relpath(os.path.join(root, f), www)
                yield "/www/" + rel + ".gz", os.path.join(root, f), "gzip"
    yield "/board.json", board["_path"], "board"


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def compile_module(src, fs_path):
    """mpy-cross ``src`` for the board path ``fs_path`` (cached in build/mpy-cache)."""
    cache = os.path.join(BUILD, "mpy-cache")
    os.makedirs(cache, exist_ok=True)
    return _compile(src, fs_path, cache)


def _compile(src, fs_path, cache_dir):
    """mpy-cross one module; cached by the source's hash."""
    with open(src, "rb") as f:
        data = f.read()
    key = os.path.join(cache_dir, _digest(data + fs_path.encode()) + ".mpy")
    if not os.path.exists(key):
        # -s: the name in tracebacks is the module's path on the board
        res = subprocess.run([mpy_cross_path(), "-s", fs_path[:-4] + ".py", "-o", key, src],
                             capture_output=True, text=True)
        if res.returncode:
            raise BuildError("mpy-cross %s:\n%s" % (src, res.stderr.strip()))
    with open(key, "rb") as f:
        return f.read()


def _board_file(board):
    clean = {k: v for k, v in board.items() if not k.startswith("_")}
    return json.dumps(clean, separators=(",", ":")).encode()


def render(board, overrides=None):
    """Return {fs path: bytes} for the board's filesystem (the .mpy, page and board file)."""
    cache = os.path.join(BUILD, "mpy-cache")
    os.makedirs(cache, exist_ok=True)
    out = {}
    for fs_path, src, how in sources(board):
        if how == "mpy":
            out[fs_path] = _compile(src, fs_path, cache)
        elif how == "gzip":
            buf = io.BytesIO()
            with open(src, "rb") as f, gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
                gz.write(f.read())
            out[fs_path] = buf.getvalue()
        elif how == "board":
            b = dict(board)
            if overrides:
                b.update(overrides)
            out[fs_path] = _board_file(b)
        else:
            with open(src, "rb") as f:
                out[fs_path] = f.read()
    return out


def write_tree(files, dest):
    shutil.rmtree(dest, ignore_errors=True)
    for fs_path, data in files.items():
        path = os.path.join(dest, fs_path.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def manifest(files):
    """{fs path: sha256} — what `deploy` compares against the board."""
    return {p: _digest(d) for p, d in sorted(files.items())}


def romfs_image(files, size, dirs=("/lib/",)):
    """A ROMFS image of the ``dirs`` of ``files`` (mpremote's writer, the format the board mounts)."""
    from mpremote.romfs import VfsRomWriter

    tree = {}
    for path, data in files.items():
        if path.startswith(dirs):
            node = tree
            parts = path.strip("/").split("/")
            for d in parts[:-1]:
                node = node.setdefault(d, {})
            node[parts[-1]] = data
    rom = VfsRomWriter()

    def add(node):
        for name in sorted(node):
            if isinstance(node[name], dict):
                rom.opendir(name)
                add(node[name])
                rom.closedir()
            else:
                rom.mkfile(name, node[name])

    add(tree)
    image = rom.finalise()
    if len(image) > size:
        raise BuildError("ROMFS image is %d bytes: over the %d-byte romfs partition" % (len(image), size))
    return image


def bundle_romfs(files, board):
    """The ROMFS image a firmware bundle carries: the /lib tree. The emulator board's ROM also
    holds the emulated chip's built-in modules (machine, network, ...: emulator/runner.py), so
    that a device updated from its page boots the same ROM as a freshly started one."""
    size = boards.romfs_geometry(board)[1]
    if board.get("chip") != "emulator":
        return romfs_image(files, size)
    from .emulator.runner import FAKES
    from .paths import EMULATOR_MPY

    rom = dict(files)
    for name in FAKES:
        path = "/emu/" + name[:-3] + ".mpy"
        rom[path] = compile_module(os.path.join(EMULATOR_MPY, name), path)
    return romfs_image(rom, size, dirs=("/lib/", "/emu/"))


BUNDLE_SKIP = ("/board.json",)  # the device's own: pins, ports (the emulator rewrites its http)


def firmware_bundle(files, rom, board_name, version):
    """The update bundle (bytes): a pax tar of the manifest, ``rom`` (the ROMFS image, or None)
    and ``files`` (fs path -> bytes) but the board file, each member with its SHA-256."""
    from gateway.core import fwbundle

    members = []
    if rom is not None:
        members.append((fwbundle.ROMFS, rom))
    for path in sorted(files):
        if path not in BUNDLE_SKIP:
            members.append((fwbundle.check_name(path.lstrip("/")), files[path]))
    head = json.dumps({"format": fwbundle.FORMAT, "version": version, "board": board_name,
                       "files": len(members)}, separators=(",", ":")).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [(fwbundle.MANIFEST, head)] + members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.pax_headers = {"DINGATE.sha256": _digest(data)}
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(board_name="emulator", out=None):
    """Build the board's images; returns (fs image path, {fs path: bytes})."""
    from . import fsimage

    board = boards.load(board_name)
    files = render(board)
    files["/manifest.json"] = json.dumps(manifest(files), indent=0).encode()
    stage = os.path.join(BUILD, board["name"])
    write_tree(files, os.path.join(stage, "fs"))
    _off, size, block, count = boards.fs_geometry(board)
    image = fsimage.make_image(files, block, count)
    rom = romfs_image(files, boards.romfs_geometry(board)[1])
    os.makedirs(BUILD, exist_ok=True)
    dest = out or os.path.join(BUILD, "fs.img")
    from gateway import VERSION

    bundle = firmware_bundle(files, bundle_romfs(files, board), board["name"], VERSION)
    bundle_sha = (_digest(bundle) + "  firmware.tar\n").encode()
    outputs = ((dest, image), (os.path.join(stage, "fs.img"), image),
               (os.path.join(BUILD, "romfs.img"), rom), (os.path.join(stage, "romfs.img"), rom),
               (os.path.join(BUILD, "firmware.tar"), bundle),
               (os.path.join(BUILD, "firmware.tar.sha256"), bundle_sha),
               (os.path.join(stage, "firmware.tar"), bundle))
    for path, data in outputs:
        with open(path, "wb") as f:
            f.write(data)
    return dest, files
