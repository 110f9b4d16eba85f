"""Masters on the emulated RS485 line, outside the gateway: MicroPython scripts and pymodbus.

``EmulatedLine(devices)`` starts what ``dingate emulate`` starts for the firmware's UART, here in
the benchmark's own asyncio loop: the hardware server (pins, UART settings; emulator/hardware.py)
and the line with real byte timing (emulator/line.py) in front of the scenario's devices answered
by pymodbus (emulator/bus.py). ``run_mp(...)`` runs bench/mp_rtu.py on the MicroPython unix port
with the emulator's fake ``machine`` (DINGATE_EMU = {"hw_port", "line_port", ...} as
runner._env builds it) and umodbus from .venv/mp-lib on MICROPYPATH (used in place, never
copied). ``pymodbus_cycle(...)`` runs pymodbus' async client over the same line in a child
process (bench/pymodbus_peer.py). The masters run in their own processes so the line's timing
is not disturbed by them (2 cores: the line and one master).
"""
import asyncio
import json
import os
import sys

from dingate import boards, paths
from dingate.emulator import bus, line, scenario
from dingate.emulator.hardware import HardwareServer, Wifi
from dingate.paths import EMULATOR_MPY, FIRMWARE

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_BIN = os.path.dirname(sys.executable)
MP_LIB = os.path.join(os.path.dirname(VENV_BIN), "mp-lib")
MP_HEAP = "1024k"  # standalone scripts: the firmware's heap cap is not what is measured here


def umodbus_available():
    return os.path.exists(os.path.join(MP_LIB, "umodbus", "serial.py"))


class EmulatedLine:
    def __init__(self, devices, line_settings=None):
        world = {"devices": devices}
        if line_settings:
            world["line"] = line_settings
        self.world = scenario.parse_scenario(world)
        self.board = boards.load("emulator")

    async def __aenter__(self):
        self.hw = HardwareServer(self.board, Wifi([]))
        self.hw_port = await self.hw.start()
        self.backend = bus.PymodbusBackend.from_scenario(self.world)
        await self.backend.start()
        self.line = line.Line(self.backend, self.world.line)
        self.hw.line = self.line
        self.line_port = await self.line.start()
        self._watch_silences()
        return self

    def _watch_silences(self):
        """Record, for every request that follows a response, the silence the master left after
        the response's last byte (host clock: the byte's stop bit / the request's arrival). The
        Line does not enforce it; a real bus needs 3.5 characters (``min_silence_s``)."""
        ln = self.line
        deliver, master_data = ln._deliver, ln._on_master_data
        self.silences_s = []
        self._last_rx = None

        def _deliver(data):
            self._last_rx = ln._loop.time()
            deliver(data)

        def _on_master_data(data):
            if self._last_rx is not None and not ln._req:
                self.silences_s.append(ln._loop.time() - self._last_rx)
                self._last_rx = None
            master_data(data)

        ln._deliver, ln._on_master_data = _deliver, _on_master_data

    @property
    def min_silence_s(self):
        return self.line.master.t35

    def silence_report(self):
        """{"silences": n, "min_ms", "p50_ms", "short": n shorter than 3.5 characters} since the
        last call."""
        s, self.silences_s = self.silences_s, []
        if not s:
            return {"silences": 0, "min_ms": None, "p50_ms": None, "short": 0}
        t35 = self.min_silence_s
        return {"silences": len(s), "min_ms": round(min(s) * 1000, 2),
                "p50_ms": round(percentile(s, 50) * 1000, 2),
                "short": sum(1 for x in s if x < t35 - 0.0002)}

    async def __aexit__(self, *exc):
        await self.line.stop()
        await self.hw.stop()

    def env(self):
        conf = {"hw_port": self.hw_port, "line_port": self.line_port, "mac": "24:0a:c4:00:be:01",
                "reset_cause": 1}
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([EMULATOR_MPY, FIRMWARE, MP_LIB, ".frozen"])
        env["DINGATE_EMU"] = json.dumps(conf)
        return env

    async def _child(self, args, env, timeout):
        proc = await asyncio.create_subprocess_exec(
            *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError("%s did not finish in %ss" % (_script(args), timeout)) from None
        except BaseException:  # cancelled (Ctrl-C, SIGTERM): do not leave the child running
            if proc.returncode is None:
                proc.kill()
            raise
        text = out.decode(errors="replace")
        for ln in reversed(text.splitlines()):
            if ln.startswith("{"):
                return json.loads(ln)
        raise RuntimeError("%s failed (exit %s):\n%s" % (_script(args), proc.returncode,
                                                         text[-3000:]))

    async def run_mp(self, mode, requests, seconds, timeout_ms=500, retries=0, monitor_ms=0,
                     meters=()):
        """bench/mp_rtu.py under MicroPython: {"transactions", "answered", "failed", "seconds",
        "gaps_ms", ...}."""
        args = [paths.micropython(required=True), "-X", "heapsize=" + MP_HEAP,
                os.path.join(HERE, "mp_rtu.py"), mode,
                str(seconds), str(timeout_ms), str(retries), str(monitor_ms),
                json.dumps([list(r) for r in requests]), json.dumps([list(m) for m in meters])]
        r = await self._child(args, self.env(), seconds + 30)
        g = r["gaps_ms"]  # a histogram of 0.1 ms bins (upper edge taken) + the long gaps
        r["gaps_ms"] = [(k + 1) / 10 for k, n in g["hist"] for _ in range(n)] + [
            us / 1000 for us in g["long_us"]]
        return r

    async def pymodbus_cycle(self, requests, cycles, timeout_s=0.5):
        """bench/pymodbus_peer.py: pymodbus' async client runs ``requests`` ``cycles`` times."""
        args = [sys.executable, os.path.join(HERE, "pymodbus_peer.py"), str(self.line_port),
                str(cycles), str(timeout_s), json.dumps([list(r) for r in requests])]
        return await self._child(args, dict(os.environ), 60 + cycles * 10)


def _script(args):
    return next((os.path.basename(a) for a in args if a.endswith(".py")), args[0])


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]
