"""The board file on the filesystem (/board.json, written by `dingate build`)."""
import json

BOARD_FILE = "/board.json"


def load_board(path=BOARD_FILE):
    with open(path) as f:
        return json.load(f)
