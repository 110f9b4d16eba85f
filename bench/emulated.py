"""A running `dingate emulate` for the benchmarks: the real firmware under MicroPython at the
board's heap cap, its RS485 line with byte timing, meters configured through the HTTP API."""
import json
import os
import re
import shutil
import tempfile
import time

from dingate import boards
from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.poll import wait_until

SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "host",
                         "dingate", "emulator", "scenarios")
MEM_LINE = re.compile(r"mem: (\S+)\s+(\d+) used\s+(\d+) free")


class OutOfHeap(RuntimeError):
    """The firmware ran out of heap (MemoryError, or the API answered 503 "busy")."""


def load_scenario(name):
    with open(os.path.join(SCENARIOS, name)) as f:
        return json.load(f)


def kib(arg):
    """"272k" -> 278528 bytes (the -X heapsize syntax)."""
    arg = str(arg).strip().lower()
    mult = {"k": 1024, "m": 1 << 20}.get(arg[-1:], 1)
    return int(float(arg.rstrip("km")) * mult)


def heap_settings():
    """(the board's heapsize argument, DINGATE_HEAPSIZE override or None)."""
    return boards.heapsize_arg(boards.load("emulator")), os.environ.get("DINGATE_HEAPSIZE") or None


class Gateway:
    """``with Gateway(world, heapsize=None, strict=True) as gw:`` (``heapsize``: DINGATE_HEAPSIZE
    for this run). ``strict``: the first 503 "busy, try again" (the firmware's answer to a
    MemoryError) or MemoryError on the console raises OutOfHeap; otherwise a 503 is retried as
    the API asks (``busy_retries`` counts them) and only a persistent one raises. ``board``:
    `dingate emulate --board` (default: the emulator's own board)."""

    def __init__(self, world, heapsize=None, strict=True, board=None):
        self.tmp = tempfile.mkdtemp(prefix="dingate-bench-")
        self.scenario = os.path.join(self.tmp, "scenario.json")
        with open(self.scenario, "w") as f:
            json.dump(world, f)
        self.heapsize = heapsize
        self.strict = strict
        self.busy_retries = 0
        self.emu = EmulatorProcess(scenario=self.scenario, state_dir=os.path.join(self.tmp, "state"),
                                   extra_args=["--board", board] if board else ())

    def __enter__(self):
        saved = os.environ.get("DINGATE_HEAPSIZE")
        if self.heapsize:
            os.environ["DINGATE_HEAPSIZE"] = self.heapsize
        try:
            self.emu.start(timeout=90)
        except Exception:
            self.close()
            raise
        finally:
            if saved is None:
                os.environ.pop("DINGATE_HEAPSIZE", None)
            else:
                os.environ["DINGATE_HEAPSIZE"] = saved
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.emu.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- API
    def api(self, method, path, body=None, **kw):
        for _ in range(1 if self.strict else 6):
            r = self.emu.api(method, path, body, **kw)
            if r.status_code != 503 or self.strict:
                break
            self.busy_retries += 1
            time.sleep(0.3)
            if method == "POST" and path == "/api/meters" and self._meter_exists(body):
                return None  # the MemoryError came after the meter was added
        if r.status_code == 503:
            raise OutOfHeap("%s %s -> 503 %s" % (method, path, r.text[:200]))
        if self.strict and self.out_of_heap():
            raise OutOfHeap("MemoryError on the device console (after %s %s):\n%s"
                            % (method, path, self.memory_error_context()))
        return r

    def _meter_exists(self, body):
        r = self.emu.api("GET", "/api/meters")
        return r.status_code == 200 and any(m["address"] == body["address"] for m in r.json())

    def memory_error_context(self, lines=6):
        text = self.console().splitlines()
        for i, ln in enumerate(text):
            if "MemoryError" in ln:
                return "\n".join(text[max(0, i - lines):i + 1])
        return ""

    def check_heap(self):
        """At the end of a strict run: a MemoryError on the console is running out of heap."""
        if self.strict and self.out_of_heap():
            raise OutOfHeap("MemoryError on the device console:\n" + self.memory_error_context())

    def memory_errors(self):
        return self.console().count("MemoryError")

    def login(self):
        for _ in range(3):
            r = self.api("POST", "/api/login", {"user": "admin", "password": self.emu.admin_password})
            if r.status_code == 200:
                return
            time.sleep(1)
        raise RuntimeError("login failed: %s" % r.text)

    def add_meters(self, meters):
        for i, m in enumerate(meters):
            try:
                r = self.api("POST", "/api/meters", m)
            except OutOfHeap as e:
                raise OutOfHeap("meter %d of %d: %s" % (i + 1, len(meters), e)) from None
            if r is not None and r.status_code != 201:
                raise RuntimeError("POST /api/meters %s: %d %s" % (m, r.status_code, r.text))

    def bus(self):
        return self.api("GET", "/api/bus").json()

    def status(self):
        return self.api("GET", "/api/status").json()

    def line_stats(self):
        return self.emu.hw().get("bus") or {}

    # --- the device console
    def console(self):
        return self.emu.console()

    def out_of_heap(self):
        return "MemoryError" in self.console()

    def boot_mem(self):
        """[(stage, used, free)] of the boot log's "mem:" lines (every boot in the log)."""
        return [(m.group(1), int(m.group(2)), int(m.group(3)))
                for m in MEM_LINE.finditer(self.console())]

    def reboots(self):
        return self.console().count("mem: start")


def wait_cycles(gw, n, timeout):
    """Wait until the poller has finished ``n`` more cycles; returns the /api/bus answer."""
    start = gw.bus()["cycles"]

    def done():
        b = gw.bus()
        return b if b["cycles"] >= start + n else None

    return wait_until(done, timeout, "%d more poller cycles" % n, 0.5)
