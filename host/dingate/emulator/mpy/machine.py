"""Emulated `machine` module: what the firmware uses of the ESP32's, wired to the host.

Shadows the unix port's built-in `machine` (files on MICROPYPATH come first on this port).
"""
import io
import select
import socket
import sys
import time

import _emu

_MP_STREAM_POLL = 3
_MP_STREAM_GET_FILENO = 10


def unique_id():
    return bytes.fromhex(_emu.CONF.get("mac", "24:0a:c4:00:00:01").replace(":", ""))


def freq(hz=None):
    return 240000000


def idle():
    time.sleep_ms(1)


def reset():
    """Hard reset: the host starts the firmware again on the same flash."""
    sys.exit(3)


def soft_reset():
    sys.exit(3)


PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5


def reset_cause():
    return _emu.CONF.get("reset_cause", PWRON_RESET)


class Pin:
    IN, OUT, OPEN_DRAIN = 1, 3, 7
    PULL_UP, PULL_DOWN = 1, 2
    IRQ_RISING, IRQ_FALLING = 1, 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._v = 0
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self.mode = mode
        if pull == Pin.PULL_UP and self.id not in _emu.inputs:
            _emu.inputs[self.id] = 1
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if getattr(self, "mode", Pin.IN) == Pin.OUT:
                return self._v
            _emu.poll()
            return _emu.inputs.get(self.id, 0)
        v = 1 if v else 0
        if v != self._v or not hasattr(self, "_sent"):
            self._sent = True
            self._v = v
            _emu.send({"pin": self.id, "v": v})

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class WDT:
    """The host restarts the firmware (reset cause WDT) when feeds stop for ``timeout`` ms."""

    def __init__(self, id=0, timeout=5000):
        _emu.send({"wdt": timeout})

    def feed(self):
        _emu.send({"wdt_feed": 1})


class RTC:
    """Reads the host's clock; a setting goes to the host (snapshot "rtc_set"), not to the clock."""

    def datetime(self, dt=None):
        if dt is not None:
            _emu.send({"rtc": list(dt)})
            return
        t = time.gmtime()
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)


class UART(io.IOBase):
    """ESP32 UART on the emulated RS485 line: a TCP stream to the host's line, pollable.

    Bytes written leave at the configured baud rate: ``txdone()`` turns true when the last
    bit would be out of the shift register, as on the chip.
    """

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, **kw):
        self.id = id
        self._sock = socket.socket()
        self._sock.connect(socket.getaddrinfo("127.0.0.1", _emu.CONF["line_port"])[0][-1])
        self._sock.setblocking(False)
        # one poll object for any()/ioctl(): the chip's UART allocates nothing per call
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self._tx_end = time.ticks_us()
        self.init(baudrate, bits, parity, stop, **kw)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, **kw):
        self.baudrate, self.bits, self.parity, self.stop = baudrate, bits, parity, stop
        nbits = 1 + bits + (0 if parity is None else 1) + stop
        self._char_us = nbits * 1000000 // baudrate
        par = "N" if parity is None else ("E" if parity == 0 else "O")
        _emu.send({"uart": {"baud": baudrate, "bits": bits, "parity": par, "stop": stop}})

    def deinit(self):
        self._sock.close()

    def write(self, buf):
        now = time.ticks_us()
        start = self._tx_end if time.ticks_diff(self._tx_end, now) > 0 else now
        self._tx_end = time.ticks_add(start, len(buf) * self._char_us)
        mv = memoryview(buf)
        while mv:
            try:
                n = self._sock.send(mv)
            except OSError:
                time.sleep_ms(1)
                continue
            mv = mv[n:]
        return len(buf)

    def txdone(self):
        return time.ticks_diff(time.ticks_us(), self._tx_end) >= 0

    def flush(self):
        while not self.txdone():
            time.sleep_us(100)

    def any(self):
        self._poll.modify(self._sock, select.POLLIN)
        return 1 if self._poll.poll(0) else 0

    def read(self, n=-1):
        try:
            data = self._sock.recv(n if n and n > 0 else 256)
        except OSError:
            return None
        return data or None

    def readinto(self, buf, n=-1):
        """Straight into ``buf`` (no bytes object in between, as the chip's driver)."""
        mv = memoryview(buf)
        if 0 <= n < len(buf):
            mv = mv[:n]
        try:
            got = self._sock.readinto(mv)
        except OSError:
            return None
        return got or None

    def ioctl(self, req, arg):
        if req == _MP_STREAM_GET_FILENO:
            return self._sock.fileno()
        if req == _MP_STREAM_POLL:
            self._poll.modify(self._sock, arg)
            res = self._poll.poll(0)
            return res[0][1] & arg if res else 0
        return 0
