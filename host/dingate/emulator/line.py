"""The emulated RS485 line, with real byte timing.

The gateway's UART (a fake ``machine.UART`` inside the MicroPython unix port) connects to
``Line``'s TCP server on 127.0.0.1 and exchanges raw bytes only: no framing, no control
messages. The UART's settings arrive out of band through ``Line.configure(...)``.

Timing model (monotonic clock, ``loop.time()``):

* character time ``c = (1 start + bits + (1 if parity) + stop) / baud``.
* Bytes written by the master occupy the wire back to back from the moment they are received;
  if the master's earlier bytes are still going out, the new ones queue behind them.
* A request frame ends after 3.5 character times of silence (1.75 ms above 19200 baud). Only
  then is it handed to the backend (``await backend.transact(frame)``).
* The answer's first start bit goes on the wire ``t3.5 + turnaround`` after the request's last
  stop bit (``Reply.turnaround_s``, per device; later if the backend was slower than that, which
  is counted in ``late_responses``) and is delivered to the master paced at one character time
  per byte: each byte is written to the socket when its stop bit has been sent.
* If the master's settings differ from the devices' side (scenario ``line``: baud, parity,
  stop, bits), the devices only see garbage: no answer (``requests_unreadable``).
* If the master transmits while a device's answer is on the wire, both are garbled: the
  overlapping answer bytes are delivered corrupted and the request is ignored by the devices
  (``collisions`` counts each such overlap).

With a stream backend (``backend.streaming``: an outside line, ``--bus``) bytes pass through
as they arrive both ways and the outside line does the timing; frames and bytes are still
counted.

Only one gateway is expected on the socket; if several connect, the devices' answers go to all
of them and all of them can transmit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
from typing import NamedTuple

log = logging.getLogger("dingate.emulator.line")

_PARITIES = ("N", "E", "O")


class LineSettings(NamedTuple):
    """UART framing of one side of the line."""

    baud: int = 9600
    bits: int = 8
    parity: str = "N"
    stop: int = 1

    @property
    def char_time(self) -> float:
        """Seconds one character occupies on the wire."""
        return (1 + self.bits + (0 if self.parity == "N" else 1) + self.stop) / self.baud

    @property
    def t35(self) -> float:
        """Inter-frame silence: 3.5 character times, fixed 1.75 ms above 19200 baud."""
        return 3.5 * self.char_time if self.baud <= 19200 else 0.00175

    @classmethod
    def make(cls, baud=9600, bits=8, parity="N", stop=1) -> "LineSettings":
        parity = str(parity).upper()[:1]
        if parity not in _PARITIES:
            raise ValueError(f"parity must be N, E or O, got {parity!r}")
        if int(stop) not in (1, 2):
            raise ValueError(f"stop bits must be 1 or 2, got {stop!r}")
        if int(bits) not in (5, 6, 7, 8):
            raise ValueError(f"data bits must be 5..8, got {bits!r}")
        if not 50 <= int(baud) <= 10_000_000:
            raise ValueError(f"baud out of range: {baud!r}")
        return cls(int(baud), int(bits), parity, int(stop))

    @classmethod
    def from_any(cls, obj) -> "LineSettings | None":
        """None, a LineSettings, a (baud, bits, parity, stop) tuple or a scenario "line" dict."""
        if obj is None or isinstance(obj, LineSettings):
            return obj
        if isinstance(obj, dict):
            return cls.make(obj.get("baud", 9600), obj.get("bits", 8), obj.get("parity", "N"),
                            obj.get("stop", 1))
        return cls.make(*obj)

    def matches(self, other: "LineSettings") -> bool:
        """Can a UART set like ``other`` read what one set like this sends? (baud within 2 %)"""
        return (abs(self.baud - other.baud) <= 0.02 * self.baud and self.bits == other.bits
                and self.parity == other.parity and self.stop == other.stop)


class _Tx:
    """One device transmission scheduled on the wire."""

    __slots__ = ("start", "c", "data", "sent", "kind", "handle")

    def __init__(self, start, c, data, kind):
        self.start = start
        self.c = c
        self.data = bytearray(data)
        self.sent = 0
        self.kind = kind          # "reply" | "noise"
        self.handle = None

    @property
    def end(self):
        return self.start + len(self.data) * self.c


class _MasterConn(asyncio.Protocol):
    def __init__(self, line: "Line"):
        self.line = line
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.line._conns.add(self)
        self.line._counters["connections"] += 1

    def data_received(self, data):
        self.line._on_master_data(data)

    def connection_lost(self, exc):
        self.line._conns.discard(self)


class Line:
    """The emulated RS485 line between the gateway's UART and a bus backend.

    Line(backend, line_settings=None)
        backend        a frame backend (bus.PymodbusBackend) or a stream backend
                       (bus.TcpBackend, bus.SerialBackend)
        line_settings  the devices' side: None (they follow the master), a LineSettings, a
                       (baud, bits, parity, stop) tuple or a scenario "line" dict
    """

    def __init__(self, backend, line_settings=None, *, seed: int = 1):
        self.backend = backend
        self.device_settings: LineSettings | None = LineSettings.from_any(line_settings)
        self.master = LineSettings()          # 9600 8N1 until configure() says otherwise
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[_MasterConn] = set()
        self._streaming = bool(getattr(backend, "streaming", False))
        self.port: int | None = None
        # master side
        self._tx_end = 0.0                    # wire time the master's queued bytes end
        self._master_spans: list[tuple[float, float]] = []
        self._req = bytearray()
        self._req_garbled = False
        self._req_overflow = False
        self._silence: asyncio.TimerHandle | None = None
        # device side
        self._dev_txs: list[_Tx] = []
        self._dev_wire_end = 0.0
        self._tasks: set[asyncio.Task] = set()
        self._handling: asyncio.Lock | None = None
        # stream mode: frame counting of incoming bytes
        self._in_silence: asyncio.TimerHandle | None = None
        # accounting
        self._busy_s = 0.0
        self._busy_until = 0.0
        self._counters = {
            "frames_to_devices": 0, "frames_to_master": 0,
            "bytes_to_devices": 0, "bytes_to_master": 0,
            "collisions": 0, "requests_garbled": 0, "requests_unreadable": 0,
            "no_response": 0, "noise_bursts": 0, "late_responses": 0, "max_late_ms": 0.0,
            "connections": 0,
        }

    # ------------------------------------------------------------------ public API

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start the backend and listen for the gateway's UART; returns the TCP port."""
        self._loop = asyncio.get_running_loop()
        self._handling = asyncio.Lock()
        if self._streaming:
            await self.backend.start(self._on_backend_data)
            if hasattr(self.backend, "configure"):
                self.backend.configure(self.master)
        else:
            await self.backend.start()
        try:
            self._server = await self._loop.create_server(lambda: _MasterConn(self), host, port)
        except OSError:
            await self.backend.stop()
            raise
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def configure(self, baud: int, bits: int = 8, parity: str = "N", stop: int = 1) -> None:
        """The gateway UART's settings (called from the hardware-channel handler)."""
        self.master = LineSettings.make(baud, bits, parity, stop)
        if self._streaming and hasattr(self.backend, "configure"):
            self.backend.configure(self.master)

    async def stop(self) -> None:
        """Close the socket, drop pending transmissions, stop the backend."""
        if self._server is not None:
            self._server.close()
        for c in list(self._conns):
            if c.transport is not None:
                c.transport.close()
        self._conns.clear()
        for h in (self._silence, self._in_silence):
            if h is not None:
                h.cancel()
        for tx in self._dev_txs:
            if tx.handle is not None:
                tx.handle.cancel()
        self._dev_txs.clear()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except asyncio.TimeoutError:
                pass
            self._server = None
        await self.backend.stop()

    def stats(self) -> dict:
        """Counters: frames and bytes each way, collisions, wire busy time, diagnostics."""
        s = dict(self._counters)
        s["wire_busy_s"] = round(self._busy_s, 6)
        s["master_settings"] = self.master._asdict()
        s["device_settings"] = self.device_settings._asdict() if self.device_settings else None
        s["connected"] = len(self._conns)
        return s

    @property
    def settings_match(self) -> bool:
        return self.device_settings is None or self.device_settings.matches(self.master)

    # ------------------------------------------------------------------ accounting

    def _busy(self, start: float, end: float) -> None:
        if end > self._busy_until:
            self._busy_s += end - max(start, self._busy_until)
            self._busy_until = end

    # ------------------------------------------------------------------ master -> devices

    def _on_master_data(self, data: bytes) -> None:
        now = self._loop.time()
        c = self.master.char_time
        start = max(now, self._tx_end)
        end = start + len(data) * c
        self._tx_end = end
        self._counters["bytes_to_devices"] += len(data)
        self._busy(start, end)
        if self._streaming:
            self.backend.write(data)
        else:
            # keep the spans of the master's transmissions for collision checks
            self._master_spans = [s for s in self._master_spans if s[1] > now - 1.0]
            self._master_spans.append((start, end))
            for tx in self._dev_txs:
                if tx.start < end and start < tx.end and tx.sent < len(tx.data):
                    self._collide(tx, start, end)
        if len(self._req) < 512:
            self._req += data
        else:
            self._req_overflow = True
        if self._silence is not None:
            self._silence.cancel()
        t35 = self.master.t35
        self._silence = self._loop.call_at(end + t35, self._frame_end)

    def _collide(self, tx: _Tx, start: float, end: float) -> None:
        """The master talks over a device: garble the overlap and the master's request."""
        self._counters["collisions"] += 1
        self._req_garbled = True
        # byte i occupies [tx.start + i*c, tx.start + (i+1)*c)
        first = max(tx.sent, math.floor((start - tx.start) / tx.c))
        last = min(len(tx.data), math.ceil((end - tx.start) / tx.c))
        for i in range(first, last):
            tx.data[i] ^= self._rng.randrange(1, 256)

    def _frame_end(self) -> None:
        """3.5 character times of silence after the master's last byte: a frame is complete."""
        self._silence = None
        frame = bytes(self._req)
        garbled = self._req_garbled or self._req_overflow
        self._req.clear()
        self._req_garbled = self._req_overflow = False
        req_end = self._tx_end
        if not frame:
            return
        self._counters["frames_to_devices"] += 1
        if self._streaming:
            return
        if garbled:
            self._counters["requests_garbled"] += 1
            return
        if not self.settings_match:
            # the devices' UARTs see framing/parity errors: nobody answers
            self._counters["requests_unreadable"] += 1
            return
        task = self._loop.create_task(self._handle(frame, req_end))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, frame: bytes, req_end: float) -> None:
        try:
            async with self._handling:
                reply = await self.backend.transact(frame)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a backend bug must not kill the line
            log.exception("bus backend failed on request %s", frame.hex())
            reply = None
        if reply is None or (not reply.data and not reply.noise):
            self._counters["no_response"] += 1
            return
        now = self._loop.time()
        dev = self.device_settings or self.master
        c = dev.char_time
        t35 = dev.t35
        due = req_end + t35 + reply.turnaround_s
        if reply.noise:
            self._counters["noise_bursts"] += 1
            # a burst in the turnaround gap, right after the request's end-of-frame silence
            nstart = max(req_end + t35 / 2, now, self._dev_wire_end)
            self._schedule(nstart, c, reply.noise, "noise")
        if not reply.data:
            self._counters["no_response"] += 1
            return
        start = max(due, now, self._dev_wire_end)
        if now > due + 0.001:
            self._counters["late_responses"] += 1
            late = (now - due) * 1000.0
            if late > self._counters["max_late_ms"]:
                self._counters["max_late_ms"] = round(late, 3)
        self._schedule(start, c, reply.data, "reply")

    # ------------------------------------------------------------------ devices -> master

    def _schedule(self, start: float, c: float, data: bytes, kind: str) -> None:
        tx = _Tx(start, c, data, kind)
        self._dev_wire_end = tx.end
        self._busy(tx.start, tx.end)
        # the master may already be transmitting over this slot
        for s, e in self._master_spans:
            if s < tx.end and tx.start < e:
                self._collide(tx, s, e)
        self._dev_txs.append(tx)
        tx.handle = self._loop.call_at(tx.start + c, self._pump, tx)

    def _pump(self, tx: _Tx) -> None:
        """Deliver every byte of tx whose stop bit has left the wire by now."""
        tx.handle = None
        now = self._loop.time()
        n = len(tx.data)
        due = min(n, int((now - tx.start) / tx.c + 1e-9))
        if due > tx.sent:
            chunk = bytes(tx.data[tx.sent:due])
            tx.sent = due
            self._deliver(chunk)
        if tx.sent < n:
            tx.handle = self._loop.call_at(tx.start + (tx.sent + 1) * tx.c, self._pump, tx)
            return
        self._dev_txs.remove(tx)
        if tx.kind == "reply":
            self._counters["frames_to_master"] += 1

    def _deliver(self, data: bytes) -> None:
        self._counters["bytes_to_master"] += len(data)
        for conn in list(self._conns):
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.write(data)

    # ------------------------------------------------------------------ stream backends

    def _on_backend_data(self, data: bytes) -> None:
        now = self._loop.time()
        if self._req:
            # an answer means the request before it has ended, whatever our timer says
            # (the outside line answers without our wire-time emulation in between)
            if self._silence is not None:
                self._silence.cancel()
            self._frame_end()
        c = self.master.char_time
        self._busy(now - len(data) * c, now)   # the bytes just left the outside wire
        self._deliver(data)
        if self._in_silence is not None:
            self._in_silence.cancel()
        else:
            self._counters["frames_to_master"] += 1
        self._in_silence = self._loop.call_at(now + self.master.t35, self._in_frame_end)

    def _in_frame_end(self) -> None:
        self._in_silence = None
