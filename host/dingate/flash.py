"""`dingate flash`: MicroPython, the ROMFS image and the filesystem image onto a board, in one go.

One esptool `write-flash` call: `--erase-all` erases the whole chip first (no stale data, no old
Wi-Fi keys or accounts), then MicroPython at the board's micropython.firmware_offset,
build/<board>/romfs.img at flash.romfs_offset and build/<board>/fs.img at flash.fs_offset are
written, each verified by esptool against its MD5 (esptool 5 always verifies), with esptool's
progress bar. The images come from `dingate build --board NAME`.

No MicroPython is downloaded behind the installer's back: the board needs a particular build
(with ROMFS and our partition table), so --firmware names it, and without it the command says
which build and where to get it. The firmware file's partition table is checked against the
board file before anything is erased.
"""
import os
import struct
import subprocess
import sys

from . import boards
from .paths import BUILD

DEFAULT_BOARD = "esp32-devkitc-max485"
BAUD = 460800
PARTITION_TABLE = 0x8000  # where ESP-IDF's bootloader reads the partition table
ROMFS_SUBTYPE = 0x8F


class FlashError(Exception):
    pass


def _int(v):
    return int(v, 0) if isinstance(v, str) else int(v)


def images(board, stage=None):
    """(romfs.img, fs.img) of the board's last build (build/<board>/, or ``stage``)."""
    stage = stage or os.path.join(BUILD, board["name"])
    return os.path.join(stage, "romfs.img"), os.path.join(stage, "fs.img")


def esptool_args(board, port, firmware, romfs_img, fs_img, baud=BAUD):
    """The esptool command line (after `python -m esptool`) that flashes ``board``."""
    mp = board["micropython"]
    flash = board["flash"]
    return [
        "--chip", board["chip"], "--port", port, "--baud", str(baud),
        "--before", "default-reset", "--after", "hard-reset",
        "write-flash", "--erase-all", "--flash-size", flash["size"],
        "0x%x" % _int(mp["firmware_offset"]), firmware,
        "0x%x" % _int(flash["romfs_offset"]), romfs_img,
        "0x%x" % _int(flash["fs_offset"]), fs_img,
    ]


def firmware_help(board):
    mp = board.get("micropython", {})
    return (
        "dingate flash needs the MicroPython firmware file for board %s: --firmware FILE.bin\n"
        "  build: MicroPython %s >= %s, %s\n"
        "  how:   the MicroPython ESP32 port's build instructions (github.com/micropython/micropython,\n"
        "         ports/esp32/README.md); then `dingate flash --port PORT --firmware "
        "build-%s/firmware.bin`\n"
        "  Stock downloads from micropython.org/download/%s/ do not enable ROMFS yet: the gateway's\n"
        "  code would not fit the heap. Nothing is downloaded for you." % (board["name"], mp.get("board", "?"), mp.get("min_version", "?"),
                        mp.get("romfs", ""), mp.get("board", "?"), mp.get("board", "?")))


def partitions(firmware_bytes, firmware_offset):
    """The ESP-IDF partition table inside a merged firmware image: [(label, type, subtype, offset, size)]."""
    start = PARTITION_TABLE - firmware_offset
    out = []
    for i in range(start, min(len(firmware_bytes), start + 0xC00), 32):
        entry = firmware_bytes[i:i + 32]
        if len(entry) < 32 or entry[:2] != b"\xaa\x50":
            break
        ptype, subtype, offset, size = struct.unpack_from("<BBII", entry, 2)
        label = entry[12:28].split(b"\0", 1)[0].decode(errors="replace")
        out.append((label, ptype, subtype, offset, size))
    return out


def check_firmware(board, firmware):
    """Refuse a firmware file whose partition table does not match the board file's layout."""
    with open(firmware, "rb") as f:
        data = f.read()
    fw_off = _int(board["micropython"]["firmware_offset"])
    flash = board["flash"]
    romfs_off, romfs_size = boards.romfs_geometry(board)
    fs_off, fs_size = _int(flash["fs_offset"]), _int(flash["fs_size"])
    if not data or data[0] != 0xE9:
        raise FlashError("%s is not an ESP32 firmware image (no 0xE9 image header)" % firmware)
    if fw_off + len(data) > romfs_off:
        raise FlashError("%s is %d bytes: it would overwrite the romfs partition at 0x%x" % (
            firmware, len(data), romfs_off))
    table = partitions(data, fw_off)
    if not table:
        raise FlashError("%s has no partition table at 0x%x: flash a merged MicroPython image "
                         "(firmware.bin of the ESP32 port's build)" % (firmware, PARTITION_TABLE))
    rom = [p for p in table if p[1] == 1 and p[2] == ROMFS_SUBTYPE]
    if not rom or rom[0][3] != romfs_off or rom[0][4] != romfs_size:
        raise FlashError(
            "%s has no romfs partition (data, subtype 0x8f) at 0x%x of 0x%x bytes; its table:\n%s\n%s"
            % (firmware, romfs_off, romfs_size, _table_text(table), firmware_help(board)))
    vfs = [p for p in table if p[3] == fs_off]
    if not vfs or vfs[0][4] != fs_size:
        raise FlashError("%s has no filesystem partition at 0x%x of 0x%x bytes; its table:\n%s" % (
            firmware, fs_off, fs_size, _table_text(table)))


def _table_text(table):
    return "\n".join("  %-10s type %d subtype 0x%02x at 0x%06x, 0x%06x bytes" % p for p in table)


def check_images(board, romfs_img, fs_img):
    name = board["name"]
    for path in (romfs_img, fs_img):
        if not os.path.exists(path):
            raise FlashError("%s is missing: run `dingate build --board %s` first" % (path, name))
    _off, romfs_size = boards.romfs_geometry(board)
    if os.path.getsize(romfs_img) > romfs_size:
        raise FlashError("%s does not fit the romfs partition (%d bytes)" % (romfs_img, romfs_size))
    _off, fs_size, _b, _c = boards.fs_geometry(board)
    if os.path.getsize(fs_img) != fs_size:
        raise FlashError("%s is not the size of the filesystem partition (%d bytes): rebuild it"
                         % (fs_img, fs_size))


def flash(port, board_name=DEFAULT_BOARD, firmware=None, baud=BAUD, check=True, run=subprocess.call,
          stage=None):
    """Flash the board; returns esptool's exit code (``run`` runs the command line)."""
    board = boards.load(board_name)
    if board.get("chip") in (None, "emulator") or "firmware_offset" not in board.get("micropython", {}):
        raise FlashError("board %s is not a chip esptool can flash (the emulator's board runs with "
                         "`dingate emulate`)" % board_name)
    if not firmware:
        raise FlashError(firmware_help(board))
    if not os.path.exists(firmware):
        raise FlashError("%s: no such file" % firmware)
    romfs_img, fs_img = images(board, stage)
    check_images(board, romfs_img, fs_img)
    if check:
        check_firmware(board, firmware)
    args = esptool_args(board, port, firmware, romfs_img, fs_img, baud)
    return run([sys.executable, "-m", "esptool"] + args)
