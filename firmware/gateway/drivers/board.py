"""The board file on the filesystem (/board.json, written by `dingate build`)."""
import json

BOARD_FILE = "/board.json"


def load_board(path=BOARD_FILE):
    with open(path) as f:
        return json.load(f)


def code_location():
    """"romfs" when the firmware runs from a mounted ROMFS (/rom), else "filesystem" (.mpy in
    /lib on the littlefs vfs, the stock MicroPython images): sys.path puts /rom/lib first."""
    import gateway

    return "romfs" if getattr(gateway, "__file__", "").startswith("/rom/") else "filesystem"
