"""Our RTU master (services/rtu.py) and poller against pymodbus servers, on CPython and MicroPython.

One pymodbus TCP server with the RTU framer (raw RTU frames over TCP, as ``--bus tcp://``) runs
in a background thread and plays a whole RS485 line:
  1 SDM630-like, 2 SDM120-like (input registers, IEEE floats), 3 generic (u16, s32 and f32
  little-endian holding registers), 4 a device without the register asked for (exception 2),
  9 a silent device (its replies are dropped).
The same line is then polled by a MicroPython unix-port subprocess (asyncio.open_connection).
Waits are on events/polls with deadlines, never bare sleeps.
"""
import asyncio
import json
import os
import struct
import subprocess
import threading
import time

import pytest

pymodbus = pytest.importorskip("pymodbus")
from pymodbus.framer import FramerType  # noqa: E402
from pymodbus.server import ModbusTcpServer  # noqa: E402
from pymodbus.simulator import DataType, SimData, SimDevice  # noqa: E402

from dingate import paths  # noqa: E402
from dingate.testing.rtu_stream import open_tcp  # noqa: E402
from dingate.testing.scripted_master import ScriptedMaster  # noqa: E402
from gateway.core import modbus  # noqa: E402
from gateway.core.meters import validate_bus, validate_meter  # noqa: E402
from gateway.services.poller import Poller  # noqa: E402
from gateway.services.rtu import RtuMaster, char_us, silence_us  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = paths.micropython() or "micropython (not installed)"
SILENT = 9
NOW = 1795000000


def f32(x):
    """x as the nearest float32 (what the meter really holds)."""
    return struct.unpack(">f", struct.pack(">f", x))[0]


def f32_words(x, little=False):
    w = list(struct.unpack(">2H", struct.pack(">f", x)))
    return w[::-1] if little else w


SDM630 = {0x00: 230.1, 0x02: 231.2, 0x04: 229.3, 0x06: 1.5, 0x08: 2.5, 0x0A: 3.5, 0x0C: 330.2,
          0x0E: 560.4, 0x10: 780.6, 0x34: 1234.5, 0x38: 1300.25, 0x3C: -210.5, 0x3E: 0.95,
          0x46: 50.02, 0x48: 1234.56, 0x4A: 78.9}
SDM630_Q = {0x00: "voltage_l1", 0x02: "voltage_l2", 0x04: "voltage_l3", 0x06: "current_l1",
            0x08: "current_l2", 0x0A: "current_l3", 0x0C: "power_l1", 0x0E: "power_l2",
            0x10: "power_l3", 0x34: "power_w", 0x38: "apparent_va", 0x3C: "reactive_var",
            0x3E: "power_factor", 0x46: "frequency_hz", 0x48: "import_kwh", 0x4A: "export_kwh"}
SDM120 = {0x00: 239.8, 0x06: 4.25, 0x0C: -850.0, 0x1E: 0.9, 0x46: 49.98, 0x48: 5.5, 0x4A: 0.25}
SDM120_Q = {0x00: "voltage_l1", 0x06: "current_l1", 0x0C: "power_w", 0x1E: "power_factor",
            0x46: "frequency_hz", 0x48: "import_kwh", 0x4A: "export_kwh"}


def expected_values(table, names):
    return {names[r]: f32(v) for r, v in table.items()}


GENERIC_REGS = [
    {"quantity": "voltage_l1", "function": 3, "register": "0x0010", "type": "u16", "scale": 0.1},
    {"quantity": "power_w", "function": 3, "register": 0x20, "type": "s32", "word_order": "little"},
    {"quantity": "soc_pct", "function": 3, "register": "0x30", "type": "f32",
     "word_order": "little"},
]
GENERIC_EXPECT = {"voltage_l1": 4321 * 0.1, "power_w": -123456, "soc_pct": 87.5}


def image(table, size=0x50, little=False):
    regs = [0] * size
    for r, v in table.items():
        regs[r : r + 2] = f32_words(v, little)
    return regs


def bits_block():
    return [SimData(0, values=[False] * 32, datatype=DataType.BITS)]


def device(dev_id, hr=None, ir=None):
    def block(regs):
        return [SimData(0, values=regs or [0], datatype=DataType.REGISTERS)]

    return SimDevice(dev_id, simdata=(bits_block(), [SimData(0, values=[True, False] * 8,
                                                             datatype=DataType.BITS)],
                                      block(hr), block(ir)))


def generic_image():
    regs = [0] * 0x40
    regs[0x10] = 4321
    regs[0x20:0x22] = list(struct.unpack(">2H", struct.pack(">i", -123456)))[::-1]
    regs[0x30:0x32] = f32_words(87.5, little=True)
    return regs


class BusServer:
    """The pymodbus RTU-over-TCP line, served from its own thread and event loop."""

    def __init__(self):
        self.port = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or not self.port:
            raise RuntimeError("pymodbus server did not start")

    @staticmethod
    def _trace(sending, packet):
        if sending and packet[:1] == bytes((SILENT,)):
            return b""  # the silent device never answers
        return packet

    def _main(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        finally:
            self._ready.set()
        self.loop.run_forever()

    async def _start(self):
        devices = [
            device(1, ir=image(SDM630)),
            device(2, ir=image(SDM120)),
            device(3, hr=generic_image()),
            device(4, hr=[0] * 10),
            device(SILENT, ir=image(SDM120)),
        ]
        self.server = ModbusTcpServer(devices, framer=FramerType.RTU, address=("127.0.0.1", 0),
                                      trace_packet=self._trace)
        await self.server.serve_forever(background=True)
        self.port = self.server.transport.sockets[0].getsockname()[1]

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def bus():
    server = BusServer()
    yield server
    server.stop()


def make_meters():
    ms = []
    for data in (
        {"name": "Grid SDM630", "address": 1, "profile": "sdm630"},
        {"name": "PV SDM120", "address": 2, "profile": "sdm120"},
        {"name": "Battery", "address": 3, "profile": "generic", "registers": GENERIC_REGS},
        {"name": "Misconfigured", "address": 4, "profile": "generic",
         "registers": [{"quantity": "power_w", "register": 0x100}]},
        {"name": "Dead one", "address": SILENT, "profile": "sdm120"},
        {"name": "Switched off", "address": 5, "profile": "sdm120", "enabled": False},
    ):
        ms.append(validate_meter(data, ms))
    return ms


BUS = validate_bus({"timeout_ms": 60, "retries": 1, "interval_ms": 100})


def approx_dict(got, want):
    assert set(got) == set(want), (got, want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6), k


async def wait_cycles(poller, n, timeout=10):
    """Wait until ``poller.cycles`` reaches ``n`` (deadline ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while poller.cycles < n:
        left = deadline - time.monotonic()
        assert left > 0, "poller stuck at cycle %d" % poller.cycles
        try:
            await asyncio.wait_for(poller.cycle_event.wait(), left)
        except asyncio.TimeoutError:
            pass


# ---- CPython ----


def test_poll_loop_reads_every_profile(bus):
    async def main():
        port = await open_tcp("127.0.0.1", bus.port)
        meters = make_meters()
        poller = Poller(RtuMaster(port), meters, BUS, clock=lambda: NOW, offline_after=2)
        task = asyncio.create_task(poller.run())
        try:
            await wait_cycles(poller, 3)
            return poller.readings(), dict(poller.stats())  # right after cycle 3, before cycle 4
        finally:
            task.cancel()
            port.close()

    readings, stats = asyncio.run(main())
    assert set(readings) == {"1", "2", "3", "4", "5", "6"}
    r = readings["1"]
    assert r["status"] == "ok" and r["ts"] == NOW
    approx_dict(r["values"], expected_values(SDM630, SDM630_Q))
    assert readings["2"]["status"] == "ok"
    approx_dict(readings["2"]["values"], expected_values(SDM120, SDM120_Q))
    assert readings["3"]["status"] == "ok"
    approx_dict(readings["3"]["values"], GENERIC_EXPECT)
    assert isinstance(readings["3"]["values"]["power_w"], int)
    assert readings["4"] == {"status": "error", "ts": NOW, "values": {}}
    assert "exception 2 (illegal data address)" in stats["4"]["error"]
    assert readings["5"] == {"status": "offline", "ts": NOW, "values": {}}
    assert "no response" in stats["5"]["error"]
    assert readings["6"]["status"] == "disabled" and readings["6"]["values"] == {}
    c = stats["1"]["counters"]
    # 2 requests a cycle; cycle 4 may have sent its first request already
    assert c["ok"] >= 6 and c["requests"] - c["ok"] <= 1 and stats["1"]["last_ok"] == NOW
    assert stats["2"]["counters"]["requests"] % 3 == 0  # SDM120: 3 merged requests a cycle
    assert stats["3"]["counters"]["ok"] >= 9  # generic: 3 requests (gaps > max_gap)
    assert stats["4"]["counters"]["exceptions"] == 2  # cycles 1-2, then it backs off
    assert stats["5"]["counters"]["timeouts"] == stats["5"]["counters"]["requests"] >= 3
    for s in stats.values():
        c = s["counters"]
        assert c["crc_errors"] == c["wrong_frames"] == 0


def test_dead_device_backs_off_and_costs_one_timeout(bus):
    async def main():
        port = await open_tcp("127.0.0.1", bus.port)
        ms = make_meters()
        meters = [ms[0], ms[4]]  # SDM630 + the dead one
        master = RtuMaster(port)
        poller = Poller(master, meters, BUS, clock=lambda: NOW, offline_after=2, probe_every=4)
        durations = []
        for _ in range(10):
            t0 = time.monotonic()
            await poller.poll_once()
            durations.append(time.monotonic() - t0)
        port.close()
        return durations, master.counters(SILENT)["requests"], poller.readings()

    durations, dead_requests, readings = asyncio.run(main())
    # cycles 1-2: 2 attempts each; offline from then on; probed (1 attempt) after 4 cycles,
    # then twice as far apart (the next probe would be in cycle 14)
    assert dead_requests == 2 + 2 + 1  # cycles 1, 2, 6
    assert readings["5"]["status"] == "offline" and readings["1"]["status"] == "ok"
    probe, skip = durations[5], durations[6]
    assert probe >= 0.060 and skip < probe  # a probe costs one timeout, the others go on
    assert durations[0] >= 0.120  # before backing off: timeout x 2 attempts


def test_read_now_values_and_exact_errors(bus):
    async def main():
        port = await open_tcp("127.0.0.1", bus.port)
        ms = make_meters()
        poller = Poller(RtuMaster(port), [], BUS, clock=lambda: NOW)
        out = [await poller.read_now(m) for m in ms[:5]]
        port.close()
        return out

    ok630, ok120, okgen, bad, dead = asyncio.run(main())
    assert ok630["ok"] and ok120["ok"] and okgen["ok"]
    approx_dict(ok630["values"], expected_values(SDM630, SDM630_Q))
    approx_dict(okgen["values"], GENERIC_EXPECT)
    assert bad == {"ok": False, "error": "4 FC3 0x0100 x1: exception 2 (illegal data address)"}
    assert dead == {"ok": False, "error": "9 FC4 0x0000 x14: no response (2 attempts, 60 ms each)"}


def test_configure_at_runtime(bus):
    async def main():
        port = await open_tcp("127.0.0.1", bus.port)
        ms = make_meters()
        master = RtuMaster(port)
        poller = Poller(master, ms[:2], BUS, clock=lambda: NOW)
        await poller.poll_once()
        first = poller.readings()
        # meter 2 moves to the SDM630's address... as a generic device; bus gets stricter
        moved = dict(ms[1], address=3, profile="generic", registers=ms[2]["registers"])
        poller.configure([ms[0], moved], validate_bus({"max_gap": 0, "retries": 0}, BUS))
        kept = poller.readings()
        await poller.poll_once()
        port.close()
        return first, kept, poller.readings(), master.retries

    first, kept, after, retries = asyncio.run(main())
    assert first["2"]["status"] == "ok" and "current_l1" in first["2"]["values"]
    assert kept["1"] == first["1"]  # unchanged meter keeps its readings
    assert kept["2"]["status"] == "offline" and kept["2"]["values"] == {}  # changed: afresh
    approx_dict(after["2"]["values"], GENERIC_EXPECT)
    assert retries == 0


def test_every_function_code_against_pymodbus(bus):
    async def main():
        port = await open_tcp("127.0.0.1", bus.port)
        m = RtuMaster(port, {"baud": 19200, "parity": "E"})
        out = {}
        out["w6"] = await m.write_register(4, 2, 0xBEEF)
        out["w16"] = await m.write_registers(4, 5, [1, 2, 3])
        out["r3"] = await m.read_registers(4, 3, 0, 8)
        out["r4"] = await m.read_registers(1, 4, 0x46, 2)
        out["w5"] = await m.write_coil(4, 3, True)
        out["w15"] = await m.write_coils(4, 8, [True, False, True, True])
        out["r1"] = await m.read_bits(4, 1, 0, 12)
        out["r2"] = await m.read_bits(4, 2, 0, 4)
        try:
            await m.read_registers(4, 3, 9, 2)
        except modbus.ModbusException as e:
            out["exc"] = e.code
        port.close()
        return out, m.counters(4)

    out, c = asyncio.run(main())
    assert out["w6"] == 0xBEEF and out["w16"] == 3
    assert out["r3"] == [0, 0, 0xBEEF, 0, 0, 1, 2, 3]
    assert out["r4"] == f32_words(50.02)
    assert out["w5"] is True and out["w15"] == 4
    assert out["r1"] == [False, False, False, True, False, False, False, False,
                         True, False, True, True]
    assert out["r2"] == [True, False, True, False]
    assert out["exc"] == 2
    assert c["requests"] == c["ok"] + c["exceptions"] and c["exceptions"] == 1


def test_poller_status_rules():
    nr = modbus.NoResponse("silent")
    script = {
        1: ["ok", nr, nr, nr, nr, nr, nr, "ok"],  # grace, offline, probes, back
        2: [modbus.ModbusException(2, 4, "exc 2")],  # error at once
        3: [modbus.CrcError("crc"), modbus.CrcError("crc"), modbus.CrcError("crc"), "ok"],
    }
    master = ScriptedMaster(script)
    clock = [1000]
    ms = []
    one = [{"quantity": "power_w", "function": 4, "register": 0, "type": "f32"}]
    for a in (1, 2, 3):  # one request per meter and cycle
        ms.append(validate_meter({"address": a, "profile": "generic", "registers": one}, ms))
    # the clock moves 10 s a cycle: a 10 s poll interval (readings do not go "stale")
    poller = Poller(master, ms, dict(BUS, interval_ms=10000), clock=lambda: clock[0],
                    offline_after=3, probe_every=2)
    history = []

    async def main():
        for _ in range(9):
            clock[0] += 10
            master.calls.clear()
            await poller.poll_once()
            r = poller.readings()
            history.append(({k: (v["status"], v["ts"], bool(v["values"])) for k, v in r.items()},
                            sorted(set(master.calls))))

    asyncio.run(main())
    m1 = [h[0]["1"] for h in history]
    assert m1[0] == ("ok", 1010, True)
    assert m1[1] == m1[2] == ("ok", 1010, True)  # 2 failures: last values kept, ts shows age
    assert m1[3] == ("offline", 1040, False)  # 3rd failure
    calls1 = [[c for c in h[1] if c[0] == 1] for h in history]
    assert calls1[3] == [(1, None)]
    # probed after 2 cycles, then 4 cycles apart (back-off doubles)
    assert calls1[4] == [] and calls1[5] == [(1, 0)] and calls1[6] == calls1[7] == calls1[8] == []
    assert m1[7] == ("offline", 1040, False) and m1[8] == ("offline", 1040, False)
    assert [h[0]["2"][0] for h in history[:3]] == ["error"] * 3 and history[0][0]["2"][1] == 1010
    m3 = [h[0]["3"] for h in history]
    assert m3[0][0] == m3[1][0] == "offline" and m3[2] == ("error", 1030, False)
    assert m3[3] == ("error", 1030, False)  # backing off: not polled this cycle
    assert m3[4] == ("ok", 1050, True)
    assert poller.cycles == 9
    st = dict(poller.stats())
    assert st["1"]["last_ok"] == 1010 and st["1"]["error"] == "silent"
    assert st["3"]["error"] is None and st["3"]["failures"] == 0


# ---- line timing on a recording port ----


class RecordingPort:
    """Fake UART: replies ``reply(req)`` after a delay; records every call with its time."""

    def __init__(self, reply, baud=9600):
        self.reply = reply
        self.log = []
        self.rx = b""
        self.tx_end = 0.0
        self.baud = baud
        self.ev = asyncio.Event()

    def _t(self):
        return time.monotonic()

    def write(self, buf):
        self.log.append(("write", self._t(), bytes(buf)))
        wire = len(buf) * 10 / self.baud
        self.tx_end = self._t() + wire
        data = self.reply(bytes(buf))
        if data:
            asyncio.get_running_loop().call_later(wire + 0.003, self._arrive, data)

    def _arrive(self, data):
        self.rx += data
        self.ev.set()

    def txdone(self):
        done = self._t() >= self.tx_end
        self.log.append(("txdone", self._t(), done))
        return done

    def set_de(self, on):
        self.log.append(("de", self._t(), on))

    def drain_rx(self):
        self.log.append(("drain", self._t(), self.rx))
        self.rx = b""

    async def read_some(self, n):
        while not self.rx:
            self.ev.clear()
            await self.ev.wait()
        out, self.rx = self.rx[:n], self.rx[n:]
        self.log.append(("read", self._t(), out))
        return out


def sdm_reply(req):
    n = struct.unpack(">H", req[4:6])[0]
    return modbus.with_crc(bytes((req[0], req[1], 2 * n)) + bytes(2 * n))


def test_de_timing_silence_and_drain():
    assert char_us(9600) == 1042 and char_us(9600, "E") == 1146 and char_us(9600, "N", 2) == 1146
    assert silence_us(9600) == 3647 and silence_us(19200) == 1824 and silence_us(38400) == 1750
    assert silence_us(115200, "E", 2) == 1750

    async def main():
        port = RecordingPort(sdm_reply)
        m = RtuMaster(port, {"baud": 9600, "timeout_ms": 200})
        for _ in range(3):
            port.rx = b"\x00junk"  # stale input must be drained before each request
            assert await m.read_registers(1, 4, 0, 10) == [0] * 10
        return port.log

    log = asyncio.run(main())
    writes = [i for i, e in enumerate(log) if e[0] == "write"]
    assert len(writes) == 3
    ch = 10 / 9600
    for k, w in enumerate(writes):
        assert log[w - 1][0] == "de" and log[w - 1][2] is True  # DE up just before write
        assert log[w - 2][0] == "drain" and log[w - 2][2] == b"\x00junk"
        t_write = log[w][1]
        if k:  # bus silence since the previous reply's last byte
            last_rx = max(e[1] for e in log[writes[k - 1] : w] if e[0] == "read")
            assert t_write - last_rx >= 3.5 * ch
        wire_end = t_write + 8 * ch
        de_off = next(e for e in log[w:] if e[0] == "de")
        assert de_off[2] is False
        assert de_off[1] >= wire_end + ch * 0.9  # after the last bit + one character time
        polls = [e for e in log[w:] if e[0] == "txdone" and e[1] <= de_off[1]]
        assert polls and polls[-1][2] is True  # released only once txdone() said so ...
        assert [p[2] for p in polls].count(True) == 1  # ... at the first time it said so
        # a gross bound only: how late the loop runs the release depends on the host's load
        # (a 2-core CI box running emulators measured 0.15 s once); the check above is exact
        assert de_off[1] < wire_end + 0.5
        assert next(e for e in log[w:] if e[0] == "read")[1] > de_off[1]


def test_bad_frames_are_counted_and_retried():
    replies = []

    def reply(req):
        return replies.pop(0) if replies else b""

    async def main():
        port = RecordingPort(reply, baud=115200)
        m = RtuMaster(port, {"baud": 115200, "timeout_ms": 30, "retries": 3}, inter_frame_ms=5)
        good = sdm_reply(modbus.read_request(7, 4, 0, 2))
        bad_crc = good[:-1] + bytes((good[-1] ^ 1,))
        other = modbus.with_crc(bytes((8,)) + good[1:-2])
        replies[:] = [bad_crc, other, good[:5], good]
        assert await m.read_registers(7, 4, 0, 2) == [0, 0]
        c1 = dict(m.counters(7))
        replies[:] = [bad_crc]
        try:
            await m.read_registers(7, 4, 0, 2, retries=1)
        except modbus.NoResponse as e:
            err = str(e)
        return c1, dict(m.counters(7)), err

    c1, c2, err = asyncio.run(main())
    assert c1 == {"requests": 4, "ok": 1, "timeouts": 0, "crc_errors": 1, "exceptions": 0,
                  "wrong_frames": 2}
    assert c2["requests"] == 6 and c2["crc_errors"] == 2 and c2["timeouts"] == 1
    assert err == "7 FC4 0x0000 x2: no response (2 attempts, 30 ms each)"


# ---- MicroPython ----

MP_SCRIPT = r"""
import io, json, select, socket, sys, time
import asyncio
from gateway.core.meters import validate_bus
from dingate.testing.rtu_stream import open_tcp
from gateway.drivers.uart_port import UartPort
from gateway.services.rtu import RtuMaster
from gateway.services.poller import Poller

with open(sys.argv[1]) as f:
    cfg = json.load(f)


class SocketUart(io.IOBase):
    # A pollable stand-in for machine.UART (as on the ESP32) over the same TCP line.
    def __init__(self, port, baud):
        self.s = socket.socket()
        self.s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        self.s.setblocking(False)
        self.char_us = 10 * 1000000 // baud
        self.tx_end = time.ticks_us()
        self.inits = []

    def init(self, **kw):
        self.inits.append(kw)

    def write(self, buf):
        mv = memoryview(buf)
        while mv:
            try:
                mv = mv[self.s.send(mv):]
            except OSError:
                time.sleep_ms(1)
        self.tx_end = time.ticks_add(time.ticks_us(), len(buf) * self.char_us)
        return len(buf)

    def txdone(self):
        return time.ticks_diff(time.ticks_us(), self.tx_end) >= 0

    def _ready(self, mask):
        p = select.poll()
        p.register(self.s, mask)
        r = p.poll(0)
        return r[0][1] & mask if r else 0

    def any(self):
        return 1 if self._ready(select.POLLIN) else 0

    def read(self, n=-1):
        try:
            return self.s.recv(n if n > 0 else 256) or None
        except OSError:
            return None

    def readinto(self, buf, n=-1):
        data = self.read(len(buf) if n < 0 else n)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def ioctl(self, req, arg):
        if req == 3:  # MP_STREAM_POLL
            return self._ready(arg)
        if req == 10:  # MP_STREAM_GET_FILENO
            return self.s.fileno()
        return 0


class Pin:
    def __init__(self):
        self.changes = []

    def value(self, v):
        self.changes.append(v)


async def main():
    bus = validate_bus(cfg["bus"])
    port = await open_tcp("127.0.0.1", cfg["port"])
    poller = Poller(RtuMaster(port), cfg["meters"], bus, clock=lambda: cfg["now"],
                    offline_after=2)
    task = asyncio.create_task(poller.run())
    while poller.cycles < 3:
        await poller.cycle_event.wait()
    task.cancel()
    test = await poller.read_now(cfg["meters"][3])
    port.close()

    uart = SocketUart(cfg["port"], bus["baud"])
    de = Pin()
    master = RtuMaster(UartPort(uart, de), bus)
    via_uart = await Poller(master, []).read_now(cfg["meters"][0])
    readings = {}
    for mid, r in poller.readings().items():  # values as dicts, as GET /api/readings sends them
        v = r["values"]
        readings[mid] = dict(r, values=v if isinstance(v, dict) else v.to_dict())
    print(json.dumps({"impl": sys.implementation.name, "readings": readings,
                      "stats": dict(poller.stats()), "test": test, "via_uart": via_uart,
                      "de": de.changes, "uart_init": uart.inits}))

asyncio.run(main())
"""


def test_micropython_polls_the_same_line(bus, tmp_path):
    if not os.path.exists(MICROPYTHON):
        pytest.skip("no MicroPython unix port at %s" % MICROPYTHON)
    script = tmp_path / "mp_poll.py"
    script.write_text(MP_SCRIPT)
    cfg = tmp_path / "cfg.json"  # a file: this unix port dies on long command-line arguments
    cfg.write_text(json.dumps({"port": bus.port, "meters": make_meters(), "bus": BUS, "now": NOW}))
    env = dict(os.environ, MICROPYPATH=":".join([".frozen", os.path.join(ROOT, "firmware"),
                                                 os.path.join(ROOT, "host")]))
    proc = subprocess.run([MICROPYTHON, str(script), str(cfg)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["impl"] == "micropython"
    r = out["readings"]
    assert r["1"]["status"] == "ok" and r["1"]["ts"] == NOW
    approx_dict(r["1"]["values"], expected_values(SDM630, SDM630_Q))
    approx_dict(r["2"]["values"], expected_values(SDM120, SDM120_Q))
    approx_dict(r["3"]["values"], GENERIC_EXPECT)
    assert r["4"]["status"] == "error" and r["5"]["status"] == "offline"
    assert r["6"]["status"] == "disabled"
    assert out["stats"]["5"]["counters"]["timeouts"] >= 3
    assert out["test"] == {"ok": False,
                           "error": "4 FC3 0x0100 x1: exception 2 (illegal data address)"}
    # the UartPort (machine.UART + DE pin) path on MicroPython
    assert out["via_uart"]["ok"], out["via_uart"]
    approx_dict(out["via_uart"]["values"], expected_values(SDM630, SDM630_Q))
    assert out["de"] == [0] + [1, 0] * 2  # released at start, then up/down per request
    assert out["uart_init"] == [{"baudrate": 9600, "bits": 8, "parity": None, "stop": 1}]
