"""The emulated device's link to the host (runs inside MicroPython, on MICROPYPATH).

One TCP connection to the host's hardware server carries newline-delimited JSON both ways:
pin levels, UART settings and watchdog feeds go out; button levels and Wi-Fi events come in.
The settings come from the DINGATE_EMU environment variable (JSON) set by `dingate emulate`.
"""
import json
import os
import socket
import time

CONF = json.loads(os.getenv("DINGATE_EMU") or "{}")
inputs = {}  # pin number -> level set by the host (buttons, feedback contacts)
wifi = {}  # last Wi-Fi state pushed by the host
_replies = {}
_sock = None
_buf = b""
_next_id = 1
# polled several times a second (every input pin read): read into one buffer, so a poll that
# finds nothing allocates nothing (recv(n) would leave n bytes of garbage each time: on a board
# these are C modules that cost the heap nothing)
_rbuf = bytearray(256)


def _connect():
    global _sock
    if _sock is None:
        s = socket.socket()
        s.connect(socket.getaddrinfo("127.0.0.1", CONF["hw_port"])[0][-1])
        try:  # pin changes are tiny messages: Nagle would hold them back ~40 ms
            s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
        except (OSError, AttributeError):
            pass
        s.setblocking(False)
        _sock = s
    return _sock


def send(msg):
    data = json.dumps(msg).encode() + b"\n"
    s = _connect()
    while data:
        try:
            n = s.send(data)
        except OSError as e:
            if e.args[0] != 11:  # EAGAIN: the host is slow to read; try again
                raise
            time.sleep_ms(1)
            continue
        data = data[n:]


def _handle(msg):
    if "reply" in msg:
        _replies[msg["reply"]] = msg
    if "inputs" in msg:
        for k, v in msg["inputs"].items():
            inputs[int(k)] = v
    if "wifi" in msg:
        wifi.update(msg["wifi"])
    if "hang" in msg:
        _hang()


def _hang():
    """Test hook (the panel's POST /api/hw/fault "hang"): a driver call that never returns, as a
    stuck peripheral would. The asyncio loop stops turning, nothing feeds the watchdog, and only
    its reset gets the device going again (the host plays it: emulator/runner.py)."""
    while True:
        time.sleep_ms(100)


def poll():
    """Take in what the host sent, without blocking."""
    global _buf
    s = _connect()
    while True:
        try:
            n = s.readinto(_rbuf)
        except OSError:
            break
        if n is None:  # nothing waiting (non-blocking)
            break
        if not n:
            raise SystemExit(4)  # the host went away: power off
        _buf += bytes(memoryview(_rbuf)[:n])
    while b"\n" in _buf:
        line, _buf = _buf.split(b"\n", 1)
        if line:
            _handle(json.loads(line))


def request(msg, timeout_ms=5000):
    """Send a message and wait for the host's reply to it (scan, connect: blocking on a board too)."""
    global _next_id
    rid = _next_id
    _next_id += 1
    msg["id"] = rid
    send(msg)
    t0 = time.ticks_ms()
    while rid not in _replies:
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            raise OSError(110)  # ETIMEDOUT
        time.sleep_ms(1)
        poll()
    return _replies.pop(rid)
