"""Modbus RTU frames: CRC16, requests, response validation and decoding (no I/O).

A frame is ``address, function, data..., crc_lo, crc_hi``. Supported functions:
1/2 (read coils / discrete inputs), 3/4 (read holding / input registers), 5 (write single coil),
6 (write single register), 15 (write multiple coils), 16 (write multiple registers).

The reader of a reply asks ``expected_length(request)`` how many bytes a normal reply has, and
``needed_length(request, b0, b1)`` once the first two bytes are in (an exception reply is 5 bytes).
``parse_response(request, frame)`` returns the decoded values or raises:

- ``CrcError``       the frame's CRC is wrong (line noise, collision)
- ``Truncated``      fewer bytes than the reply needs (CRC cannot match)
- ``WrongAddress``   a good frame from another device
- ``WrongFunction``  a good frame for another function
- ``Malformed``      a good CRC but a length / byte count / echo that does not fit the request
- ``ModbusException`` the device answered with an exception (``.code`` 1..11, ``.name``)

The first five derive from ``FrameError``; all of them (and ``NoResponse``, raised by the
transport) from ``ModbusError``. Values are only ever returned from a frame that passed every
check, so nothing from a bad frame escapes.
"""
import struct

# RS485 line and polling defaults (9600 8N1, as the MEGA and most meters ship)
BUS_DEFAULTS = {
    "baud": 9600,
    "parity": "N",
    "stop": 1,
    "timeout_ms": 500,  # wait for the first byte of a reply
    "retries": 1,  # extra attempts after a failed one
    "max_gap": 10,  # unused registers a merged read may span
    "interval_ms": 1000,  # poll cycle period
}


READ_COILS = 1
READ_DISCRETE_INPUTS = 2
READ_HOLDING_REGISTERS = 3
READ_INPUT_REGISTERS = 4
WRITE_SINGLE_COIL = 5
WRITE_SINGLE_REGISTER = 6
WRITE_MULTIPLE_COILS = 15
WRITE_MULTIPLE_REGISTERS = 16

# Largest quantity per request for each function (Modbus application protocol v1.1b3).
MAX_QUANTITY = {1: 2000, 2: 2000, 3: 125, 4: 125, 15: 1968, 16: 123}

EXCEPTION_NAMES = (
    None,
    "illegal function",  # 1
    "illegal data address",  # 2
    "illegal data value",  # 3
    "server device failure",  # 4
    "acknowledge",  # 5
    "server device busy",  # 6
    "negative acknowledge",  # 7
    "memory parity error",  # 8
    "reserved",  # 9 (not assigned by the specification)
    "gateway path unavailable",  # 10
    "gateway target device failed to respond",  # 11
)


def exception_name(code):
    """Human name of a Modbus exception code ("unknown" outside 1..11)."""
    if 0 < code < len(EXCEPTION_NAMES):
        return EXCEPTION_NAMES[code]
    return "unknown"


class ModbusError(Exception):
    """Base of every error this module (and the RTU transport) raises about a transaction."""


class FrameError(ModbusError):
    """A reply that is not a valid answer to the request; nothing of it may be used."""


class CrcError(FrameError):
    pass


class Truncated(FrameError):
    pass


class WrongAddress(FrameError):
    pass


class WrongFunction(FrameError):
    pass


class Malformed(FrameError):
    pass


class NoResponse(ModbusError):
    """No byte came back before the timeout (raised by the transport)."""


class ModbusException(ModbusError):
    """A well-formed exception reply: ``code`` (1..11 defined), ``name``, ``function``."""

    def __init__(self, code, function=0, message=None):
        self.code = code
        self.name = exception_name(code)
        self.function = function
        super().__init__(message or "exception %d (%s)" % (code, self.name))


# ---- CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), two 256-byte tables built once ----


def _build_table():
    t = bytearray(512)  # t[i] = low byte, t[256 + i] = high byte of the CRC of byte i
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t[i] = c & 0xFF
        t[256 + i] = c >> 8
    return bytes(t)


_T = _build_table()


def crc16(data):
    """CRC-16/MODBUS of ``data`` (bytes-like) as an int; sent low byte first.

    A whole frame including its CRC has ``crc16(frame) == 0``.
    """
    t = _T
    lo = hi = 0xFF
    for b in data:
        i = lo ^ b
        lo = hi ^ t[i]
        hi = t[256 + i]
    return (hi << 8) | lo


def with_crc(body):
    """``body`` (address + PDU) followed by its CRC, as bytes."""
    c = crc16(body)
    return bytes(body) + bytes((c & 0xFF, c >> 8))


# ---- requests ----


def _check(name, value, lo, hi):
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError("%s must be %d..%d, not %r" % (name, lo, hi, value))


def _check_range(function, register, count):
    _check("register", register, 0, 0xFFFF)
    _check("count", count, 1, MAX_QUANTITY[function])
    if register + count > 0x10000:
        raise ValueError("register range runs past 0xFFFF")


def read_request(address, function, register, count):
    """Request for FC 1, 2, 3 or 4: read ``count`` items from ``register``."""
    _check("address", address, 1, 247)
    if function not in (1, 2, 3, 4):
        raise ValueError("not a read function: %r" % (function,))
    _check_range(function, register, count)
    return with_crc(struct.pack(">BBHH", address, function, register, count))


def write_coil_request(address, register, on):
    """FC 5: set one coil on (0xFF00) or off (0x0000)."""
    _check("address", address, 1, 247)
    _check("register", register, 0, 0xFFFF)
    return with_crc(struct.pack(">BBHH", address, 5, register, 0xFF00 if on else 0))


def write_register_request(address, register, value):
    """FC 6: write one 16-bit register."""
    _check("address", address, 1, 247)
    _check("register", register, 0, 0xFFFF)
    _check("value", value, 0, 0xFFFF)
    return with_crc(struct.pack(">BBHH", address, 6, register, value))


def write_coils_request(address, register, bits):
    """FC 15: write ``len(bits)`` coils from ``register`` (bits: sequence of truthy values)."""
    _check("address", address, 1, 247)
    n = len(bits)
    _check_range(15, register, n)
    nb = (n + 7) >> 3
    data = bytearray(nb)
    for i in range(n):
        if bits[i]:
            data[i >> 3] |= 1 << (i & 7)
    return with_crc(struct.pack(">BBHHB", address, 15, register, n, nb) + bytes(data))


def write_registers_request(address, register, values):
    """FC 16: write ``len(values)`` 16-bit registers from ``register``."""
    _check("address", address, 1, 247)
    n = len(values)
    _check_range(16, register, n)
    for v in values:
        _check("value", v, 0, 0xFFFF)
    return with_crc(
        struct.pack(">BBHHB", address, 16, register, n, 2 * n) + struct.pack(">%dH" % n, *values)
    )


def describe(request):
    """Short text naming a request, e.g. ``"5 FC4 0x0034 x24"`` (for error messages)."""
    return "%d FC%d 0x%04X x%d" % (
        request[0],
        request[1],
        (request[2] << 8) | request[3],
        (request[4] << 8) | request[5] if request[1] not in (5, 6) else 1,
    )


# ---- replies ----


def expected_length(request):
    """Length in bytes of the normal reply to ``request`` (address and CRC included)."""
    fc = request[1]
    if fc in (3, 4):
        return 5 + 2 * ((request[4] << 8) | request[5])
    if fc in (1, 2):
        return 5 + ((((request[4] << 8) | request[5]) + 7) >> 3)
    if fc in (5, 6, 15, 16):
        return 8
    raise ValueError("unsupported function %r" % (fc,))


def needed_length(request, b0, b1):
    """Reply length once its first two bytes ``b0, b1`` are known: 5 for an exception reply."""
    if b0 == request[0] and b1 == request[1] | 0x80:
        return 5
    return expected_length(request)


def parse_response(request, frame):
    """Check ``frame`` against ``request`` and decode it.

    Returns: FC1/2 a list of ``count`` bools; FC3/4 a list of ``count`` ints (0..65535);
    FC5 the coil state (bool); FC6 the register value; FC15/16 the quantity written.
    Raises a ``FrameError`` subclass or ``ModbusException`` (see the module docstring).
    """
    n = len(frame)
    address = request[0]
    fc = request[1]
    normal = expected_length(request)
    if n < 4:
        raise Truncated("reply from %d truncated: %d bytes" % (address, n))
    if crc16(frame):
        if n < needed_length(request, frame[0], frame[1]):
            raise Truncated("reply from %d truncated: %d bytes, bad CRC" % (address, n))
        raise CrcError("bad CRC in reply from %d (%d bytes)" % (address, n))
    if frame[0] != address:
        raise WrongAddress("reply from address %d, expected %d" % (frame[0], address))
    got = frame[1]
    if got == fc | 0x80:
        if n != 5:
            kind = Truncated if n < 5 else Malformed
            raise kind("exception reply from %d is %d bytes, not 5" % (address, n))
        code = frame[2]
        text = "%s: exception %d (%s)" % (describe(request), code, exception_name(code))
        raise ModbusException(code, fc, text)
    if got != fc:
        raise WrongFunction("reply function %d from %d, expected %d" % (got, address, fc))
    if n != normal:
        kind = Truncated if n < normal else Malformed
        raise kind("reply from %d is %d bytes, expected %d" % (address, n, normal))
    if fc <= 4:
        count = (request[4] << 8) | request[5]
        if frame[2] != n - 5:
            raise Malformed("byte count %d, expected %d" % (frame[2], n - 5))
        if fc >= 3:
            return list(struct.unpack_from(">%dH" % count, frame, 3))
        return [bool(frame[3 + (i >> 3)] >> (i & 7) & 1) for i in range(count)]
    # writes: the reply echoes address, function, register and value/quantity
    if frame[:6] != request[:6]:
        raise Malformed("write reply from %d does not echo the request" % address)
    v = (frame[4] << 8) | frame[5]
    if fc == 5:
        return v == 0xFF00
    return v


# ---- line timing (services/rtu.py, the host bench)


def char_bits(parity="N", stop=1):
    """Bits of one character on the line: start, 8 data, parity (unless "N"), stop bits."""
    return 1 + 8 + (0 if parity == "N" else 1) + stop


def char_us(baud, parity="N", stop=1):
    """Microseconds one character takes on the line (rounded up)."""
    return (char_bits(parity, stop) * 1000000 + baud - 1) // baud


def silence_us(baud, parity="N", stop=1):
    """Minimum bus silence between frames: 3.5 character times, 1750 us above 19200 baud."""
    if baud > 19200:
        return 1750
    return (7 * char_us(baud, parity, stop) + 1) // 2
