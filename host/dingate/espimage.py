"""ESP32 flash contents: image headers, the ESP-IDF partition table, a board's flash layout.

What `dingate flash` checks before writing, and what the emulated board's ROM checks before
booting (emulator/rom_loader.py), in one place:

- an app or bootloader image starts with the 24-byte ESP image header: magic 0xE9, segment
  count, SPI mode, size/frequency, entry point, then the extended header, whose bytes 12-13 are
  the chip id the image was built for (ESP32 0, ESP32-S3 9), as ESP-IDF's esp_image_header_t;
- the partition table sits at 0x8000: 32-byte entries (magic 0xAA 0x50, type, subtype, offset,
  size, 16-byte label, flags), an optional MD5 entry (0xEB 0xEB ... MD5 of the entries before it),
  0xFF after the last entry;
- MicroPython >= 1.26 creates the ``vfs`` partition at boot when the table has none: from the
  end of the ``factory`` app to the end of flash (micropython PR #17337,
  ports/esp32/partitions-4MiBplus.csv); docs/decisions/0007-board-tiers.md.
"""
import hashlib
import struct

from . import boards

IMAGE_MAGIC = 0xE9
PARTITION_TABLE = 0x8000
PARTITION_TABLE_SIZE = 0xC00
ENTRY_MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb"
TYPE_APP, TYPE_DATA = 0, 1
SUBTYPE_FACTORY, SUBTYPE_PHY, SUBTYPE_NVS, SUBTYPE_FAT, SUBTYPE_ROMFS = 0x00, 0x01, 0x02, 0x81, 0x8F

# chip -> (image header chip id, where the second-stage bootloader is flashed)
CHIPS = {"esp32": (0, 0x1000), "esp32s3": (9, 0x0)}
CHIP_NAMES = {0: "esp32", 2: "esp32s2", 5: "esp32c3", 9: "esp32s3", 12: "esp32c2", 13: "esp32c6",
              16: "esp32h2", 18: "esp32p4"}


class ImageError(Exception):
    pass


def chip_id(board_or_chip):
    chip = board_or_chip if isinstance(board_or_chip, str) else board_or_chip.get("chip")
    if chip not in CHIPS:
        raise ImageError("no ESP image chip id known for chip %r" % chip)
    return CHIPS[chip][0]


def bootloader_offset(chip):
    return CHIPS[chip][1]


def header_chip_id(data):
    """The chip id in an image header (bytes at the start of ``data``), or ImageError."""
    if len(data) < 24 or data[0] != IMAGE_MAGIC:
        raise ImageError("no ESP image header (first byte 0x%02x, not 0xe9)" % (data[0] if data else 0))
    return struct.unpack_from("<H", data, 12)[0]


def check_chip(data, chip, what):
    """Refuse an image built for another chip than ``chip``."""
    want = chip_id(chip)
    got = header_chip_id(data)
    if got != want:
        raise ImageError("%s is an image for %s (chip id %d in its header), not for this board's %s"
                         " (chip id %d)" % (what, CHIP_NAMES.get(got, "an unknown chip"), got,
                                            chip, want))


def image_header(chip, flash_size_code=0x2, segments=0):
    """A well-formed 24-byte image header for ``chip`` (what the tests and the emulator's
    factory image use; MicroPython's own images carry real segments after it)."""
    return struct.pack("<BBBBI", IMAGE_MAGIC, segments, 2, (flash_size_code << 4) | 0xF, 0) + \
        struct.pack("<B3sHBHH4sB", 0xEE, b"\0\0\0", chip_id(chip), 0, 0, 0xFFFF, b"\0" * 4, 0)


# --- the partition table ----------------------------------------------------------------------

def parse_table(raw):
    """[(label, type, subtype, offset, size)] of a partition table (bytes from 0x8000);
    ImageError if its MD5 entry does not match."""
    out = []
    for i in range(0, min(len(raw), PARTITION_TABLE_SIZE), 32):
        entry = raw[i:i + 32]
        if len(entry) < 32:
            break
        if entry[:2] == MD5_MAGIC:
            if hashlib.md5(raw[:i]).digest() != entry[16:32]:
                raise ImageError("partition table MD5 mismatch")
            break
        if entry[:2] != ENTRY_MAGIC:
            break
        ptype, subtype, offset, size = struct.unpack_from("<BBII", entry, 2)
        label = entry[12:28].split(b"\0", 1)[0].decode(errors="replace")
        out.append((label, ptype, subtype, offset, size))
    return out


def build_table(entries):
    """The binary partition table (0xC00 bytes) of [(label, type, subtype, offset, size)]."""
    raw = b"".join(ENTRY_MAGIC + struct.pack("<BBII", t, st, off, size) +
                   label.encode()[:16].ljust(16, b"\0") + b"\0" * 4
                   for label, t, st, off, size in entries)
    raw += MD5_MAGIC + b"\xff" * 14 + hashlib.md5(raw).digest()
    return raw.ljust(PARTITION_TABLE_SIZE, b"\xff")


def board_table(board):
    """The partition table the board's MicroPython image carries: the stock 1.26+ table (nvs,
    phy_init, factory; vfs made at boot) or, on a ROMFS board, factory + romfs + vfs."""
    flash = board["flash"]
    romfs_off, romfs_size = boards.romfs_geometry(board)
    fs_off, fs_size, _b, _c = boards.fs_geometry(board)
    app_off = int(flash.get("app_offset", "0x10000"), 0)
    app_end = romfs_off if romfs_off is not None else fs_off
    app_size = int(flash["app_size"], 0) if "app_size" in flash else app_end - app_off
    table = [("nvs", TYPE_DATA, SUBTYPE_NVS, 0x9000, 0x6000),
             ("phy_init", TYPE_DATA, SUBTYPE_PHY, 0xF000, 0x1000),
             ("factory", TYPE_APP, SUBTYPE_FACTORY, app_off, app_size)]
    if romfs_off is not None:
        table.append(("romfs", TYPE_DATA, SUBTYPE_ROMFS, romfs_off, romfs_size))
    if flash.get("partition_table") != "stock-4MiBplus":
        table.append(("vfs", TYPE_DATA, SUBTYPE_FAT, fs_off, fs_size))
    return table


def layout(table, flash_size):
    """{"app": (off, size), "vfs": (off, size), "romfs": (off, size) or None} from a partition
    table as MicroPython reads it (a missing vfs: end of factory .. end of flash)."""
    app = [(p[3], p[4]) for p in table if p[1] == TYPE_APP and p[0] == "factory"] or \
        [(p[3], p[4]) for p in table if p[1] == TYPE_APP]
    if not app:
        raise ImageError("the partition table has no app partition")
    vfs = [(p[3], p[4]) for p in table if p[1] == TYPE_DATA and p[0] in ("vfs", "ffat")]
    if not vfs:
        start = app[0][0] + app[0][1]
        if start >= flash_size:
            raise ImageError("no room for a vfs partition after the app")
        vfs = [(start, flash_size - start)]
    rom = [(p[3], p[4]) for p in table if p[1] == TYPE_DATA and p[2] == SUBTYPE_ROMFS]
    return {"app": app[0], "vfs": vfs[0], "romfs": rom[0] if rom else None}


def blank_firmware(chip, table, app_size=0x1000):
    """A merged "firmware.bin" as MicroPython's build writes it (bootloader, partition table,
    app; flashed at the chip's bootloader offset) with well-formed headers and no code: what the
    tests and the emulator's factory-fresh board use instead of a real MicroPython."""
    boot = bootloader_offset(chip)
    app_off = [p[3] for p in table if p[1] == TYPE_APP][0]
    data = bytearray(b"\xff" * (app_off - boot + app_size))
    data[0:24] = image_header(chip)
    data[PARTITION_TABLE - boot:PARTITION_TABLE - boot + PARTITION_TABLE_SIZE] = build_table(table)
    data[app_off - boot:app_off - boot + 24] = image_header(chip)
    return bytes(data)


def check_firmware(board, data):
    """Check a merged MicroPython image for ``board``: its header's chip id, its partition table
    and the flash layout the board file expects. Returns the layout (see ``layout``)."""
    chip = board["chip"]
    fw_off = int(board["micropython"]["firmware_offset"], 0)
    check_chip(data, chip, "the firmware")
    start = PARTITION_TABLE - fw_off
    table = parse_table(data[start:start + PARTITION_TABLE_SIZE])
    if not table:
        raise ImageError("no partition table at 0x%x: use the merged image (firmware.bin) "
                         "MicroPython's download page offers" % PARTITION_TABLE)
    app = [p for p in table if p[1] == TYPE_APP]
    if app and app[0][3] - fw_off + 24 <= len(data):
        check_chip(data[app[0][3] - fw_off:], chip, "the firmware's app")
    return table, layout(table, boards.flash_size(board))
