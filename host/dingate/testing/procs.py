"""What every helper process of the tests (the emulator, mosquitto, Home Assistant) needs: the
tail of its log, and a stop that ends it for good."""
import os
import signal
import subprocess


def log_tail(path, chars=6000):
    """The last ``chars`` characters of the log file at ``path`` (None: all of it; "" when there
    is none yet)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return (data[-chars:] if chars else data).decode(errors="replace")


def stop(proc, sig=signal.SIGTERM, timeout=20, group=False):
    """Send ``sig`` to ``proc`` (a Popen; with ``group`` to its process group) if it still runs,
    wait ``timeout`` s for it to end, then kill it."""
    if proc is None or proc.poll() is not None:
        return

    def send(s):
        if group:
            os.killpg(proc.pid, s)
        else:
            proc.send_signal(s)

    send(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()
