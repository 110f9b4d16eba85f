"""`dingate flash`: MicroPython and the gateway's filesystem (and ROMFS) onto a board, in one go.

One esptool `write-flash` run, with esptool's progress bar and its MD5 verification of every
region: the MicroPython firmware (a stock image from micropython.org for tier 1 boards, the lean
dingate image for tier 2) at the board's micropython.firmware_offset, build/<board>/romfs.img at
flash.romfs_offset on a ROMFS board, and build/<board>/fs.img at the vfs partition's offset
(flash.fs_offset: where the stock 1.26+ image creates its vfs, docs/decisions/0007).

Before anything is written the firmware file is checked: its image header must name the board's
chip (always, also with --skip-partition-check), and its partition table must give the board
file's layout (skipped with --skip-partition-check). Without --firmware the board file's pinned
official image is downloaded (micropython.url, checked against micropython.sha256; the server
can be replaced with DINGATE_FIRMWARE_BASE_URL) and kept in build/firmware-cache/.

A `socket://HOST:PORT` port is a serial line over TCP with no reset lines and, in the emulator,
the chip's ROM bootloader without a flasher stub (`dingate emulate --download-mode`): esptool
then runs with --before/--after no-reset and --no-stub, and without --erase-all (a stub command
the ROM loader does not have). An `rfc2217://HOST:PORT` port has the reset lines (`dingate
emulate --rfc2217-port`): esptool's own reset, --no-stub, no --erase-all. The filesystem image is written up to its last used block
(build/<board>/fs-used.img): `dingate build` puts the files first, and littlefs never reads a
block it did not write, so whatever the rest of the partition holds is free space to it.
"""
import hashlib
import os
import subprocess
import sys
import urllib.parse
import urllib.request

from . import boards, espimage
from .paths import BUILD

DEFAULT_BOARD = "esp32s3-devkitc-n16r8-max485"  # tier 1, the stock image
BAUD = 460800
BASE_URL_ENV = "DINGATE_FIRMWARE_BASE_URL"


class FlashError(Exception):
    pass


def _int(v):
    return int(v, 0) if isinstance(v, str) else int(v)


def images(board, stage=None):
    """(romfs.img or None, fs.img) of the board's last build (build/<board>/, or ``stage``)."""
    stage = stage or os.path.join(BUILD, board["name"])
    rom = os.path.join(stage, "romfs.img") if boards.code_location(board) == "romfs" else None
    return rom, os.path.join(stage, "fs.img")


def is_socket(port):
    return port.startswith("socket://")


def esptool_args(board, port, firmware, romfs_img, fs_img, baud=BAUD):
    """The esptool command line (after `python -m esptool`) that flashes ``board``."""
    flash = board["flash"]
    plain = is_socket(port)  # no reset lines
    network = plain or port.startswith("rfc2217://")  # the emulator's ROM loader: no stub
    args = ["--chip", board["chip"], "--port", port, "--baud", str(baud),
            "--before", "no-reset" if plain else "default-reset",
            "--after", "no-reset" if plain else "hard-reset"]
    if network:
        args.append("--no-stub")
    args += ["write-flash"] + ([] if network else ["--erase-all"]) + ["--flash-size", flash["size"],
                                                                     "0x%x" % _int(board["micropython"]["firmware_offset"]), firmware]
    if romfs_img:
        args += ["0x%x" % _int(flash["romfs_offset"]), romfs_img]
    args += ["0x%x" % _int(flash["fs_offset"]), fs_img]
    return args


def firmware_help(board):
    mp = board.get("micropython", {})
    if boards.code_location(board) == "filesystem":
        return (
            "dingate flash needs MicroPython for board %s: --firmware FILE.bin\n"
            "  the stock image %s%s, MicroPython >= %s, from %s\n"
            "  (the board file pins no download: micropython.url/sha256 are unset)" % (
                board["name"], mp.get("image"), " variant " + mp["variant"] if mp.get("variant") else "",
                mp.get("min_version", "?"), mp.get("download_page", "micropython.org/download")))
    return (
        "dingate flash needs the MicroPython firmware file for board %s: --firmware FILE.bin\n"
        "  build: %s, MicroPython >= %s, %s\n"
        "  how:   %s\n"
        "  Stock downloads from micropython.org do not enable ROMFS: the gateway's code would not\n"
        "  fit this board's heap. Nothing is downloaded for you." % (
            board["name"], mp.get("image", "?"), mp.get("min_version", "?"), mp.get("romfs", ""),
            mp.get("build", "the ESP32 port's build instructions (ports/esp32/README.md)")))


def _download_url(url):
    base = os.environ.get(BASE_URL_ENV)
    if not base:
        return url
    return base.rstrip("/") + "/" + os.path.basename(urllib.parse.urlparse(url).path)


def fetch_firmware(board, cache_dir=None, log=print):
    """The board's pinned official image: downloaded once, checked against its SHA-256."""
    mp = board.get("micropython", {})
    url, want = mp.get("url"), (mp.get("sha256") or "").lower()
    if not url or not want:
        raise FlashError(firmware_help(board))
    cache_dir = cache_dir or os.path.join(BUILD, "firmware-cache")
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, os.path.basename(urllib.parse.urlparse(url).path))
    if os.path.exists(path) and _sha256_file(path) == want:
        return path
    src = _download_url(url)
    log("downloading %s" % src)
    try:
        with urllib.request.urlopen(src, timeout=60) as resp:
            data = resp.read()
    except OSError as e:
        raise FlashError("cannot download %s: %s (no internet? pass --firmware FILE.bin)" % (src, e))
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise FlashError("%s: SHA-256 %s, but the board file pins %s: refused (not the official "
                         "image)" % (src, got, want))
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def _sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_firmware(board, data, name, check_layout=True):
    """Refuse a firmware for another chip (always) and, with ``check_layout``, one whose
    partition table does not give the board file's layout."""
    try:
        espimage.check_chip(data, board["chip"], name)
        if not check_layout:
            return
        table, lay = espimage.check_firmware(board, data)
    except espimage.ImageError as e:
        raise FlashError("%s: %s" % (name, e))
    fw_off = _int(board["micropython"]["firmware_offset"])
    romfs_off, romfs_size = boards.romfs_geometry(board)
    fs_off, fs_size, _b, _c = boards.fs_geometry(board)
    first_data = romfs_off if romfs_off is not None else fs_off
    if fw_off + len(data) > first_data:
        raise FlashError("%s is %d bytes: it would overwrite the partition at 0x%x" % (
            name, len(data), first_data))
    if romfs_off is not None and lay["romfs"] != (romfs_off, romfs_size):
        raise FlashError(
            "%s has no romfs partition (data, subtype 0x8f) at 0x%x of 0x%x bytes; its table:\n%s\n%s"
            % (name, romfs_off, romfs_size, _table_text(table), firmware_help(board)))
    if lay["vfs"] != (fs_off, fs_size):
        raise FlashError("%s gives a vfs partition at 0x%x of 0x%x bytes on %s of flash, the board "
                         "file expects 0x%x of 0x%x; its table:\n%s" % (
                             name, lay["vfs"][0], lay["vfs"][1], board["flash"]["size"], fs_off,
                             fs_size, _table_text(table)))


def _table_text(table):
    return "\n".join("  %-10s type %d subtype 0x%02x at 0x%06x, 0x%06x bytes" % p for p in table)


def check_images(board, romfs_img, fs_img):
    name = board["name"]
    for path in (romfs_img, fs_img):
        if path and not os.path.exists(path):
            raise FlashError("%s is missing: run `dingate build --board %s` first" % (path, name))
    if romfs_img and os.path.getsize(romfs_img) > boards.romfs_geometry(board)[1]:
        raise FlashError("%s does not fit the romfs partition" % romfs_img)
    _off, fs_size, _b, _c = boards.fs_geometry(board)
    if os.path.getsize(fs_img) != fs_size:
        raise FlashError("%s is not the size of the filesystem partition (%d bytes): rebuild it"
                         % (fs_img, fs_size))


def trimmed(fs_img, block):
    """The filesystem image without its trailing erased blocks (a file beside it)."""
    with open(fs_img, "rb") as f:
        data = f.read()
    end = len(data)
    erased = b"\xff" * block
    while end > block and data[end - block:end] == erased:
        end -= block
    out = fs_img[:-4] + "-used.img"
    with open(out, "wb") as f:
        f.write(data[:end])
    return out


def flash(port, board_name=DEFAULT_BOARD, firmware=None, baud=BAUD, check=True, run=subprocess.call,
          stage=None, log=print):
    """Flash the board; returns esptool's exit code (``run`` runs the command line)."""
    board = boards.load(board_name)
    if not boards.is_chip(board) or "firmware_offset" not in board.get("micropython", {}):
        raise FlashError("board %s is not a chip esptool can flash (the emulator's board runs with "
                         "`dingate emulate`)" % board_name)
    if not firmware:
        firmware = fetch_firmware(board, log=log)
    if not os.path.exists(firmware):
        raise FlashError("%s: no such file" % firmware)
    romfs_img, fs_img = images(board, stage)
    check_images(board, romfs_img, fs_img)
    with open(firmware, "rb") as f:
        check_firmware(board, f.read(), firmware, check_layout=check)
    fs_img = trimmed(fs_img, boards.fs_geometry(board)[2])  # the rest is erased (or free to littlefs)
    args = esptool_args(board, port, firmware, romfs_img, fs_img, baud)
    return run([sys.executable, "-m", "esptool"] + args)
