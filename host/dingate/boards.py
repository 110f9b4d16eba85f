"""Board files (boards/<name>.json): chip, stock image, flash layout, heap budget, pins.

docs/decisions/0007-board-tiers.md says where the numbers come from.
"""
import json
import os

from .paths import BOARDS

# 64-bit emulator bytes per ESP32 byte for the same objects (docs/decisions/0003): code executed
# in place from ROMFS leaves mostly pointers in the heap (1.77); code loaded from the filesystem
# brings its bytecode and strings, which keep their size (1.40).
HEAP_RATIO_64BIT = {"romfs": 1.77, "filesystem": 1.40}


class BoardError(Exception):
    pass


def names():
    return sorted(f[:-5] for f in os.listdir(BOARDS) if f.endswith(".json"))


def load(name):
    """A board by name (boards/<name>.json), or a board file's path (a board of one's own)."""
    path = name if name.endswith(".json") else os.path.join(BOARDS, name + ".json")
    if not os.path.exists(path):
        raise BoardError("unknown board %r (known: %s)" % (name, ", ".join(names())))
    with open(path) as f:
        board = json.load(f)
    board["_path"] = path
    return board


def is_chip(board):
    """A real chip (esptool can flash it), not the emulator's own board."""
    return board.get("chip") not in (None, "emulator")


def code_location(board):
    """Where the firmware's code lives on this board: "romfs" or "filesystem"."""
    return board.get("code", "romfs")


def flash_size(board):
    """Flash size in bytes ("16MB" -> 16777216)."""
    text = str(board["flash"]["size"]).upper()
    return int(text[:-2]) * 1024 * 1024 if text.endswith("MB") else int(text, 0)


def fs_geometry(board):
    """(offset, size, block_size, block_count) of the board's filesystem partition."""
    flash = board["flash"]
    offset = int(flash["fs_offset"], 0)
    size = int(flash["fs_size"], 0)
    block = int(flash.get("block_size", 4096))
    return offset, size, block, size // block


def romfs_geometry(board):
    """(offset, size) of the board's ROMFS partition, where the code executes in place;
    (None, 0) on a board whose stock image has none (code on the filesystem)."""
    flash = board["flash"]
    if "romfs_offset" not in flash:
        return None, 0
    return int(flash["romfs_offset"], 0), int(flash["romfs_size"], 0)


def heapsize_arg(board):
    """The -X heapsize= value for the emulator: the board's heap, plus what the emulated
    hardware modules take (on the chip machine/network are C modules: no heap).

    The emulator board's budget is in 64-bit bytes already; a chip's is in ESP32 bytes and is
    converted with the measured ratio for where its code runs from (HEAP_RATIO_64BIT)."""
    heap = int(board["heap"]["bytes"])
    if is_chip(board):
        heap = int(heap * HEAP_RATIO_64BIT[code_location(board)])
    return "%dk" % ((heap + emulated_hardware_bytes()) // 1024)


def emulated_hardware_bytes():
    """What the emulation holds in the heap beyond the chip's MicroPython: the emulated
    machine/network modules (C modules on the chip), the block device, the host link, the boot
    script (the emulator board file's ``emulated_hardware_bytes``, measured: the emulator prints
    its heap before boot.py and tests/integration/test_boards_flash.py holds the two together)."""
    return int(load("emulator")["heap"]["emulated_hardware_bytes"])
