"""`dingate build`: compile the firmware with mpy-cross; write the filesystem and ROMFS images.

The staging tree build/<board>/fs/ mirrors the board's filesystem:
  /boot.py, /main.py      source (MicroPython runs these two as scripts)
  /lib/gateway/...mpy     our firmware, compiled
  /lib/microdot/...mpy    microdot from its PyPI package, compiled
  /lib/profiles/*.json    the device library (firmware/profiles), compacted
  /www/...gz              the page, gzipped, and quantities.json.gz (the quantities'
                          catalogue, gateway/core/quantities.py, for the page's units)
  /board.json             the board file
build/<board>/fs.img is that tree as a littlefs2 image (the board's vfs partition). On a board
whose code runs from ROMFS (board file "code": "romfs"), build/<board>/romfs.img holds /lib again
as a ROMFS image for the romfs partition: MicroPython mounts it at /rom and executes the bytecode
in place from flash, so it costs no heap (docs/decisions/0002-code-in-romfs.md); on a stock-image
board ("code": "filesystem") the .mpy in /lib are the code. build/<board>/firmware.tar is the
update bundle the page's "Firmware update" (POST /api/firmware) takes:
the ROMFS image and the littlefs files the build owns, each with its SHA-256, signed with the
update key (gateway/core/fwbundle.py, dingate/fwkey.py); firmware.tar.sha256 beside it holds the SHA-256 of the whole file, for the
X-Firmware-SHA256 header.
"""
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

from . import boards
from . import manifest as modules_manifest
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
    for name in sorted(modules_manifest.shipped(board)):  # what the firmware imports
        fs_path, src = modules_manifest.source_path(name)
        yield fs_path, src, "mpy"
    lib = os.path.join(FIRMWARE, "profiles")  # the device library (gateway/core/profiles.py)
    for root, dirs, files in os.walk(lib):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".json"):
                rel = os.path.relpath(os.path.join(root, f), FIRMWARE)
                yield "/lib/" + rel.replace(os.sep, "/"), os.path.join(root, f), "json"
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
    yield "/www/quantities.json.gz", None, "quantities"
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


# what the board file holds for people and the host tools (notes, the image to flash, the
# flash layout, the heap budget), not for the firmware: it stays on the host
# (boards/<name>.json); on the device it would be parsed at every boot and kept in RAM for
# good (the WROOM's took 7.5 KB of its 64-bit heap)
BOARD_HOST_ONLY = ("description", "features_left_out_why", "micropython", "flash", "heap")


def device_board(board):
    """The board file as the device gets it: what the firmware reads (its "note" keys gone)."""
    def slim(d):
        return {k: slim(v) if isinstance(v, dict) else v for k, v in d.items()
                if not k.startswith("_") and k not in BOARD_HOST_ONLY and not k.endswith("note")}

    return slim(board)


def _board_file(board):
    return json.dumps(device_board(board), separators=(",", ":")).encode()


def compact_json(data):
    """A JSON file as shipped: no indentation, UTF-8 text kept as is."""
    return json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")).encode()


def www_lean(src):
    """A page file as shipped: JSON compact, JavaScript minified by rjsmin (comments and spaces
    only: names and code unchanged), CSS without comments and indentation, the rest as is."""
    with open(src, "rb") as f:
        data = f.read()
    if src.endswith(".json"):
        return compact_json(data)
    if src.endswith(".js"):
        import rjsmin

        return rjsmin.jsmin(data.decode()).encode()
    if src.endswith(".css"):  # no comment in a CSS string of ours
        text = re.sub(r"/\*.*?\*/", "", data.decode(), flags=re.S)
        return "\n".join(ln for ln in (x.strip() for x in text.split("\n")) if ln).encode()
    return data


def _gzip(data):
    """``data`` gzipped, reproducibly (no time stamp), by zopfli: a gzip stream every browser
    reads, ~4 % smaller than zlib's best for the page (docs/decisions/0011)."""
    import zopfli.gzip

    return zopfli.gzip.compress(data)


def www_gzip(src):
    """The gzipped bytes of a page file on the board."""
    return _gzip(www_lean(src))


def quantities_json():
    """The quantities' catalogue for the page: ``[[name, unit], ...]`` in catalogue order, from
    the firmware's one catalogue (the page's units and the order it lists values in)."""
    from gateway.core import quantities

    return json.dumps([[n, quantities.unit(n)] for n in quantities.names()], ensure_ascii=False,
                      separators=(",", ":")).encode()


def render(board, overrides=None):
    """Return {fs path: bytes} for the board's filesystem (the .mpy, page and board file)."""
    cache = os.path.join(BUILD, "mpy-cache")
    os.makedirs(cache, exist_ok=True)
    out = {}
    for fs_path, src, how in sources(board):
        if how == "mpy":
            out[fs_path] = _compile(src, fs_path, cache)
        elif how == "gzip":
            out[fs_path] = www_gzip(src)
        elif how == "quantities":
            out[fs_path] = _gzip(quantities_json())
        elif how == "json":
            with open(src, "rb") as f:
                out[fs_path] = compact_json(f.read())
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
    """The ROMFS image a firmware bundle carries: the /lib tree; None on a board whose code runs
    from the filesystem. (The emulated chip's own modules are not in it: they sit in the
    emulator's chip ROM, emulator/device_flash.py chip_rom, as machine and network are C modules in
    the board's MicroPython.)"""
    if boards.code_location(board) != "romfs":
        return None  # code on the filesystem: the bundle's /lib files are the code
    return romfs_image(files, boards.romfs_geometry(board)[1])


BUNDLE_SKIP = ("/board.json",)  # the device's own: pins, ports (the emulator rewrites its http)


def firmware_bundle(files, rom, board_name, version, key):
    """The update bundle (bytes): a pax tar of the manifest, ``rom`` (the ROMFS image, or None)
    and ``files`` (fs path -> bytes) but the board file, each member with its SHA-256, the
    manifest signed with ``key`` (the update key, bytes; None: unsigned, for tests)."""
    from gateway.core import fwbundle

    members = []
    if rom is not None:
        members.append((fwbundle.ROMFS, rom))
    for path in sorted(files):
        if path not in BUNDLE_SKIP:
            members.append((fwbundle.check_name(path.lstrip("/")), files[path]))
    digest = fwbundle.members_digest()
    for name, data in members:
        fwbundle.member(digest, name, _digest(data))
    head = json.dumps({"format": fwbundle.FORMAT, "version": version, "board": board_name,
                       "files": len(members), "members": digest.hexdigest()},
                      separators=(",", ":")).encode()
    pax = {"DINGATE.sha256": _digest(head)}
    if key is not None:
        pax["DINGATE.hmac"] = fwbundle.sign(key, head)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [(fwbundle.MANIFEST, head)] + members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.pax_headers = pax if name == fwbundle.MANIFEST else {
                "DINGATE.sha256": _digest(data)}
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def bundle_path(board_name, build_dir=BUILD):
    """Where `dingate build` leaves the board's firmware update bundle (README, "Update a running board")."""
    return os.path.join(build_dir, board_name, "firmware.tar")


def build(board_name="emulator", out=None, build_dir=BUILD, update_key=None):
    """Build the board's images; returns (fs image path, {fs path: bytes}).

    <build_dir>/<board>/: fs/ (the tree), fs.img (its vfs partition), romfs.img (boards whose
    code runs from ROMFS), firmware.tar and firmware.tar.sha256 (the update bundle). The last
    build's fs.img (or ``out``), romfs.img and firmware.tar are also left in <build_dir>/.
    ``update_key``: the key file the bundle is signed with (dingate.fwkey: by default
    $DINGATE_UPDATE_KEY, else the development key build/update.key, made on first use)."""
    from . import fsimage, fwkey

    board = boards.load(board_name)
    name = board["name"]
    files = render(board)
    files["/manifest.json"] = json.dumps(manifest(files), indent=0).encode()
    stage = os.path.join(build_dir, name)
    write_tree(files, os.path.join(stage, "fs"))
    _off, size, block, count = boards.fs_geometry(board)
    image = fsimage.make_image(files, block, count)
    rom = None
    if boards.code_location(board) == "romfs":
        rom = romfs_image(files, boards.romfs_geometry(board)[1])
    from gateway import VERSION

    key, _key_file = fwkey.load(update_key)
    bundle = firmware_bundle(files, bundle_romfs(files, board), name, VERSION, key)
    bundle_sha = (_digest(bundle) + "  firmware.tar\n").encode()
    dest = out or os.path.join(build_dir, "fs.img")
    outputs = [(os.path.join(stage, "fs.img"), image), (bundle_path(name, build_dir), bundle),
               (bundle_path(name, build_dir) + ".sha256", bundle_sha), (dest, image),
               (os.path.join(build_dir, "firmware.tar"), bundle),
               (os.path.join(build_dir, "firmware.tar.sha256"), bundle_sha)]
    if rom is not None:
        outputs += [(os.path.join(stage, "romfs.img"), rom),
                    (os.path.join(build_dir, "romfs.img"), rom)]
    for path, data in outputs:
        tmp = "%s.%d.tmp" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # others read these while a build runs
    return dest, files
