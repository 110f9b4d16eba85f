"""The venv's command-line tools (dingate, mpremote, esptool) run as a person runs them."""
import os
import subprocess
import sys

BIN = os.path.dirname(sys.executable)


def run(*args, timeout=120, check=True, env=None):
    """Run ``args`` (output captured as text); with ``check`` it must exit with 0."""
    res = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env)
    if check:
        assert res.returncode == 0, "%s\n%s\n%s" % (args, res.stdout, res.stderr)
    return res


def dingate(*args, **kw):
    return run(os.path.join(BIN, "dingate"), *args, **kw)


def mpremote(port, *args, **kw):
    """mpremote on the emulated board's USB serial line (its --repl-port ``port``)."""
    return run(os.path.join(BIN, "mpremote"), "connect", "socket://127.0.0.1:%d" % port, *args,
               **kw)
