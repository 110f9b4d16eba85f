"""Bus backends: what sits on the far side of the emulated RS485 line (see line.Line).

Two kinds:

* frame backends (``streaming = False``): the line delimits each request frame by 3.5 character
  times of silence, calls ``await backend.transact(frame)`` and puts the returned ``Reply`` on
  the wire with real byte timing (turnaround, one character time per byte, collisions).
  ``PymodbusBackend`` is one: the scenario's emulated devices answered by a real pymodbus
  server (RTU framer over a loopback TCP socket), with fault injection.

* stream backends (``streaming = True``): an outside line. Bytes from the gateway's UART are
  passed on as they arrive and bytes from the outside are handed back as they arrive; the
  timing then belongs to the outside line (ser2net, a USB-RS485 adapter and the real devices
  behind it): the emulated line adds no turnaround and no pacing of its own.
  ``TcpBackend`` (raw RTU over TCP: ser2net raw mode, pymodbus' RTU framer over TCP) and
  ``SerialBackend`` (a real adapter through pyserial).

``backend_from_url(url)`` builds a stream backend from ``dingate emulate --bus URL``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import random
import threading
from typing import Callable, NamedTuple

from pymodbus import FramerType
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.server import ModbusTcpServer

log = logging.getLogger("dingate.emulator.bus")


# --------------------------------------------------------------------------- RTU helpers


def crc16(data: bytes) -> int:
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF), sent low byte first: pymodbus's, not
    the firmware's (gateway/core/modbus.py), so the line checks the gateway's frames
    independently (docs/decisions/0005)."""
    c = FramerRTU.compute_CRC(bytes(data))  # pymodbus gives it with the bytes in wire order
    return ((c & 0xFF) << 8) | (c >> 8)


def with_crc(body: bytes) -> bytes:
    return bytes(body) + crc16(body).to_bytes(2, "little")


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


class Reply(NamedTuple):
    """A device's answer to one request.

    data          the response frame (address, PDU, CRC), possibly corrupted on purpose
    turnaround_s  device delay from the end of the request frame (after the 3.5-char silence
                  that ends it) to the first start bit of the answer
    noise         a burst of random bytes the line puts on the wire before the answer
    """

    data: bytes
    turnaround_s: float = 0.003
    noise: bytes = b""


# --------------------------------------------------------------------------- pymodbus backend


class PymodbusBackend:
    """The emulated devices, answered by a real pymodbus server.

    One ``ModbusTcpServer(framer=FramerType.RTU)`` on 127.0.0.1 holds one SimDevice per
    emulated device; each request frame the line hands over is written to it as raw RTU bytes
    and the RTU response is read back. Before that, the backend does what the wire does:
    frames with a bad CRC, for an unknown address, or for a silent/flapping-off device get no
    answer at all (pymodbus would answer unknown ids with an exception). Broadcasts (address
    0) are executed by pymodbus on every device and never answered. A request whose function
    code pymodbus does not know gets exception 01 (illegal function), as from a real meter.
    Fault injection (scenario keys): ``slow`` adds turnaround ms, ``silent``, ``flap``,
    ``crc_error_rate`` (fraction of answers with a broken CRC), ``noise_rate`` (fraction of
    requests followed by a random burst on the line before the answer).
    """

    streaming = False

    def __init__(self, devices, *, seed: int = 1, response_timeout: float = 1.0, clock=None,
                 line: dict | None = None):
        """devices: Device objects (devices/) or validated scenario device dicts, which are
        built here on one SimClock (``clock``, default real time). Prefer
        ``PymodbusBackend.from_scenario(scenario)``: it also applies time_scale, start_time,
        seed and the line settings of the scenario."""
        from .devices import SimClock, make_device
        devices = list(devices)
        if any(isinstance(d, dict) for d in devices):
            clock = clock or SimClock()
            devices = [make_device(d, clock, seed, line) if isinstance(d, dict) else d
                       for d in devices]
        self.devices = devices
        self._by_addr = {}
        for d in self.devices:
            if d.address in self._by_addr:
                raise ValueError(f"two devices at address {d.address}")
            if not 1 <= d.address <= 247:
                raise ValueError(f"device address {d.address} outside 1..247")
            self._by_addr[d.address] = d
        self.rng = random.Random(seed)
        self.response_timeout = response_timeout
        self._server: ModbusTcpServer | None = None
        self._port = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock: asyncio.Lock | None = None
        self._req_decoder = DecodePDU(True)
        self._resp_decoder = DecodePDU(False)
        self.counters = {"requests": 0, "answered": 0, "no_answer": 0, "bad_crc_in": 0,
                         "unknown_address": 0, "broadcast": 0, "crc_corrupted": 0,
                         "noise_bursts": 0, "timeouts": 0}

    @classmethod
    def from_scenario(cls, scenario, clock=None) -> "PymodbusBackend":
        from .devices import devices_from_scenario
        return cls(devices_from_scenario(scenario, clock), seed=scenario.seed)

    # --- lifecycle
    async def start(self) -> None:
        """Start the pymodbus server (idempotent: Line.start calls it too)."""
        if self._lock is not None:
            return
        self._lock = asyncio.Lock()
        if not self.devices:
            return  # an empty bus: nobody answers, nothing to serve
        # pymodbus logs through the "pymodbus" logger; keep its per-frame chatter out of ours
        server = ModbusTcpServer([d.simdevice() for d in self.devices], framer=FramerType.RTU,
                                 address=("127.0.0.1", 0), broadcast_enable=True)
        await server.serve_forever(background=True)
        self._server = server
        self._port = server.transport.sockets[0].getsockname()[1]
        await self._connect()

    async def _connect(self):
        if self._writer is not None:
            self._writer.close()
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self._writer = None
        if self._server is not None:
            await self._server.shutdown()
            self._server = None
        self._lock = None

    # --- devices
    def device(self, address: int):
        return self._by_addr.get(address)

    def set_generator_running(self, on: bool) -> None:
        """The emulated genset relay state, fed to every battery/inverter on the bus."""
        for d in self.devices:
            if hasattr(d, "set_generator_running"):
                d.set_generator_running(on)

    def stats(self) -> dict:
        return dict(self.counters,
                    devices={d.address: dict(d.counters) for d in self.devices})

    # --- the transaction
    def _request_size(self, frame: bytes) -> int:
        """Length pymodbus' server framer expects for this request, 0 if unknown FC."""
        try:
            cls = self._req_decoder.lookupPduClass(frame)
            if cls is None:
                return 0
            return cls.calculateRtuFrameSize(frame)
        except Exception:  # noqa: BLE001 - anything odd: treat as unknown
            return 0

    async def transact(self, frame: bytes) -> Reply | None:
        frame = bytes(frame)
        self.counters["requests"] += 1
        if len(frame) < 4 or not crc_ok(frame):
            self.counters["bad_crc_in"] += 1
            return None
        addr = frame[0]
        if addr == 0:
            self.counters["broadcast"] += 1
            if self._writer is not None and self._request_size(frame) == len(frame):
                async with self._lock:
                    self._writer.write(frame)
                    await self._writer.drain()
            return None
        dev = self._by_addr.get(addr)
        if dev is None:
            self.counters["unknown_address"] += 1
            return None
        dev.counters["requests"] += 1
        noise = b""
        if dev.noise_rate and self.rng.random() < dev.noise_rate:
            noise = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(2, 8)))
            dev.counters["noise_bursts"] += 1
            self.counters["noise_bursts"] += 1
        if not dev.answering():
            dev.counters["dropped"] += 1
            self.counters["no_answer"] += 1
            return Reply(b"", dev.turnaround_s, noise) if noise else None
        size = self._request_size(frame)
        if size == 0:
            data = with_crc(bytes((addr, frame[1] | 0x80, 0x01)))  # illegal function
        elif size != len(frame):
            # a CRC-valid frame of the wrong length: a meter ignores it
            self.counters["no_answer"] += 1
            return Reply(b"", dev.turnaround_s, noise) if noise else None
        else:
            data = await self._ask_pymodbus(frame)
            if data is None:
                self.counters["no_answer"] += 1
                return Reply(b"", dev.turnaround_s, noise) if noise else None
        if dev.crc_error_rate and dev.fault_rng.random() < dev.crc_error_rate:
            data = data[:-2] + bytes((data[-2] ^ 0xFF, data[-1] ^ 0x5A))
            dev.counters["crc_corrupted"] += 1
            self.counters["crc_corrupted"] += 1
        dev.counters["answered"] += 1
        self.counters["answered"] += 1
        return Reply(data, dev.turnaround_s, noise)

    async def _ask_pymodbus(self, frame: bytes) -> bytes | None:
        async with self._lock:
            try:
                self._writer.write(frame)
                await self._writer.drain()
                return await asyncio.wait_for(self._read_response(), self.response_timeout)
            except (asyncio.TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError):
                # pymodbus kept something in its buffer or dropped us: start afresh
                self.counters["timeouts"] += 1
                log.warning("pymodbus gave no answer to %s; reconnecting", frame.hex())
                try:
                    await self._connect()
                except OSError:
                    log.exception("cannot reconnect to the pymodbus server")
                return None

    async def _read_response(self) -> bytes:
        buf = await self._reader.readexactly(3)
        cls = self._resp_decoder.lookupPduClass(buf)
        if cls is None:
            raise asyncio.TimeoutError  # unknown response: resync
        while True:
            size = cls.calculateRtuFrameSize(buf)
            if size and len(buf) >= size:
                return buf[:size]
            need = (size - len(buf)) if size else 1
            buf += await self._reader.readexactly(need)


# --------------------------------------------------------------------------- stream backends


class TcpBackend:
    """An outside RS485 line reached as raw RTU bytes over TCP (ser2net raw mode, pymodbus'
    RTU framer over TCP, a Modbus RTU-over-TCP gateway).

    Bytes are passed through both ways as they come: the outside line does the timing, this
    end adds no turnaround or pacing (only the TCP hop). The line settings of the outside line
    are the peer's business (ser2net's config), so ``configure`` only records them. If the
    peer drops the connection, bytes written meanwhile are dropped (counted) and the backend
    reconnects in the background.
    """

    streaming = True

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0):
        self.host = host
        self.port = int(port)
        self.connect_timeout = connect_timeout
        self.settings = None
        self._on_data: Callable[[bytes], None] | None = None
        self._transport: asyncio.Transport | None = None
        self._closing = False
        self._reconnect_task: asyncio.Task | None = None
        self.counters = {"bytes_out": 0, "bytes_in": 0, "dropped_out": 0, "reconnects": 0}

    def __repr__(self):
        return f"TcpBackend(tcp://{self.host}:{self.port})"

    async def start(self, on_data: Callable[[bytes], None] | None = None) -> None:
        """Connect (idempotent: a second call only sets the data callback)."""
        if on_data is not None:
            self._on_data = on_data
        if self._transport is not None:
            return
        self._closing = False
        await self._connect()

    async def _connect(self):
        loop = asyncio.get_running_loop()
        backend = self

        class _Proto(asyncio.Protocol):
            def connection_made(self, transport):
                backend._transport = transport

            def data_received(self, data):
                backend.counters["bytes_in"] += len(data)
                if backend._on_data:
                    backend._on_data(data)

            def connection_lost(self, exc):
                backend._transport = None
                if not backend._closing:
                    backend._schedule_reconnect()

        await asyncio.wait_for(loop.create_connection(_Proto, self.host, self.port),
                               self.connect_timeout)

    def _schedule_reconnect(self):
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self):
        delay = 0.2
        while not self._closing and self._transport is None:
            await asyncio.sleep(delay)
            try:
                await self._connect()
                self.counters["reconnects"] += 1
            except (OSError, asyncio.TimeoutError):
                delay = min(delay * 2, 5.0)

    def write(self, data: bytes) -> None:
        if self._transport is None:
            self.counters["dropped_out"] += len(data)
            return
        self.counters["bytes_out"] += len(data)
        self._transport.write(bytes(data))

    def configure(self, settings) -> None:
        self.settings = settings

    async def stop(self) -> None:
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def stats(self) -> dict:
        return dict(self.counters, connected=self._transport is not None)


class SerialBackend:
    """A real USB-RS485 adapter through pyserial.

    The blocking I/O runs in threads: one reader thread (short read timeouts, so stop() is
    prompt) and one single-worker executor for writes and settings changes (keeps their
    order). ``configure`` applies the gateway UART's settings (baud, bits, parity, stop) to the
    adapter. Transceiver direction is the adapter's job (auto-direction adapters).
    """

    streaming = True

    def __init__(self, path: str, *, baud: int = 9600, bits: int = 8, parity: str = "N",
                 stop: int = 1):
        self.path = path
        self.settings = (baud, bits, parity, stop)
        self._serial = None
        self._on_data: Callable[[bytes], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._exec: concurrent.futures.ThreadPoolExecutor | None = None
        self.counters = {"bytes_out": 0, "bytes_in": 0, "errors": 0}

    def __repr__(self):
        return f"SerialBackend({self.path!r})"

    @staticmethod
    def _apply(ser, settings):
        import serial
        baud, bits, parity, stop = settings
        ser.baudrate = int(baud)
        ser.bytesize = {7: serial.SEVENBITS, 8: serial.EIGHTBITS}[int(bits)]
        ser.parity = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN,
                      "O": serial.PARITY_ODD}[str(parity).upper()[0]]
        ser.stopbits = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}[int(stop)]

    def _open(self):
        import serial
        ser = serial.serial_for_url(self.path, do_not_open=True, timeout=0.05,
                                    write_timeout=2.0)
        self._apply(ser, self.settings)
        ser.open()
        return ser

    async def start(self, on_data: Callable[[bytes], None] | None = None) -> None:
        """Open the port (idempotent: a second call only sets the data callback)."""
        if on_data is not None:
            self._on_data = on_data
        if self._serial is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._exec = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rs485-tx")
        self._serial = await self._loop.run_in_executor(self._exec, self._open)
        self._reader = threading.Thread(target=self._read_loop, name="rs485-rx", daemon=True)
        self._reader.start()

    def _read_loop(self):
        ser = self._serial
        while not self._stop.is_set():
            try:
                data = ser.read(max(1, ser.in_waiting))
            except Exception as exc:  # noqa: BLE001 - adapter unplugged etc.
                if self._stop.is_set():
                    break
                self.counters["errors"] += 1
                log.warning("serial read on %s failed: %s", self.path, exc)
                self._stop.wait(0.5)
                continue
            if data and self._on_data is not None:
                self.counters["bytes_in"] += len(data)
                try:
                    self._loop.call_soon_threadsafe(self._on_data, data)
                except RuntimeError:  # loop closed
                    break

    def _write(self, data):
        try:
            self._serial.write(data)
            self._serial.flush()
        except Exception as exc:  # noqa: BLE001
            self.counters["errors"] += 1
            log.warning("serial write on %s failed: %s", self.path, exc)

    def write(self, data: bytes) -> None:
        if self._serial is None or self._exec is None:
            return
        self.counters["bytes_out"] += len(data)
        self._exec.submit(self._write, bytes(data))

    def configure(self, settings) -> None:
        """settings: line.LineSettings or a (baud, bits, parity, stop) tuple."""
        self.settings = (settings[0], settings[1], settings[2], settings[3])
        if self._serial is not None and self._exec is not None:
            self._exec.submit(self._apply, self._serial, self.settings)

    async def stop(self) -> None:
        self._stop.set()
        if self._reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._reader.join, 2.0)
            self._reader = None
        if self._exec is not None:
            self._exec.shutdown(wait=True)
            self._exec = None
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def stats(self) -> dict:
        return dict(self.counters, open=self._serial is not None)


def backend_from_url(url: str):
    """``tcp://HOST:PORT`` -> TcpBackend; a serial device path (``/dev/ttyUSB0``, ``COM3``) or a
    pyserial URL (``rfc2217://``, ``socket://``) -> SerialBackend."""
    if url.startswith("tcp://"):
        rest = url[len("tcp://"):].rstrip("/")
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"--bus {url!r}: expected tcp://HOST:PORT")
        host = host.strip("[]")
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError(f"--bus {url!r}: port out of range")
        return TcpBackend(host, port)
    if url.startswith(("rfc2217://", "socket://", "loop://", "spy://")):
        return SerialBackend(url)
    if url.startswith("/dev/") or url.upper().startswith("COM") or os.path.exists(url):
        return SerialBackend(url)
    raise ValueError(f"--bus {url!r}: expected tcp://HOST:PORT or a serial device path "
                     "such as /dev/ttyUSB0")
