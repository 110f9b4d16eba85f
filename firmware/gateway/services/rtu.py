"""Modbus RTU master over an asyncio "port" (MicroPython asyncio and CPython asyncio).

The port interface (duck-typed, all methods non-blocking except ``read_some``):

    port.write(buf)            queue the whole frame for transmission and return at once
    port.txdone() -> bool      True once the last bit of everything written has left the line
    port.set_de(on)            drive the RS485 transceiver's DE/RE pin (no-op for auto-direction)
    port.drain_rx()            discard every byte already received
    await port.read_some(n)    wait for input; return 1..n bytes, or b"" if the port is closed
    port.configure(baud, parity, stop)   optional: apply new line settings

The board's port is ``gateway.drivers.uart_port.UartPort`` (a MicroPython ``machine.UART`` +
optional DE ``Pin``); tests use ``dingate.testing.rtu_stream.StreamPort`` (raw RTU frames over an
asyncio stream pair, e.g. TCP as ser2net or pymodbus' RTU framer over TCP speak).

Line timing, from the character time (start + 8 data + parity + stop bits at ``baud``):
- at least 3.5 character times of silence (1.75 ms fixed above 19200 baud) before each request,
  counted from the last byte sent or received; pending input is drained first;
- DE is raised before ``write`` and released only after the last bit: asyncio sleeps for the wire
  time of the frame minus 2 ms, then ``txdone()`` is polled (a blocking spin of at most ~3 ms,
  then 1 ms asyncio polls), then one more character time (blocking only up to 2 ms);
- the reply is read by its predicted length (``modbus.needed_length``): the first byte must come
  within ``timeout_ms``, each later chunk within ``inter_frame_ms`` (a longer gap ends the frame);
- a bad frame (CRC, wrong address/function, truncated, malformed) is dropped and counted, the line
  is left to fall silent, and the request is retried (``retries`` extra attempts); an exception
  reply is final. Every attempt ends in exactly one counter: ok, timeouts, crc_errors,
  exceptions or wrong_frames, so ``requests`` is their sum (unless the port itself fails:
  ``OSError``).

Counters are kept per device address as a ``tally()`` (six 32-bit integers in COUNTERS' order:
74 B of 64-bit heap where a dict of six took 138, unix port); a request may count into another
tally (a bus scan's, so its identification reads do not show as a meter's exceptions).
"""
import asyncio
from array import array

from gateway.core import modbus
from gateway.core.modbus import BUS_DEFAULTS, char_us, silence_us  # noqa: F401  (line timing)
from gateway.core.ticks import sleep_ms, ticks_diff, ticks_us

COUNTERS = ("requests", "ok", "timeouts", "crc_errors", "exceptions", "wrong_frames")
REQUESTS, OK, TIMEOUTS, CRC_ERRORS, EXCEPTIONS, WRONG_FRAMES = range(6)  # a tally's indexes


def tally():
    """A new set of counters at zero (COUNTERS' order)."""
    return array("I", bytes(4 * len(COUNTERS)))


def as_dict(t):
    """A tally as ``{name: count}`` (a copy, for reports)."""
    return dict(zip(COUNTERS, t))


def _wait_for_ms(aw, ms):
    if hasattr(asyncio, "wait_for_ms"):
        return asyncio.wait_for_ms(aw, ms)
    return asyncio.wait_for(aw, ms / 1000)


def _delay_us(us):
    """Short blocking delay (used for at most a character time)."""
    t0 = ticks_us()
    while ticks_diff(ticks_us(), t0) < us:
        pass


class RtuMaster:
    """Serialises Modbus RTU transactions on one bus (an ``asyncio.Lock`` guards each one)."""

    def __init__(self, port, bus=None, inter_frame_ms=None):
        self.port = port
        self.lock = asyncio.Lock()
        self._counters = {}
        self._buf = bytearray(256)  # largest RTU frame
        self._idle = ticks_us()  # end of the last bus activity
        self._fixed_gap = inter_frame_ms
        self.configure(bus or {})

    def configure(self, bus):
        """Apply bus settings (keys of ``modbus.BUS_DEFAULTS``; missing keys take defaults)."""
        b = dict(BUS_DEFAULTS)
        b.update(bus)
        self.configured = getattr(self, "configured", 0) + 1
        self.baud, self.parity, self.stop = b["baud"], b["parity"], b["stop"]
        self.timeout_ms = b["timeout_ms"]
        self.retries = b["retries"]
        self.char_us = char_us(self.baud, self.parity, self.stop)
        self.silence_us = silence_us(self.baud, self.parity, self.stop)
        # A UART hands over received bytes in chunks (FIFO threshold ~120 chars on the ESP32),
        # so a gap within one frame can last that long; the gap only delays spotting a short frame.
        gap = self._fixed_gap
        if gap is None:
            gap = (130 * self.char_us + 999) // 1000 + 5
        self.inter_frame_ms = gap
        if hasattr(self.port, "configure"):
            self.port.configure(self.baud, self.parity, self.stop)

    def tally(self, address):
        """The live tally of one device address (created at zero; read only outside)."""
        c = self._counters.get(address)
        if c is None:
            c = self._counters[address] = tally()
        return c

    def counters(self, address):
        """One device address's counters as ``{name: count}`` (a copy)."""
        return as_dict(self.tally(address))

    def forget(self, keep):
        """Drop the counters of every address not in ``keep``."""
        for a in list(self._counters):
            if a not in keep:
                del self._counters[a]

    async def request(self, req, retries=None, timeout_ms=None, pause_ms=0, tally=None):
        """Send request frame ``req`` and return ``modbus.parse_response``'s value.

        ``retries``/``timeout_ms`` None: the bus's; ``pause_ms``: extra silence before each
        attempt (a device that needs a longer turnaround than 3.5 characters); ``tally``: count
        the attempts there instead of in the device address's counters.

        Raises ``modbus.ModbusException`` at once, or after the last attempt the last
        ``modbus.FrameError`` / ``modbus.NoResponse``; ``OSError`` if the port fails.
        """
        c = self.tally(req[0]) if tally is None else tally
        attempts = 1 + max(0, self.retries if retries is None else retries)
        timeout_ms = timeout_ms or self.timeout_ms
        err = None
        async with self.lock:
            for _ in range(attempts):
                try:
                    result = await self._attempt(req, timeout_ms, c, pause_ms)
                except modbus.ModbusException:
                    c[EXCEPTIONS] += 1
                    raise
                except modbus.NoResponse as e:
                    c[TIMEOUTS] += 1
                    err = e
                except modbus.FrameError as e:
                    c[CRC_ERRORS if isinstance(e, modbus.CrcError) else WRONG_FRAMES] += 1
                    err = e
                    await self._settle(timeout_ms)
                else:
                    c[OK] += 1
                    return result
        if isinstance(err, modbus.NoResponse) and attempts > 1:
            err = modbus.NoResponse(
                "%s: no response (%d attempts, %d ms each)"
                % (modbus.describe(req), attempts, timeout_ms)
            )
        raise err

    async def probe_line(self, line, address, timeout_ms, tally):
        """One read of register 0 of ``address`` with other line settings ``line`` ({"baud",
        "parity", "stop"}), then back to the bus's (a line-settings probe: nothing else is sent
        meanwhile), its attempt counted in ``tally``. True if a well-formed answer (data or an
        exception) came back."""
        req = modbus.read_request(address, 3, 0, 1)
        async with self.lock:
            saved = {"baud": self.baud, "parity": self.parity, "stop": self.stop,
                     "timeout_ms": self.timeout_ms, "retries": self.retries}
            self.configure(dict(saved, **line))
            mine = self.configured
            try:
                await self._attempt(req, timeout_ms, tally)
                return True
            except modbus.ModbusException:
                return True
            except modbus.ModbusError:  # silence, or not a frame at these settings
                return False
            finally:
                if self.configured == mine:  # not set anew meanwhile (PUT /api/bus)
                    self.configure(saved)

    async def read_registers(self, address, function, register, count, retries=None,
                             timeout_ms=None, pause_ms=0, tally=None):
        """FC3/FC4 read: a list of ``count`` 16-bit ints."""
        req = modbus.read_request(address, function, register, count)
        return await self.request(req, retries, timeout_ms, pause_ms, tally)

    async def read_bits(self, address, function, register, count, retries=None):
        """FC1/FC2 read: a list of ``count`` bools."""
        req = modbus.read_request(address, function, register, count)
        return await self.request(req, retries)

    async def write_register(self, address, register, value):
        return await self.request(modbus.write_register_request(address, register, value))

    async def write_registers(self, address, register, values):
        return await self.request(modbus.write_registers_request(address, register, values))

    async def write_coil(self, address, register, on):
        return await self.request(modbus.write_coil_request(address, register, on))

    async def write_coils(self, address, register, bits):
        return await self.request(modbus.write_coils_request(address, register, bits))

    # ---- one attempt ----

    async def _attempt(self, req, timeout_ms, c, pause_ms=0):
        port = self.port
        silence = self.silence_us + 1000 * pause_ms
        wait = silence - ticks_diff(ticks_us(), self._idle)
        if wait > 0:
            await sleep_ms((wait + 999) // 1000)
            # asyncio's millisecond ticks can wake the task up to 1 ms early: finish exactly
            wait = silence - ticks_diff(ticks_us(), self._idle)
            if wait > 0:
                _delay_us(wait)
        port.drain_rx()
        port.set_de(True)
        try:
            t0 = ticks_us()
            port.write(req)
            c[REQUESTS] += 1
            await self._wait_sent(t0, len(req) * self.char_us)
        finally:
            port.set_de(False)
            self._idle = ticks_us()
        return modbus.parse_response(req, await self._receive(req, timeout_ms))

    async def _wait_sent(self, t0, wire_us):
        """Return once the frame written at ``t0`` has left the line, plus a character time.

        Blocks the loop for at most ~3 ms of ``txdone()`` polling and a character time of at
        most 2 ms (slower lines wait that character with an asyncio sleep: the device itself
        waits 3.5 characters before it answers).
        """
        port = self.port
        ahead = wire_us - 2000  # asyncio sleeps never end early: wake ~2 ms before the end
        if ahead >= 1000:
            await sleep_ms(ahead // 1000)
        while not port.txdone():
            late = ticks_diff(ticks_us(), t0) - wire_us
            if late > 3000:
                # Not done when it should be (a busy loop or a stalled UART): poll gently.
                if late > wire_us + 200000:
                    raise OSError("RS485 transmit did not complete")
                await sleep_ms(1)
        if self.char_us <= 2000:
            _delay_us(self.char_us)
        else:
            await sleep_ms((self.char_us + 999) // 1000)

    async def _receive(self, req, timeout_ms):
        port = self.port
        buf = self._buf
        need = modbus.expected_length(req)
        got = 0
        wait = timeout_ms
        while got < need:
            try:
                chunk = await _wait_for_ms(port.read_some(need - got), wait)
            except asyncio.TimeoutError:
                break
            if not chunk:
                raise OSError("RS485 port closed")
            n = len(chunk)
            if n > need - got:
                n = need - got
                chunk = chunk[:n]
            buf[got : got + n] = chunk
            got += n
            self._idle = ticks_us()
            if got >= 2:
                need = min(need, modbus.needed_length(req, buf[0], buf[1]))
            wait = self.inter_frame_ms
        if not got:
            raise modbus.NoResponse(
                "%s: no response within %d ms" % (modbus.describe(req), timeout_ms)
            )
        return bytes(buf[:got])

    async def _settle(self, timeout_ms):
        """After a bad frame: discard input until the line has been quiet for a frame gap."""
        port = self.port
        port.drain_rx()
        t0 = ticks_us()
        limit = 1000 * (timeout_ms + self.inter_frame_ms)
        while ticks_diff(ticks_us(), t0) < limit:
            try:
                chunk = await _wait_for_ms(port.read_some(256), self.inter_frame_ms)
            except asyncio.TimeoutError:
                return
            if not chunk:
                return
            self._idle = ticks_us()
