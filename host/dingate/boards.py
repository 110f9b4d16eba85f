"""Board files (boards/<name>.json): pins, UART, flash partition, heap class."""
import json
import os

from .paths import BOARDS


class BoardError(Exception):
    pass


def names():
    return sorted(f[:-5] for f in os.listdir(BOARDS) if f.endswith(".json"))


def load(name):
    path = os.path.join(BOARDS, name + ".json")
    if not os.path.exists(path):
        raise BoardError("unknown board %r (known: %s)" % (name, ", ".join(names())))
    with open(path) as f:
        board = json.load(f)
    board["_path"] = path
    return board


def fs_geometry(board):
    """(offset, size, block_size, block_count) of the board's filesystem partition."""
    flash = board["flash"]
    offset = int(flash["fs_offset"], 0)
    size = int(flash["fs_size"], 0)
    block = int(flash.get("block_size", 4096))
    return offset, size, block, size // block


def romfs_geometry(board):
    """(offset, size) of the board's ROMFS partition, where the code executes in place."""
    flash = board["flash"]
    return int(flash["romfs_offset"], 0), int(flash["romfs_size"], 0)


def heapsize_arg(board):
    """The -X heapsize= value for the emulator: the board's heap, plus what the emulated
    hardware modules take (on the chip machine/network are C modules: no heap)."""
    heap = board["heap"]
    return "%dk" % ((int(heap["bytes"]) + int(heap.get("emulated_hardware_bytes", 0))) // 1024)
