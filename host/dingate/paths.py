"""Where things are: the repository tree the host tools work on."""
import os

ROOT = os.environ.get("DINGATE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
BUILD = os.path.join(ROOT, "build")
EMULATOR_MPY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulator", "mpy")
