"""A real mosquitto broker on a free loopback port, for tests and benchmarks."""
import os
import signal
import subprocess

from ..paths import mosquitto
from . import procs
from .emuproc import free_port  # noqa: F401  (the one free_port, re-exported for the tests)
from .poll import listening, wait_until

MOSQUITTO = mosquitto()


class Broker:
    """One mosquitto process; restartable on the same port and persistence directory."""

    def __init__(self, tmpdir, extra=""):
        self.dir = str(tmpdir)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log = os.path.join(self.dir, "mosquitto.log")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\n" % self.port)
            f.write("persistence true\npersistence_location %s/\n" % self.dir)
            f.write("persistence_file broker.db\n")
            f.write("autosave_interval 1\nautosave_on_changes true\n")
            f.write("log_dest file %s\nlog_type all\n" % self.log)
            f.write("max_queued_messages 100000\nmax_inflight_messages 50\n")
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                f.write("user root\n")  # else it drops to 'mosquitto' and loses the tmp dir
            f.write(extra or "allow_anonymous true\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: listening(self.port), 10, "mosquitto listening on %d" % self.port, 0.02,
                   detail=self.tail, process=self.proc)

    def stop(self, sig=signal.SIGTERM):
        procs.stop(self.proc, sig, 10)
        self.proc = None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def tail(self):
        return procs.log_tail(self.log, 3000)
