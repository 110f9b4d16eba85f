"""Our RTU master (services/rtu.py) against umodbus' RTU slave, a second, independent implementation.

micropython-modbus 2.3.7 (module ``umodbus``, GPL-3.0: imported at test time from .venv/mp-lib,
where ``make setup`` puts it; never copied into this repository) runs as slave 17 under the
MicroPython unix port, with the emulator's fake ``machine`` (host/dingate/emulator/mpy): its
``machine.UART`` connects by TCP to ``line_port`` and its DE pin and UART settings go to a
``HardwareServer`` (newline-delimited JSON), exactly as for the emulated gateway.

The null modem between the two is the emulator's own RS485 line (emulator/line.py ``Line``, real
byte timing: a request ends after 3.5 characters of silence, the answer is paced one character
time per byte) with a small frame backend, ``SlaveLink``, whose far side is the slave's UART.
Our master (CPython, rtu.py, the code the firmware runs, over ``dingate.testing.rtu_stream``) connects to
the line. The line and the slave's I/O run in a background thread with their own event loop.

Findings about umodbus 2.3.7 as an RTU slave (each is asserted below as it behaves, with the
conforming behaviour beside it: if umodbus changes, these tests say so):

1. FC1/FC2 replies pack the bits MSB first: the first coil of each group of 8 goes to the
   highest bit of its byte (of the last, partial byte: to bit k-1 of its k bits). The Modbus
   application protocol puts the first coil in bit 0 (LSB). A conforming master therefore reads
   each group of 8 mirrored. (umodbus/modbus.py's comment citing its issue #38 says the order
   should be the other way; its own master decodes MSB first, so umodbus only agrees with
   itself.)
2. FC15 takes the request's coil bytes as one big-endian integer: up to 8 coils are stored
   right, from 9 coils on the bytes are swapped (coils 0-7 get the bits sent for coils 8-15).
3. Only the start address is checked: a read starting at a defined register but running past
   the end of the defined ones answers zeros for the undefined ones, and FC16 starting at a
   defined register creates the registers after it, where the protocol calls for exception 2.
   A start address that is not defined does give exception 2 for every function, as it should.
4. A broadcast write (address 0) is dropped like a frame for another address; the protocol
   has every slave execute it (without a reply).
5. Conforming: FC3/FC4 values (0..65535, big-endian), FC5/FC6/FC15/FC16 echo replies, exception
   replies (5 bytes, function | 0x80, code), silence for another address. Its timing fits the
   line: no collision, no unreadable or garbled frame.

Waits are on events, queues or polls with deadlines, never bare sleeps.
"""
import asyncio
import json
import os
import queue
import socket
import struct
import sys
import threading
import time

import pytest

from dingate import boards, paths
from dingate.emulator.bus import Reply
from dingate.emulator.hardware import HardwareServer, Wifi
from dingate.emulator.line import Line, LineSettings
from dingate.paths import EMULATOR_MPY
from dingate.testing.poll import wait_until
from dingate.testing.rtu_stream import open_tcp
from gateway.core import modbus
from gateway.services.rtu import RtuMaster

MICROPYTHON = paths.micropython() or "micropython (not installed)"
MP_LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(sys.executable))), "mp-lib")

if not os.path.exists(os.path.join(MP_LIB, "umodbus", "serial.py")):
    pytest.skip("umodbus is not in %s: `make setup` installs it (micropython-modbus 2.3.7)"
                % MP_LIB, allow_module_level=True)
if not os.path.exists(MICROPYTHON):
    pytest.skip("no MicroPython unix port at %s" % MICROPYTHON, allow_module_level=True)

SLAVE = 17
ABSENT = 18
DE_PIN = 4  # boards/emulator.json "rs485"
BUS = {"baud": 19200, "parity": "E", "stop": 1, "timeout_ms": 400, "retries": 0}

# The slave's register map (umodbus setup_registers format), known values. Each test has its own
# registers, so none depends on what another one wrote.
COILS = [True, False, False, True, True, False, False, False, True, True, False]  # 0..10
ISTS = [True, True, False, True, False, False, False, False, False, True]  # 0..9
HREGS = [1, 2, 3, 0xBEEF, 0x7FFF, 0x8000, 0, 0, 0, 0]  # 0..9
IREGS = [2301, 2312, 2293, 65535, 0x1234]  # 0x30..0x34
IREG_BASE = 0x30
EDGE = 100  # short blocks for the exception test: coil 100, holding registers 100-101
SCRATCH = 200  # written by the write test: coils 200-215, holding registers 200-209
REGISTERS = {
    "COILS": {"relays": {"register": 0, "val": COILS},
              "edge": {"register": EDGE, "val": [True]},
              "scratch": {"register": SCRATCH, "val": [False] * 16}},
    "ISTS": {"contacts": {"register": 0, "val": ISTS}},
    "HREGS": {"setpoints": {"register": 0, "val": HREGS},
              "edge": {"register": EDGE, "val": [7, 8]},
              "scratch": {"register": SCRATCH, "val": [0] * 10}},
    "IREGS": {"measures": {"register": IREG_BASE, "val": IREGS}},
}

SLAVE_SCRIPT = r"""
import json, sys
import _emu
from umodbus.serial import ModbusRTU

with open(sys.argv[1]) as f:
    cfg = json.load(f)


def on_set(reg_type, address, val):
    # what umodbus stored for a write, reported to the test (independent of our master)
    print(json.dumps({"set": reg_type, "address": address, "val": val}))


regs = cfg["registers"]
for kind in ("COILS", "HREGS"):
    for r in regs[kind].values():
        r["on_set_cb"] = on_set
slave = ModbusRTU(addr=cfg["address"], baudrate=cfg["baud"], data_bits=8, stop_bits=1,
                  parity=cfg["parity"], pins=(17, 16), ctrl_pin=cfg["de"], uart_id=2)
slave.setup_registers(registers=regs)
_emu.send({"boot": 1})
print(json.dumps({"ready": sys.implementation.name}))
while True:
    slave.process()
    _emu.poll()  # the host went away (test ended, killed): SystemExit, as a board powers off
"""


def umodbus_bit_order(bits):
    """What a conforming master decodes from umodbus' FC1/FC2 reply: groups of 8 mirrored."""
    out = []
    for i in range(0, len(bits), 8):
        out += bits[i : i + 8][::-1]
    return out


def umodbus_fc15_store(bits):
    """What umodbus stores for an FC15 write of ``bits`` (conforming request bytes, LSB first)."""
    data = bytearray((len(bits) + 7) // 8)
    for i, b in enumerate(bits):
        if b:
            data[i >> 3] |= 1 << (i & 7)
    tmp = int.from_bytes(data, "big")
    return [bool(tmp & (1 << n)) for n in range(len(bits))]


class SlaveLink:
    """A ``Line`` frame backend whose far side is a device's fake ``machine.UART`` (TCP client).

    ``transact(frame)`` writes the request frame the line delimited to the device and returns
    what it sends back, as one ``Reply``: its first byte within ``reply_timeout`` s (else no
    answer), the frame ending at ``gap`` s of silence. The bytes are passed on untouched: a
    non-conforming answer reaches the master as it was sent.
    """

    streaming = False

    def __init__(self, reply_timeout=0.25, gap=0.01):
        self.reply_timeout = reply_timeout
        self.gap = gap
        self.port = None
        self.connected = None
        self.counters = {"requests": 0, "answered": 0, "no_answer": 0, "stale_bytes": 0,
                         "done": 0}
        self._server = None
        self._transport = None
        self._rx = bytearray()
        self._ev = None

    async def start(self):
        if self._server is not None:
            return
        self.connected = asyncio.Event()
        self._ev = asyncio.Event()
        link = self

        class _Conn(asyncio.Protocol):
            def connection_made(self, transport):
                transport.get_extra_info("socket").setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                link._transport = transport
                link.connected.set()

            def data_received(self, data):
                link._rx += data
                link._ev.set()

            def connection_lost(self, exc):
                link._transport = None

        self._server = await asyncio.get_running_loop().create_server(_Conn, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self):
        if self._transport is not None:
            self._transport.close()
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _more(self, have, timeout):
        """Wait up to ``timeout`` s for more than ``have`` received bytes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self._rx) <= have:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            self._ev.clear()
            try:
                await asyncio.wait_for(self._ev.wait(), left)
            except asyncio.TimeoutError:
                return len(self._rx) > have
        return True

    async def transact(self, frame):
        self.counters["requests"] += 1
        try:
            if self._transport is None:
                self.counters["no_answer"] += 1
                return None
            self.counters["stale_bytes"] += len(self._rx)  # an answer after we gave up
            self._rx.clear()
            self._transport.write(bytes(frame))
            if not await self._more(0, self.reply_timeout):
                self.counters["no_answer"] += 1
                return None
            while await self._more(len(self._rx), self.gap):
                pass
            data = bytes(self._rx)
            self._rx.clear()
            self.counters["answered"] += 1
            return Reply(data, turnaround_s=0.0)  # the device's own delay has already passed
        finally:
            self.counters["done"] += 1


class DeviceSide:
    """``HardwareServer.line`` for the slave: its UART settings set the line's device side."""

    def __init__(self):
        self.line = None
        self.settings = None

    def configure(self, baud, bits=8, parity="N", stop=1):
        self.settings = LineSettings.make(baud, bits, parity, stop)
        if self.line is not None:
            self.line.device_settings = self.settings


class Bridge:
    """Hardware server, line and umodbus slave, run by their own thread and event loop."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.events = queue.Queue()  # the slave's JSON reports (writes it stored)
        self.output = []  # everything else it printed (tracebacks)
        self.error = None
        self.proc = self.line = self.hw = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self.error:
            raise RuntimeError("umodbus slave did not start: %s\n%s"
                               % (self.error, "\n".join(self.output[-30:])))

    def _main(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except Exception as e:  # noqa: BLE001 - reported by the constructor
            self.error = repr(e)
            self.loop.run_until_complete(self._down())
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    async def _start(self):
        self.device = DeviceSide()
        self.hw = HardwareServer(boards.load("emulator"), Wifi([]), line=self.device)
        hw_port = await self.hw.start()
        self.link = SlaveLink()
        self.line = Line(self.link)
        self.device.line = self.line
        await self.line.start()
        # our master is a StreamPort (no UART to announce its settings): set them as its
        # UART.init() would on the board
        self.line.configure(BUS["baud"], 8, BUS["parity"], BUS["stop"])
        self.port = self.line.port
        script = self.tmp_path / "umodbus_slave.py"
        script.write_text(SLAVE_SCRIPT)
        cfg = self.tmp_path / "slave.json"  # a file: this unix port dies on long arguments
        cfg.write_text(json.dumps({"address": SLAVE, "baud": BUS["baud"], "parity": 0,
                                   "de": DE_PIN, "registers": REGISTERS}))
        env = dict(os.environ, MICROPYPATH=":".join([".frozen", EMULATOR_MPY, MP_LIB]),
                   DINGATE_EMU=json.dumps({"hw_port": hw_port, "line_port": self.link.port}))
        self.proc = await asyncio.create_subprocess_exec(
            MICROPYTHON, str(script), str(cfg), env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        self._pump_task = asyncio.create_task(self._pump())
        waits = [asyncio.ensure_future(self.hw.booted.wait()),
                 asyncio.ensure_future(self.link.connected.wait()),
                 asyncio.ensure_future(self.proc.wait())]
        deadline = time.monotonic() + 20
        try:
            while not (self.hw.booted.is_set() and self.link.connected.is_set()):
                if self.proc.returncode is not None:
                    raise RuntimeError("slave exited with %s" % self.proc.returncode)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("slave not ready in 20 s")
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _pump(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            if text.startswith("{"):
                self.events.put(json.loads(text))
            else:
                self.output.append(text)

    def call(self, fn, *args):
        """Run ``fn(*args)`` (sync) in the bridge's loop and return its value."""
        async def run():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stats(self):
        return self.call(lambda: (self.line.stats(), dict(self.link.counters),
                                  self.device.settings, dict(self.hw.pins)))

    def wait_idle(self, timeout=5):
        """Until every frame the line took from the master has been answered or given up on."""
        def idle():
            line, link, _, _ = self.stats()
            return link["done"] == line["frames_to_devices"]

        wait_until(idle, timeout, "every frame answered or given up on", 0.01,
                   detail=lambda: repr(self.stats()[:2]))

    def slave_event(self, timeout=5):
        try:
            ev = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no report from the slave; its output:\n"
                                 + "\n".join(self.output[-30:])) from None
        return ev

    async def _down(self):
        if self.proc is not None:
            if self.proc.returncode is None:
                self.proc.kill()  # the slave loops forever
            await self.proc.wait()
            self._pump_task.cancel()
        if self.line is not None:
            await self.line.stop()
        if self.hw is not None:
            await self.hw.stop()

    def stop(self):
        try:
            asyncio.run_coroutine_threadsafe(self._down(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)


@pytest.fixture(scope="module")
def bridge(tmp_path_factory):
    b = Bridge(tmp_path_factory.mktemp("umodbus"))
    first = b.slave_event(10)
    assert first == {"ready": "micropython"}, first
    yield b
    b.stop()


def run_master(bridge, body, bus=None):
    """``await body(master)`` with a fresh RtuMaster on the line; returns (result, master)."""
    async def main():
        port = await open_tcp("127.0.0.1", bridge.port)
        m = RtuMaster(port, dict(BUS, **(bus or {})))
        try:
            return await body(m), m
        finally:
            port.close()

    return asyncio.run(main())


def assert_clean_line(bridge, master):
    """No framing trouble anywhere: every request counted exactly once as ok or exception."""
    assert bridge.proc.returncode is None, "the slave died:\n" + "\n".join(bridge.output[-30:])
    line, link, _, _ = bridge.stats()
    assert line["collisions"] == line["requests_garbled"] == line["requests_unreadable"] == 0
    assert link["stale_bytes"] == 0, link
    c = master.counters(SLAVE)
    assert c["crc_errors"] == c["wrong_frames"] == c["timeouts"] == 0, c
    assert c["requests"] == c["ok"] + c["exceptions"], c


def test_slave_announced_its_uart_and_drives_de(bridge):
    async def body(m):
        return await m.read_registers(SLAVE, 3, 0, 1)

    out, _ = run_master(bridge, body)
    assert out == [1]
    _, _, settings, _pins = bridge.stats()
    # the slave's UART.init() reached the line's device side through the hardware link
    assert settings == LineSettings(19200, 8, "E", 1)
    # umodbus raised its DE pin for the reply and released it (Pin messages on the hardware
    # link: the release may reach the host after the reply did)

    def released():
        pins = bridge.stats()[3]
        return DE_PIN in pins and pins[DE_PIN].level == 0 and len(pins[DE_PIN].changes) >= 2

    wait_until(released, 2, "DE pin %d raised and released" % DE_PIN, 0.01)


def test_reads_fc1_to_fc4(bridge):
    async def body(m):
        return {
            "r1": await m.read_bits(SLAVE, 1, 0, len(COILS)),
            "r1_one": await m.read_bits(SLAVE, 1, 0, 1),
            "r2": await m.read_bits(SLAVE, 2, 0, len(ISTS)),
            "r2_part": await m.read_bits(SLAVE, 2, 3, 3),
            "r3": await m.read_registers(SLAVE, 3, 0, len(HREGS)),
            "r3_mid": await m.read_registers(SLAVE, 3, 3, 3),
            "r4": await m.read_registers(SLAVE, 4, IREG_BASE, len(IREGS)),
        }

    out, master = run_master(bridge, body)
    # registers: conforming, values as set up (u16 big-endian, high values too)
    assert out["r3"] == HREGS
    assert out["r3_mid"] == [0xBEEF, 0x7FFF, 0x8000]
    assert out["r4"] == IREGS
    # bits: FINDING 1, each group of 8 comes back mirrored (MSB-first packing)
    assert out["r1"] == umodbus_bit_order(COILS) != COILS
    assert out["r1"] == [False, False, False, True, True, False, False, True, False, True, True]
    assert out["r1_one"] == [True]  # a single bit cannot be mirrored
    assert out["r2"] == umodbus_bit_order(ISTS) != ISTS
    assert out["r2_part"] == [False, False, True]  # ISTS[3:6] == [True, False, False], mirrored
    assert_clean_line(bridge, master)


WRITE10 = [True, False, False, False, False, False, False, False, False, True]


def test_writes_fc5_fc6_fc15_fc16_read_back(bridge):
    events = bridge.events
    while not events.empty():
        events.get_nowait()
    S = SCRATCH

    async def body(m):
        out = {}
        out["w6"] = await m.write_register(SLAVE, S + 6, 0xCAFE)
        out["w16"] = await m.write_registers(SLAVE, S + 7, [0xFFFF, 0, 42])
        out["r3"] = await m.read_registers(SLAVE, 3, S, 10)
        out["w5_on"] = await m.write_coil(SLAVE, S + 2, True)
        out["w5_off"] = await m.write_coil(SLAVE, S + 3, False)
        out["r1_after_w5"] = await m.read_bits(SLAVE, 1, S, 8)
        out["w15_byte"] = await m.write_coils(SLAVE, S, [True, True, False, True])
        out["r1_after_w15"] = await m.read_bits(SLAVE, 1, S, 4)
        out["w15_two"] = await m.write_coils(SLAVE, S + 4, WRITE10)
        out["r1_after_w15_two"] = await m.read_bits(SLAVE, 1, S, 16)
        return out

    out, master = run_master(bridge, body)
    # replies: conforming echoes
    assert out["w6"] == 0xCAFE and out["w16"] == 3
    assert out["w5_on"] is True and out["w5_off"] is False
    assert out["w15_byte"] == 4 and out["w15_two"] == 10
    # registers read back as written
    assert out["r3"] == [0] * 6 + [0xCAFE, 0xFFFF, 0, 42]
    # what umodbus itself stored, in order (its on_set_cb reports)
    got = [bridge.slave_event() for _ in range(6)]
    assert got[0] == {"set": "HREGS", "address": S + 6, "val": [0xCAFE]}
    assert got[1] == {"set": "HREGS", "address": S + 7, "val": [0xFFFF, 0, 42]}
    assert got[2] == {"set": "COILS", "address": S + 2, "val": [True]}
    assert got[3] == {"set": "COILS", "address": S + 3, "val": [False]}
    # FC15 of up to 8 coils: stored right
    assert got[4] == {"set": "COILS", "address": S, "val": [True, True, False, True]}
    # FINDING 2: FC15 of 9+ coils, bytes swapped: coils 0-7 got the bits sent for coils 8-15
    assert got[5] == {"set": "COILS", "address": S + 4, "val": umodbus_fc15_store(WRITE10)}
    # sent: bytes 01 02 (coils 0 and 9); umodbus: int 0x0102, so coils 1 and 8
    assert got[5]["val"] == [False, True, False, False, False, False, False, False,
                             True, False] != WRITE10
    # read back through FC1: mirrored per group of 8 (FINDING 1)
    coils = [False] * 16
    coils[2] = True
    assert out["r1_after_w5"] == umodbus_bit_order(coils[:8])
    assert out["r1_after_w5"] == [False, False, False, False, False, True, False, False]
    coils[0:4] = [True, True, False, True]
    assert out["r1_after_w15"] == umodbus_bit_order(coils[:4]) == [True, False, True, True]
    coils[4:14] = umodbus_fc15_store(WRITE10)
    assert out["r1_after_w15_two"] == umodbus_bit_order(coils)
    assert_clean_line(bridge, master)


def test_exception_replies(bridge):
    async def body(m):
        out = {}
        for name, call in (
            ("fc1", lambda: m.read_bits(SLAVE, 1, 50, 2)),
            ("fc2", lambda: m.read_bits(SLAVE, 2, 50, 2)),
            ("fc3", lambda: m.read_registers(SLAVE, 3, 50, 2)),
            ("fc4", lambda: m.read_registers(SLAVE, 4, 0, 2)),
            ("fc5", lambda: m.write_coil(SLAVE, 50, True)),
            ("fc6", lambda: m.write_register(SLAVE, 50, 1)),
            ("fc15", lambda: m.write_coils(SLAVE, 50, [True, False])),
            ("fc16", lambda: m.write_registers(SLAVE, 50, [1, 2])),
        ):
            try:
                out[name] = ("value", await call())
            except modbus.ModbusException as e:
                out[name] = ("exception", e.code, str(e))
        # FINDING 3: only the start address is checked
        out["fc3_past_end"] = await m.read_registers(SLAVE, 3, EDGE, 4)
        out["fc16_past_end"] = await m.write_registers(SLAVE, EDGE + 1, [5, 6])
        out["fc3_created"] = await m.read_registers(SLAVE, 3, EDGE, 4)
        out["fc4_past_end"] = await m.read_registers(SLAVE, 4, IREG_BASE + 3, 4)
        out["fc1_past_end"] = await m.read_bits(SLAVE, 1, EDGE, 3)
        return out

    out, master = run_master(bridge, body)
    for name, reg in (("fc1", 50), ("fc2", 50), ("fc3", 50), ("fc4", 0), ("fc5", 50),
                      ("fc6", 50), ("fc15", 50), ("fc16", 50)):
        fc = int(name[2:])
        assert out[name][:2] == ("exception", 2), (name, out[name])
        assert out[name][2].startswith("%d FC%d 0x%04X" % (SLAVE, fc, reg)), out[name]
        assert out[name][2].endswith("exception 2 (illegal data address)"), out[name]
    c = master.counters(SLAVE)
    assert c["exceptions"] == 8
    # a conforming slave answers exception 2 to each of these; umodbus answers normally
    assert out["fc3_past_end"] == [7, 8, 0, 0]
    assert out["fc16_past_end"] == 2
    assert out["fc3_created"] == [7, 5, 6, 0]  # register 102 did not exist before the write
    assert out["fc4_past_end"] == [65535, 0x1234, 0, 0]
    assert out["fc1_past_end"] == umodbus_bit_order([True, False, False]) == [False, False, True]
    assert_clean_line(bridge, master)


def test_absent_address_times_out_cleanly(bridge):
    async def body(m):
        err = None
        t0 = time.monotonic()
        try:
            await m.read_registers(ABSENT, 3, 0, 1)
        except modbus.NoResponse as e:
            err = str(e)
        elapsed = time.monotonic() - t0
        return err, elapsed, dict(m.counters(ABSENT))

    (err, elapsed, c), _ = run_master(bridge, body, {"timeout_ms": 100, "retries": 1})
    assert err == "%d FC3 0x0000 x1: no response (2 attempts, 100 ms each)" % ABSENT
    assert c == {"requests": 2, "ok": 0, "timeouts": 2, "crc_errors": 0, "exceptions": 0,
                 "wrong_frames": 0}
    assert elapsed >= 0.2  # both attempts waited their timeout (how long beyond: bench bus_dead)
    bridge.wait_idle()

    # the frames for another address did not upset the slave: it still answers its own
    async def again(m):
        return await m.read_registers(SLAVE, 4, IREG_BASE, 2)

    out, master = run_master(bridge, again)
    assert out == IREGS[:2]
    assert_clean_line(bridge, master)
    _, link, _, _ = bridge.stats()
    assert link["no_answer"] >= 2


def test_broadcast_write_is_not_executed(bridge):
    """A write to address 0 (broadcast) gets no reply; a conforming slave executes it.

    Our master has no broadcast API (addresses 1..247): the FC6 frame is built here.
    """
    frame = modbus.with_crc(struct.pack(">BBHH", 0, 6, SCRATCH + 9, 0x0B0B))

    async def body(m):
        try:
            await m.request(frame, retries=0, timeout_ms=100)
        except modbus.NoResponse:
            pass
        bridge.wait_idle()  # blocks this loop a moment: nothing else runs on it meanwhile
        return await m.read_registers(SLAVE, 3, SCRATCH + 8, 2)

    out, master = run_master(bridge, body)
    # FINDING 4: umodbus drops broadcasts (address not in its list): the write did not happen
    assert out[1] != 0x0B0B
    assert master.counters(0)["timeouts"] == 1
    assert_clean_line(bridge, master)
