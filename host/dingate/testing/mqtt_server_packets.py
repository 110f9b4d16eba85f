"""MQTT 3.1.1 packets, the broker's side: parse what a client sends (CONNECT, SUBSCRIBE,
UNSUBSCRIBE), build the broker's answers (CONNACK, SUBACK, UNSUBACK), split a byte stream into
packets and match topic filters.

The gateway is only a client (gateway.core.mqtt_packets) and never loads this module: the core
tests use it to check the client's encoders, and it is there for a local test broker.
"""
import struct

from gateway.core.mqtt_packets import (
    CONNACK,
    MAX_REMAINING,
    SUBACK,
    UNSUBACK,
    MalformedPacket,
    PacketTooLarge,
    _packet,
    _read_blob,
    _read_str,
    check_fixed_header,
    validate_filter,
)


def decode_varint(buf, pos=0):
    """Decode a remaining length at ``buf[pos:]`` -> (value, next_pos), or None if incomplete.

    Raises MalformedPacket when a fifth byte would be needed.
    """
    value = 0
    shift = 0
    for i in range(4):
        if pos + i >= len(buf):
            return None
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos + i + 1
        shift += 7
    raise MalformedPacket("remaining length longer than 4 bytes")


def topic_matches(filt, topic):
    """True if topic name ``topic`` matches subscription filter ``filt`` (+ and # wildcards).

    Topics starting with '$' are not matched by a filter starting with a wildcard.
    """
    if topic[:1] == "$" and filt[:1] in ("+", "#"):
        return False
    f = filt.split("/")
    t = topic.split("/")
    nf = len(f)
    nt = len(t)
    i = 0
    while i < nf:
        lev = f[i]
        if lev == "#":
            return True  # matches the parent level too ("a/#" matches "a")
        if i >= nt:
            return False
        if lev != "+" and lev != t[i]:
            return False
        i += 1
    return nt == nf


def parse_connect(body):
    """CONNECT body -> dict (client_id, keepalive, clean, user, password, will_*)."""
    name, pos = _read_str(body, 0)
    if name != "MQTT":
        raise MalformedPacket("protocol name is not MQTT")
    if pos + 4 > len(body):
        raise MalformedPacket("truncated CONNECT")
    level = body[pos]
    flags = body[pos + 1]
    keepalive = struct.unpack_from("!H", body, pos + 2)[0]
    pos += 4
    if flags & 0x01:
        raise MalformedPacket("reserved CONNECT flag set")
    out = {"level": level, "clean": bool(flags & 0x02), "keepalive": keepalive,
           "will_topic": None, "will_payload": None, "will_qos": 0, "will_retain": False,
           "user": None, "password": None}
    out["client_id"], pos = _read_str(body, pos)
    if flags & 0x04:
        out["will_qos"] = (flags >> 3) & 3
        if out["will_qos"] == 3:
            raise MalformedPacket("will qos 3")
        out["will_retain"] = bool(flags & 0x20)
        out["will_topic"], pos = _read_str(body, pos)
        out["will_payload"], pos = _read_blob(body, pos)
    elif flags & 0x38:
        raise MalformedPacket("will qos/retain without will flag")
    if flags & 0x80:
        out["user"], pos = _read_str(body, pos)
    elif flags & 0x40:
        raise MalformedPacket("password flag without user name flag")
    if flags & 0x40:
        out["password"], pos = _read_blob(body, pos)
    if pos != len(body):
        raise MalformedPacket("trailing bytes in CONNECT")
    return out


def connack(session_present, rc):
    return bytes([CONNACK << 4, 2, 1 if session_present else 0, rc])


def _filters(body, kind, with_qos):
    """The packet id and the topic filters of a SUBSCRIBE or UNSUBSCRIBE body (``kind``), each
    with its requested qos when ``with_qos``."""
    if len(body) < 2:
        raise MalformedPacket("truncated " + kind)
    pid = struct.unpack_from("!H", body, 0)[0]
    pos = 2
    out = []
    while pos < len(body):
        filt, pos = _read_str(body, pos)
        if not with_qos:
            out.append(filt)
            continue
        if pos >= len(body):
            raise MalformedPacket("SUBSCRIBE filter without qos")
        qos = body[pos]
        pos += 1
        if qos > 2:
            raise MalformedPacket("SUBSCRIBE qos > 2")
        try:
            validate_filter(filt)
        except ValueError as e:
            raise MalformedPacket(str(e))
        out.append((filt, qos))
    if not out:
        raise MalformedPacket(kind + " without filters")
    return pid, out


def parse_subscribe(body):
    """SUBSCRIBE body -> (pid, [(filter, qos)])."""
    return _filters(body, "SUBSCRIBE", True)


def suback(pid, codes):
    return _packet(SUBACK << 4, struct.pack("!H", pid) + bytes(codes))


def parse_unsubscribe(body):
    """UNSUBSCRIBE body -> (pid, [filter])."""
    return _filters(body, "UNSUBSCRIBE", False)


def unsuback(pid):
    return struct.pack("!BBH", UNSUBACK << 4, 2, pid)


def split_packet(buf, max_size=MAX_REMAINING):
    """Parse one packet at the start of ``buf`` -> (type, flags, body, consumed) or None if
    ``buf`` does not hold a whole packet yet. Raises PacketTooLarge past ``max_size`` (body
    bytes) as soon as the length is known."""
    if not buf:
        return None
    ptype, flags = check_fixed_header(buf[0])
    r = decode_varint(buf, 1)
    if r is None:
        return None
    n, pos = r
    if n > max_size:
        raise PacketTooLarge("packet of %d bytes over the %d-byte limit" % (n, max_size))
    if len(buf) < pos + n:
        return None
    return ptype, flags, bytes(buf[pos:pos + n]), pos + n
