"""Run every tests/core module under the MicroPython unix port (the same files pytest runs).

    python -m dingate.testing.mp_core [test_module ...]
"""
import os
import subprocess
import sys

from ..paths import FIRMWARE, ROOT, micropython

CORE_TESTS = os.path.join(ROOT, "tests", "core")


def modules():
    return sorted(f[:-3] for f in os.listdir(CORE_TESTS) if f.startswith("test_") and f.endswith(".py"))


def main(argv):
    import microdot

    names = argv or modules()
    exe = micropython()
    # .frozen first: asyncio and friends are frozen into the unix port, as on the board
    # host/ too: the test-only core modules (dingate.testing.mqtt_server_packets) live there
    path = [".frozen", FIRMWARE, CORE_TESTS, os.path.dirname(os.path.dirname(microdot.__file__)),
            os.path.join(ROOT, "host")]
    env = dict(os.environ, MICROPYPATH=":".join(path))
    cmd = [exe, "-X", "heapsize=16M", os.path.join(ROOT, "tests", "mp_run.py")] + names
    return subprocess.run(cmd, env=env, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
