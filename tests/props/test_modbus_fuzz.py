"""Hostile replies against the RTU frame checks (CPython: hypothesis + a seeded random loop).

Properties, for any request and any bytes offered as its reply:
- only the module's own errors (``ModbusError``: frame errors or a device exception) escape;
- a value is returned only for a frame that a reference decoder accepts for that request, and
  that frame comes from the request's address (no value lands on the wrong device);
- damage that CRC-16 always detects (1-3 flipped bits, one burst <= 16 bits), truncation,
  another address, another function and bytes around a frame are always rejected.

The seeded loop runs ``DINGATE_FUZZ_FRAMES`` hostile frames (default 100 000; 1 000 000 when
``DINGATE_NIGHTLY=1``) in a few seconds; ``DINGATE_FUZZ_SEED`` picks another seed.
"""
import asyncio
import os
import random
import struct
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import modbus
from gateway.core.modbus import FrameError, ModbusError, ModbusException, Truncated, with_crc

NIGHTLY = os.environ.get("DINGATE_NIGHTLY") == "1"
FRAMES = int(os.environ.get("DINGATE_FUZZ_FRAMES", 1000000 if NIGHTLY else 100000))
SEED = int(os.environ.get("DINGATE_FUZZ_SEED", "20250101"))


# ---- a reference device and decoder, written independently of the module ----


def crc_ref(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def reference_decode(req, frame):
    """What a correct master accepts: the decoded value, or None to reject."""
    if len(frame) < 4 or crc_ref(frame) != 0:
        return None
    addr, fc = req[0], req[1]
    if frame[0] != addr or frame[1] != fc:
        return None
    reg, qty = struct.unpack(">HH", req[2:6])
    if fc in (3, 4):
        if len(frame) != 5 + 2 * qty or frame[2] != 2 * qty:
            return None
        return list(struct.unpack(">%dH" % qty, frame[3:-2]))
    if fc in (1, 2):
        nb = (qty + 7) // 8
        if len(frame) != 5 + nb or frame[2] != nb:
            return None
        return [bool(frame[3 + i // 8] >> (i % 8) & 1) for i in range(qty)]
    if len(frame) != 8 or frame[:6] != req[:6]:
        return None
    return {5: qty == 0xFF00, 6: qty}.get(fc, qty)


def random_request(rng):
    addr = rng.randint(1, 247)
    fc = rng.choice((1, 2, 3, 4, 5, 6, 15, 16))
    if fc in (3, 4):
        n = rng.randint(1, 125)
        return modbus.read_request(addr, fc, rng.randint(0, 0x10000 - n), n)
    if fc in (1, 2):
        n = rng.randint(1, 2000)
        return modbus.read_request(addr, fc, rng.randint(0, 0x10000 - n), n)
    if fc == 5:
        return modbus.write_coil_request(addr, rng.randint(0, 0xFFFF), rng.random() < 0.5)
    if fc == 6:
        return modbus.write_register_request(addr, rng.randint(0, 0xFFFF), rng.randint(0, 0xFFFF))
    if fc == 15:
        n = rng.randint(1, 200)
        return modbus.write_coils_request(addr, 0, [rng.random() < 0.5 for _ in range(n)])
    n = rng.randint(1, 123)
    return modbus.write_registers_request(addr, 0, [rng.randint(0, 0xFFFF) for _ in range(n)])


def good_reply(rng, req):
    """A correct normal reply (random data) or exception reply to ``req``."""
    addr, fc = req[0], req[1]
    if rng.random() < 0.1:
        return with_crc(bytes((addr, fc | 0x80, rng.randint(1, 11))))
    qty = struct.unpack(">H", req[4:6])[0]
    if fc in (3, 4):
        return with_crc(bytes((addr, fc, 2 * qty)) + rng.randbytes(2 * qty))
    if fc in (1, 2):
        nb = (qty + 7) // 8
        return with_crc(bytes((addr, fc, nb)) + rng.randbytes(nb))
    if fc in (5, 6):
        return req
    return with_crc(req[:6])


def check(req, frame):
    """Feed one frame; return the outcome class name after checking the properties."""
    try:
        value = modbus.parse_response(req, frame)
    except ModbusException as e:
        assert crc_ref(frame) == 0 and len(frame) == 5
        assert frame[0] == req[0] and frame[1] == req[1] | 0x80 and frame[2] == e.code
        return "exception"
    except FrameError as e:
        assert reference_decode(req, frame) is None, "a good frame was rejected: %r" % (e,)
        return type(e).__name__
    ref = reference_decode(req, frame)
    assert ref is not None, "value from a bad frame: %s -> %r" % (frame.hex(), frame)
    assert frame[0] == req[0]
    assert value == ref
    return "ok"


def must_reject(req, frame, kind=FrameError):
    try:
        modbus.parse_response(req, frame)
    except kind:
        return
    raise AssertionError("not rejected as %s: %s for %s" % (kind.__name__, frame.hex(), req.hex()))


def flip_bits(rng, frame, nbits):
    b = bytearray(frame)
    positions = rng.sample(range(len(b) * 8), nbits)
    for p in positions:
        b[p // 8] ^= 1 << (p % 8)
    return bytes(b)


def burst(rng, frame):
    b = bytearray(frame)
    width = rng.randint(1, 16)
    start = rng.randint(0, len(b) * 8 - width)
    pattern = rng.getrandbits(width) | 1 | (1 << (width - 1))  # first and last bit flipped
    for i in range(width):
        if pattern >> i & 1:
            p = start + i
            b[p // 8] ^= 1 << (p % 8)
    return bytes(b)


def hostile(rng, req, good):
    """One hostile frame and whether it must be rejected (and as what)."""
    k = rng.randrange(10)
    if k == 0:
        return flip_bits(rng, good, rng.randint(1, 3)), FrameError
    if k == 1:
        return burst(rng, good), FrameError
    if k == 2:
        return good[: rng.randrange(len(good))], Truncated
    if k == 3:  # another device's well-formed frame
        other = rng.choice([a for a in (req[0] - 1, req[0] + 1, rng.randint(0, 255)) if a != req[0]])
        return with_crc(bytes((other & 0xFF,)) + good[1:-2]), modbus.WrongAddress
    if k == 4:  # a well-formed frame of another function
        fc = rng.choice([f for f in (1, 2, 3, 4, 5, 6, 15, 16, 0x2B, 0x7F) if f != good[1] & 0x7F])
        return with_crc(good[:1] + bytes((fc,)) + good[2:-2]), modbus.WrongFunction
    if k == 5:  # noise before or after the frame
        noise = rng.randbytes(rng.randint(1, 8))
        return (noise + good if rng.random() < 0.5 else good + noise), FrameError
    if k == 6:  # pure noise burst
        return rng.randbytes(rng.randint(0, 300)), None
    if k == 7:  # noise that starts like our reply
        return good[:2] + rng.randbytes(rng.randint(0, len(good) + 4)), None
    if k == 8:  # a good frame with its data replaced and a fresh CRC (accepted iff well-formed)
        return with_crc(good[:2] + rng.randbytes(max(0, len(good) - 4 + rng.randint(-2, 2)))), None
    return good, "good"


def test_seeded_hostile_frames():
    rng = random.Random(SEED)
    outcomes = {}
    t0 = time.perf_counter()
    n = 0
    while n < FRAMES:
        req = random_request(rng)
        good = good_reply(rng, req)
        for _ in range(8):
            frame, expect = hostile(rng, req, good)
            outcome = check(req, frame)
            if expect == "good":
                assert outcome in ("ok", "exception")
            elif expect is not None:
                must_reject(req, frame, expect)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            n += 1
    dt = time.perf_counter() - t0
    print("\n%d hostile frames in %.2f s (%.0f frames/s): %r" % (n, dt, n / dt, outcomes))
    for kind in ("CrcError", "Truncated", "WrongAddress", "WrongFunction", "Malformed", "ok",
                 "exception"):
        assert outcomes.get(kind, 0) > 0, kind


@settings(max_examples=300, deadline=None)
@given(req_seed=st.integers(0, 2 ** 32), frame=st.binary(max_size=300))
def test_arbitrary_bytes_never_escape(req_seed, frame):
    req = random_request(random.Random(req_seed))
    check(req, frame)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2 ** 32), data=st.data())
def test_mutations_of_good_replies(seed, data):
    rng = random.Random(seed)
    req = random_request(rng)
    good = good_reply(rng, req)
    assert check(req, good) in ("ok", "exception")
    cut = data.draw(st.integers(0, len(good) - 1))
    must_reject(req, good[:cut], Truncated)
    flips = data.draw(st.lists(st.integers(0, len(good) * 8 - 1), min_size=1, max_size=3,
                               unique=True))
    bad = bytearray(good)
    for p in flips:
        bad[p // 8] ^= 1 << (p % 8)
    must_reject(req, bytes(bad))
    extra = data.draw(st.binary(min_size=1, max_size=10))
    must_reject(req, good + extra)
    must_reject(req, extra + good)


# ---- through the transport: values never land on the wrong device or come from bad frames ----


class HostilePort:
    """A fake bus whose replies are drawn from ``hostile`` (sometimes silent)."""

    def __init__(self, rng, truth):
        self.rng = rng
        self.truth = truth  # address -> register image (list of 16-bit ints)
        self.pending = b""
        self.waiter = None

    def write(self, req):
        rng = self.rng
        addr = req[0]
        start, n = struct.unpack(">HH", req[2:6])
        regs = self.truth[addr][start : start + n]
        good = with_crc(bytes((addr, req[1], 2 * n)) + struct.pack(">%dH" % n, *regs))
        frame = b"" if rng.random() < 0.05 else hostile(rng, req, good)[0]  # or silent
        self.sent = (req, frame)
        self.pending = frame

    def txdone(self):
        return True

    def set_de(self, on):
        pass

    def drain_rx(self):
        pass

    async def read_some(self, n):
        if not self.pending:
            await asyncio.sleep(1)  # nothing more on the line: the caller times out
        out, self.pending = self.pending[:n], self.pending[n:]
        return out


def test_transport_keeps_nothing_from_bad_frames():
    from gateway.services.rtu import RtuMaster

    rng = random.Random(SEED + 1)
    truth = {a: [rng.randint(0, 0xFFFF) for _ in range(64)] for a in (1, 2, 3)}
    port = HostilePort(rng, truth)
    master = RtuMaster(port, {"baud": 115200, "timeout_ms": 10, "retries": 0}, inter_frame_ms=5)

    async def main():
        got = 0
        for _ in range(400):
            addr = rng.choice((1, 2, 3))
            start = rng.randint(0, 60)
            n = rng.randint(1, 64 - start)
            try:
                regs = await master.read_registers(addr, 3, start, n)
            except ModbusError:
                continue
            # accepted only what a correct master accepts from that very frame, for this address
            # (the master reads a reply by its length: bytes after a complete frame are left
            # on the line and drained before the next request)
            req, frame = port.sent
            assert req[0] == addr and frame[0] == addr
            assert regs == reference_decode(req, frame[: modbus.expected_length(req)])
            got += 1
        return got

    ok = asyncio.run(main())
    assert ok > 0
    for addr in (1, 2, 3):
        c = master.counters(addr)
        assert c["requests"] == (
            c["ok"] + c["timeouts"] + c["crc_errors"] + c["exceptions"] + c["wrong_frames"]
        )
