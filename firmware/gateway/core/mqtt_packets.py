"""MQTT 3.1.1 packets: encode, decode, read one packet from a stream, topic rules.

Pure functions over ``bytes``; nothing here touches a socket except :func:`read_packet`, which
pulls one packet from an asyncio stream (CPython ``StreamReader`` or MicroPython ``Stream``)
and refuses packets larger than the caller's bound before reading their body.

Encoders return the complete packet as ``bytes``. Decoders take the packet *body* (what follows
the fixed header) plus, for PUBLISH, the fixed-header flags, and raise :class:`MalformedPacket`
on anything the spec calls a protocol violation. Packet ids are 1..65535.

Only the client's side is here (what the gateway sends and parses); the broker's side (parse
CONNECT/SUBSCRIBE/UNSUBSCRIBE, build CONNACK/SUBACK/UNSUBACK, split a byte stream into packets,
match topics) is in dingate.testing.mqtt_server_packets (host side: the gateway never loads it).
"""
import struct

# Control packet types (high nibble of the first byte).
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

_NAMES = ("? CONNECT CONNACK PUBLISH PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE "
          "UNSUBACK PINGREQ PINGRESP DISCONNECT")
# CONNACK return codes (MQTT 3.1.1 table 3.1).
CONNACK_ACCEPTED = 0
_REFUSED = ("connection accepted|unacceptable protocol version|identifier rejected|server "
            "unavailable|bad user name or password|not authorized")
SUBACK_FAILURE = 0x80

MAX_REMAINING = 268435455  # largest remaining length a 4-byte varint can carry
MAX_PACKET_ID = 65535

PINGREQ_PACKET = b"\xc0\x00"
PINGRESP_PACKET = b"\xd0\x00"
DISCONNECT_PACKET = b"\xe0\x00"


class MQTTError(Exception):
    """Base class of every MQTT failure (protocol, connection, refusal)."""


class MalformedPacket(MQTTError):
    """Bytes that break the MQTT 3.1.1 rules."""


class PacketTooLarge(MQTTError):
    """An incoming packet announced a size over the reader's bound."""


class ConnectionClosed(MQTTError):
    """The stream ended (EOF or reset) in the middle of, or before, a packet."""


def packet_name(ptype):
    """ "PUBLISH" for 3 (the number itself for a reserved type)."""
    n = _NAMES.split()  # error paths only: no table on the heap
    return n[ptype] if 0 < ptype < len(n) else str(ptype)


def connack_message(rc):
    """Human text for a CONNACK return code."""
    if rc == 0:
        return "connection accepted"
    if 0 < rc <= 5:
        return "connection refused: " + _REFUSED.split("|")[rc]
    return "connection refused: return code %d" % rc


# ---------------------------------------------------------------- primitives


def encode_varint(n):
    """Remaining-length encoding (1..4 bytes, 7 bits each, low group first)."""
    if n < 0 or n > MAX_REMAINING:
        raise ValueError("remaining length out of range")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _utf8(s):
    if isinstance(s, str):
        s = s.encode()
    if len(s) > 65535:
        raise ValueError("string longer than 65535 bytes")
    return struct.pack("!H", len(s)) + s


def _blob(b):
    if isinstance(b, str):
        b = b.encode()
    if len(b) > 65535:
        raise ValueError("binary field longer than 65535 bytes")
    return struct.pack("!H", len(b)) + bytes(b)


def _read_blob(body, pos):
    if pos + 2 > len(body):
        raise MalformedPacket("truncated length-prefixed field")
    n = struct.unpack_from("!H", body, pos)[0]
    pos += 2
    if pos + n > len(body):
        raise MalformedPacket("truncated length-prefixed field")
    return bytes(body[pos:pos + n]), pos + n


def _read_str(body, pos):
    raw, pos = _read_blob(body, pos)
    if b"\x00" in raw:
        raise MalformedPacket("null character in a string")
    try:
        return raw.decode(), pos
    except UnicodeError:
        raise MalformedPacket("string is not valid UTF-8")


def _packet(first, body):
    return bytes([first]) + encode_varint(len(body)) + body


def _check_pid(pid):
    if not 1 <= pid <= MAX_PACKET_ID:
        raise ValueError("packet id must be 1..65535")


def _pid_only(body, name):
    if len(body) != 2:
        raise MalformedPacket("%s body must be 2 bytes" % name)
    pid = struct.unpack("!H", body)[0]
    if pid == 0:
        raise MalformedPacket("packet id 0")
    return pid


# ---------------------------------------------------------------- topics


def validate_topic(topic):
    """Raise ValueError unless ``topic`` is a valid topic *name* (for PUBLISH)."""
    if not isinstance(topic, str) or not topic:
        raise ValueError("topic must be a non-empty string")
    if "+" in topic or "#" in topic:
        raise ValueError("wildcards are not allowed in a topic name")
    if "\x00" in topic:
        raise ValueError("null character in topic")
    if len(topic.encode()) > 65535:
        raise ValueError("topic longer than 65535 bytes")


def validate_filter(filt):
    """Raise ValueError unless ``filt`` is a valid topic *filter* (for SUBSCRIBE)."""
    if not isinstance(filt, str) or not filt:
        raise ValueError("topic filter must be a non-empty string")
    if "\x00" in filt:
        raise ValueError("null character in topic filter")
    if len(filt.encode()) > 65535:
        raise ValueError("topic filter longer than 65535 bytes")
    levels = filt.split("/")
    last = len(levels) - 1
    for i, lev in enumerate(levels):
        if "#" in lev and (lev != "#" or i != last):
            raise ValueError("'#' must be a whole last level")
        if "+" in lev and lev != "+":
            raise ValueError("'+' must be a whole level")


# ---------------------------------------------------------------- CONNECT / CONNACK


def connect(client_id, keepalive=60, user=None, password=None, clean=True,
            will_topic=None, will_payload=b"", will_qos=0, will_retain=False):
    """CONNECT packet (protocol level 4). A password needs a user name (3.1.2.9)."""
    if not 0 <= keepalive <= 65535:
        raise ValueError("keepalive must be 0..65535")
    if password is not None and user is None:
        raise ValueError("a password needs a user name")
    flags = 0x02 if clean else 0
    payload = _utf8(client_id)
    if will_topic is not None:
        validate_topic(will_topic)
        if will_qos not in (0, 1, 2):
            raise ValueError("will qos must be 0, 1 or 2")
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += _utf8(will_topic) + _blob(will_payload)
    if user is not None:
        flags |= 0x80
        payload += _utf8(user)
    if password is not None:
        flags |= 0x40
        payload += _blob(password)
    var = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    return _packet(CONNECT << 4, var + payload)


def parse_connack(body):
    """CONNACK body -> (session_present, return_code)."""
    if len(body) != 2:
        raise MalformedPacket("CONNACK body must be 2 bytes")
    if body[0] & 0xFE:
        raise MalformedPacket("reserved CONNACK flags set")
    return bool(body[0] & 1), body[1]


# ---------------------------------------------------------------- PUBLISH / PUBACK


def publish_header(topic, payload_len, qos=0, retain=False, dup=False, pid=0):
    """Fixed header + variable header of a PUBLISH whose payload (``payload_len`` bytes) the
    caller writes next; lets a large payload go out without being copied."""
    if qos not in (0, 1, 2):
        raise ValueError("qos must be 0, 1 or 2")
    if qos == 0 and dup:
        raise ValueError("DUP must be 0 for qos 0")
    first = (PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    var = _utf8(topic)
    if qos:
        _check_pid(pid)
        var += struct.pack("!H", pid)
    return bytes([first]) + encode_varint(len(var) + payload_len) + var


def publish(topic, payload, qos=0, retain=False, dup=False, pid=0):
    """Complete PUBLISH packet. ``payload`` is bytes or str (sent as UTF-8)."""
    validate_topic(topic)
    if isinstance(payload, str):
        payload = payload.encode()
    return publish_header(topic, len(payload), qos, retain, dup, pid) + bytes(payload)


def parse_publish(flags, body):
    """PUBLISH (low nibble ``flags`` of the first byte, body) -> (topic, payload, qos, retain,
    dup, pid); pid is 0 for qos 0."""
    qos = (flags >> 1) & 3
    if qos == 3:
        raise MalformedPacket("PUBLISH qos 3")
    dup = bool(flags & 0x08)
    if qos == 0 and dup:
        raise MalformedPacket("DUP set on a qos 0 PUBLISH")
    topic, pos = _read_str(body, 0)
    if not topic or "+" in topic or "#" in topic:
        raise MalformedPacket("invalid topic name in PUBLISH")
    pid = 0
    if qos:
        if pos + 2 > len(body):
            raise MalformedPacket("truncated PUBLISH")
        pid = struct.unpack_from("!H", body, pos)[0]
        if pid == 0:
            raise MalformedPacket("packet id 0")
        pos += 2
    return topic, bytes(body[pos:]), qos, bool(flags & 1), dup, pid


def puback(pid):
    _check_pid(pid)
    return struct.pack("!BBH", PUBACK << 4, 2, pid)


def parse_puback(body):
    return _pid_only(body, "PUBACK")


# ---------------------------------------------------------------- SUBSCRIBE / UNSUBSCRIBE


def subscribe(pid, topics):
    """SUBSCRIBE for ``topics``: a list of (filter, qos)."""
    _check_pid(pid)
    if not topics:
        raise ValueError("SUBSCRIBE needs at least one filter")
    body = struct.pack("!H", pid)
    for filt, qos in topics:
        validate_filter(filt)
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        body += _utf8(filt) + bytes([qos])
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def parse_suback(body):
    """SUBACK body -> (pid, [granted qos or 0x80])."""
    if len(body) < 3:
        raise MalformedPacket("truncated SUBACK")
    pid = struct.unpack_from("!H", body, 0)[0]
    codes = list(body[2:])
    for c in codes:
        if c not in (0, 1, 2, SUBACK_FAILURE):
            raise MalformedPacket("bad SUBACK return code")
    return pid, codes


def unsubscribe(pid, filters):
    _check_pid(pid)
    if not filters:
        raise ValueError("UNSUBSCRIBE needs at least one filter")
    body = struct.pack("!H", pid)
    for filt in filters:
        validate_filter(filt)
        body += _utf8(filt)
    return _packet((UNSUBSCRIBE << 4) | 0x02, body)


def parse_unsuback(body):
    return _pid_only(body, "UNSUBACK")


# ---------------------------------------------------------------- fixed header checks


def check_fixed_header(first):
    """(type, flags) of a first byte; MalformedPacket for type 0/15 or wrong reserved flags
    (3.2.1 table 2.2: PUBREL, SUBSCRIBE and UNSUBSCRIBE 0b0010, PUBLISH free, others 0)."""
    ptype = first >> 4
    flags = first & 0x0F
    if ptype == PUBLISH:
        return ptype, flags
    if ptype == 0 or ptype == 15:
        raise MalformedPacket("reserved packet type %d" % ptype)
    if flags != (2 if ptype in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) else 0):
        raise MalformedPacket("bad flags for %s" % packet_name(ptype))
    return ptype, flags


async def _read_exactly(stream, n):
    try:
        data = await stream.readexactly(n)
    except EOFError:  # MicroPython's EOF, and CPython's IncompleteReadError (a subclass)
        raise ConnectionClosed("connection closed by peer")
    except OSError as e:
        raise ConnectionClosed("connection lost: %s" % (e,))
    if len(data) != n:
        raise ConnectionClosed("connection closed by peer")
    return data


async def read_packet(stream, max_size):
    """Read one packet from an asyncio stream -> (type, flags, body).

    The length is checked against ``max_size`` before the body is read: an oversized packet
    raises PacketTooLarge without buffering it (the caller must drop the connection, the stream
    is no longer in sync). EOF/reset -> ConnectionClosed; bad header -> MalformedPacket.
    """
    first = (await _read_exactly(stream, 1))[0]
    ptype, flags = check_fixed_header(first)
    n = 0
    shift = 0
    for i in range(5):
        if i == 4:
            raise MalformedPacket("remaining length longer than 4 bytes")
        b = (await _read_exactly(stream, 1))[0]
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
    if n > max_size:
        raise PacketTooLarge("packet of %d bytes over the %d-byte limit" % (n, max_size))
    body = await _read_exactly(stream, n) if n else b""
    return ptype, flags, body
