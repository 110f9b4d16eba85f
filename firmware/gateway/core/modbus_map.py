"""Modbus TCP server side, pure: the register map and request -> response (no I/O).

The gateway answers like a Modbus TCP gateway in front of its RS485 bus (the Legrand
master/slave function), from the readings it already has: it never forwards a request.

- **Unit id = the meter's RS485 address** (1..247). The unit's registers, the same for input
  registers (FC4) and holding registers (FC3, a mirror):

  ====== ===== =====================================================
  reg    words content
  ====== ===== =====================================================
  0      1     status: 0 ok, 1 offline, 2 error, 3 disabled (u16)
  1      1     age of the reading in seconds (u16, 65535 = 65535 s or more / unknown)
  2..27  2 ea. :data:`QUANTITIES` in this order, IEEE-754 float32, high word first
                (big-endian), NaN (0x7FC00000) when the meter has no such value
  ====== ===== =====================================================

- **Registers 40000..40178 of a meter's unit id**: the meter as a SunSpec device (common
  model 1, meter model 201/202/203, end; core/sunspec_map.py), holding or input registers.

- **Unit id 0 or 255 = the gateway itself**: a directory (:data:`DIR_LEN` registers):
  0 map version, 1 number of meters, 2..33 the RS485 address of meter slot 1..32
  (configuration order, 0 = no meter), 34..65 the status of slot 1..32 (0xFFFF = no meter).

Exceptions, checked in this order: a function other than 3/4 -> 1 (illegal function; the
server is read-only); a request PDU not 5 bytes or a quantity outside 1..125 -> 3 (illegal
data value); a unit id without a configured meter, or a disabled one -> 10 (gateway path
unavailable: nothing configured to answer); registers past the unit's end -> 2 (illegal data
address); a read touching the quantities (reg >= 2) of a meter that is offline or in error
-> 11 (gateway target device failed to respond). Status and age stay readable in every state.

A request is 7 bytes of MBAP header then ``pdu_length(header)`` bytes of PDU; ``respond()``
returns the whole response (at most 9 + 250 bytes). ``pdu_length`` raises ``BadFrame`` for
what is not Modbus TCP (protocol id != 0, length out of range): close the connection.
"""
import struct

from gateway.core import sunspec_map
from gateway.core.modbus import MAX_QUANTITY, READ_HOLDING_REGISTERS, READ_INPUT_REGISTERS
from gateway.core.quantities import MODBUS_TCP_ORDER

MAP_VERSION = 1

# The documented order (the catalogue's; append only, bump MAP_VERSION).
QUANTITIES = MODBUS_TCP_ORDER

REG_STATUS = 0
REG_AGE = 1
REG_VALUES = 2
BLOCK_LEN = REG_VALUES + 2 * len(QUANTITIES)  # 28 registers per meter

STATUS_CODES = {"ok": 0, "offline": 1, "error": 2, "disabled": 3, "partial": 4}
NO_METER = 0xFFFF

GATEWAY_UNITS = (0, 255)
DIR_SLOTS = 32  # gateway.core.meters.MAX_METERS
DIR_ADDRESSES = 2
DIR_STATUS = DIR_ADDRESSES + DIR_SLOTS
DIR_LEN = DIR_STATUS + DIR_SLOTS  # 66 registers

ILLEGAL_FUNCTION = 1
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
GATEWAY_PATH_UNAVAILABLE = 10
GATEWAY_TARGET_FAILED = 11

MBAP_LEN = 7
MAX_PDU = 253

_NAN = b"\x7f\xc0\x00\x00"
_F32_MAX = 3.4028234e38
# a meter block with every value NaN; copied, then the known values are written in
_TEMPLATE = b"\x00\x00\xff\xff" + _NAN * len(QUANTITIES)


class BadFrame(ValueError):
    """Not a Modbus TCP request: the connection is to be closed."""


def pdu_length(header):
    """How many PDU bytes follow the 7-byte MBAP ``header``; ``BadFrame`` if not Modbus TCP."""
    if len(header) != MBAP_LEN:
        raise BadFrame("MBAP header is 7 bytes")
    if header[2] or header[3]:
        raise BadFrame("protocol id %d is not Modbus" % ((header[2] << 8) | header[3]))
    n = ((header[4] << 8) | header[5]) - 1  # the length counts the unit id
    if n < 1 or n > MAX_PDU:
        raise BadFrame("PDU length %d out of range" % n)
    return n


def status_code(status):
    """Status register value of a poller status ("ok", "offline", ...); 2 for anything unknown."""
    return STATUS_CODES.get(status, 2)


def put_f32(buf, offset, value):
    """Write ``value`` as a big-endian float32 at ``buf[offset:offset+4]`` (NaN when missing)."""
    if (value is True or value is False or not isinstance(value, (int, float))
            or not -_F32_MAX <= value <= _F32_MAX):  # also NaN and the infinities
        buf[offset:offset + 4] = _NAN
    else:
        struct.pack_into(">f", buf, offset, value)


def meter_block(reading, now):
    """The ``BLOCK_LEN`` registers of one meter as bytes (bytearray), from a poller reading
    ``{"status", "ts", "values"}`` (None: never polled -> offline, no age)."""
    buf = bytearray(_TEMPLATE)
    if reading is None:
        buf[1] = STATUS_CODES["offline"]
        return buf
    ts = reading.get("ts")
    age = 0xFFFF
    if ts is not None:
        age = int(now - ts)
        age = 0 if age < 0 else (0xFFFF if age > 0xFFFF else age)
    struct.pack_into(">HH", buf, 0, status_code(reading.get("status")), age)
    values = reading.get("values") or {}
    o = 2 * REG_VALUES
    for q in QUANTITIES:
        v = values.get(q)
        if v is not None:
            put_f32(buf, o, v)
        o += 4
    return buf


def directory_block(meters, reading):
    """The gateway unit's ``DIR_LEN`` registers (bytearray): version, count, addresses, statuses."""
    buf = bytearray(2 * DIR_LEN)
    n = min(len(meters), DIR_SLOTS)
    struct.pack_into(">HH", buf, 0, MAP_VERSION, n)
    for i in range(DIR_SLOTS):
        if i < n:
            m = meters[i]
            addr = m["address"]
            code = status_code(_status(m, reading(m["id"])))
        else:
            addr, code = 0, NO_METER
        struct.pack_into(">H", buf, 2 * (DIR_ADDRESSES + i), addr)
        struct.pack_into(">H", buf, 2 * (DIR_STATUS + i), code)
    return buf


def _status(meter, reading):
    if not meter.get("enabled", True):
        return "disabled"
    return reading.get("status") if reading else "offline"


def find_meter(meters, unit):
    """The configured meter whose RS485 address is ``unit``, or None."""
    for m in meters:
        if m["address"] == unit:
            return m
    return None


def exception(header, function, code):
    """Exception response: the request's transaction and unit id, function | 0x80, ``code``."""
    return bytes(header[0:2]) + bytes((0, 0, 0, 3, header[6], (function | 0x80) & 0xFF, code))


def _sunspec(header, fc, meter, rd, first, count, serial):
    """A read of the meter's SunSpec device (core/sunspec_map.py): registers past its end -> 2,
    the meter model's points of a meter offline or in error -> 11, as for the float block."""
    if first + count > sunspec_map.LEN:
        return exception(header, fc, ILLEGAL_DATA_ADDRESS)
    if (first < sunspec_map.POINTS_END and first + count > sunspec_map.POINTS_FIRST
            and _status(meter, rd) not in ("ok", "partial")):
        return exception(header, fc, GATEWAY_TARGET_FAILED)
    out = bytearray(9)
    out[0] = header[0]
    out[1] = header[1]
    struct.pack_into(">HBBB", out, 4, 3 + 2 * count, header[6], fc, 2 * count)
    out += sunspec_map.registers(meter, (rd or {}).get("values"), first, count, serial)
    return out


def respond(header, pdu, meters, reading, now, serial=""):
    """The response (bytes) to one request.

    ``meters``: the configured meter dicts ("id", "address", "enabled"), in slot order;
    ``reading(meter_id)``: the poller's ``{"status", "ts", "values"}`` of a meter, or None;
    ``now``: epoch seconds (the clock the readings' ``ts`` use); ``serial``: the gateway's
    (SunSpec serial numbers).
    """
    fc = pdu[0] if pdu else 0
    if fc != READ_HOLDING_REGISTERS and fc != READ_INPUT_REGISTERS:
        return exception(header, fc, ILLEGAL_FUNCTION)
    if len(pdu) != 5:
        return exception(header, fc, ILLEGAL_DATA_VALUE)
    start, count = struct.unpack_from(">HH", pdu, 1)
    if count < 1 or count > MAX_QUANTITY[fc]:
        return exception(header, fc, ILLEGAL_DATA_VALUE)
    unit = header[6]
    if unit in GATEWAY_UNITS:
        if start + count > DIR_LEN:
            return exception(header, fc, ILLEGAL_DATA_ADDRESS)
        block = directory_block(meters, reading)
    else:
        m = find_meter(meters, unit)
        if m is None or not m.get("enabled", True):
            return exception(header, fc, GATEWAY_PATH_UNAVAILABLE)
        if start >= sunspec_map.BASE:
            return _sunspec(header, fc, m, reading(m["id"]), start - sunspec_map.BASE, count,
                            serial)
        if start + count > BLOCK_LEN:
            return exception(header, fc, ILLEGAL_DATA_ADDRESS)
        rd = reading(m["id"])
        if start + count > REG_VALUES and _status(m, rd) not in ("ok", "partial"):
            return exception(header, fc, GATEWAY_TARGET_FAILED)
        block = meter_block(rd, now)
    n = 2 * count
    out = bytearray(9 + n)
    out[0] = header[0]
    out[1] = header[1]
    struct.pack_into(">HBBB", out, 4, 3 + n, unit, fc, n)
    out[9:] = block[2 * start:2 * start + n]
    return out
