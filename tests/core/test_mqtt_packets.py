"""MQTT 3.1.1 packet codec, stream reader and topic rules (CPython and MicroPython)."""
from _assert import raises

from dingate.testing import mqtt_server_packets as S
from gateway.core import mqtt_packets as P


class FakeStream:
    """Minimal asyncio stream: readexactly() over a byte string, EOF at the end."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    async def readexactly(self, n):
        if self.pos + n > len(self.data):
            self.pos = len(self.data)
            raise EOFError
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def _run(coro):
    """Drive a coroutine that never really suspends (FakeStream answers at once). No asyncio:
    MICROPYPATH=firmware:tests/core hides the frozen asyncio package from the unix port."""
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    raise AssertionError("coroutine suspended")


def _split(pkt):
    """Whole packet -> (type, flags, body) through split_packet."""
    r = S.split_packet(pkt)
    assert r is not None and r[3] == len(pkt)
    return r[0], r[1], r[2]


# ------------------------------------------------------------------ remaining length


def test_varint_boundaries_roundtrip():
    cases = [(0, 1), (127, 1), (128, 2), (16383, 2), (16384, 3), (2097151, 3), (2097152, 4),
             (268435455, 4)]
    for value, size in cases:
        enc = P.encode_varint(value)
        assert len(enc) == size, (value, enc)
        assert S.decode_varint(enc) == (value, size)
        assert S.decode_varint(b"\x00" + enc, 1) == (value, size + 1)


def test_varint_known_bytes():
    assert P.encode_varint(321) == b"\xc1\x02"
    assert P.encode_varint(268435455) == b"\xff\xff\xff\x7f"


def test_varint_out_of_range_and_malformed():
    raises(ValueError, P.encode_varint, 268435456)
    raises(ValueError, P.encode_varint, -1)
    raises(P.MalformedPacket, S.decode_varint, b"\xff\xff\xff\xff\x01")
    assert S.decode_varint(b"\x80\x80") is None
    assert S.decode_varint(b"") is None


# ------------------------------------------------------------------ CONNECT / CONNACK


def test_connect_minimal_known_bytes():
    pkt = P.connect("a", keepalive=60, clean=True)
    assert pkt == bytes([0x10, 0x0D, 0, 4]) + b"MQTT" + bytes([4, 0x02, 0, 60, 0, 1]) + b"a"


def test_connect_full_roundtrip():
    pkt = P.connect("gw-1", keepalive=30, user="u", password="p\xe9", clean=False,
                    will_topic="d/1/status", will_payload=b"offline", will_qos=1,
                    will_retain=True)
    t, flags, body = _split(pkt)
    assert t == P.CONNECT and flags == 0
    c = S.parse_connect(body)
    assert c["client_id"] == "gw-1" and c["keepalive"] == 30 and c["clean"] is False
    assert c["user"] == "u" and c["password"] == "p\xe9".encode()
    assert c["will_topic"] == "d/1/status" and c["will_payload"] == b"offline"
    assert c["will_qos"] == 1 and c["will_retain"] is True
    assert c["level"] == 4
    # the connect flags byte: user, password, will retain, will qos 1, will flag (clean off)
    assert body[7] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04


def test_connect_rejects_password_without_user_and_bad_values():
    raises(ValueError, P.connect, "x", password="p")
    raises(ValueError, P.connect, "x", keepalive=70000)
    raises(ValueError, P.connect, "x", will_topic="a/+")
    raises(ValueError, P.connect, "x", will_topic="a", will_qos=3)


def test_parse_connect_rejects_protocol_violations():
    body = _split(P.connect("a"))[2]
    bad = bytearray(body)
    bad[7] |= 0x01  # reserved flag
    raises(P.MalformedPacket, S.parse_connect, bytes(bad))
    bad = bytearray(body)
    bad[7] |= 0x40  # password without user
    raises(P.MalformedPacket, S.parse_connect, bytes(bad))
    raises(P.MalformedPacket, S.parse_connect, body[:-1])
    raises(P.MalformedPacket, S.parse_connect, body + b"x")
    raises(P.MalformedPacket, S.parse_connect, b"\x00\x04MQTX\x04\x02\x00\x00\x00\x00")


def test_connack_codes_and_messages():
    t, _, body = _split(S.connack(True, 0))
    assert t == P.CONNACK
    assert P.parse_connack(body) == (True, 0)
    assert P.parse_connack(b"\x00\x05") == (False, 5)
    assert "bad user name or password" in P.connack_message(4)
    assert "not authorized" in P.connack_message(5)
    assert "identifier rejected" in P.connack_message(2)
    assert "server unavailable" in P.connack_message(3)
    assert "protocol version" in P.connack_message(1)
    assert P.connack_message(0) == "connection accepted"
    assert "77" in P.connack_message(77)
    raises(P.MalformedPacket, P.parse_connack, b"\x02\x00")
    raises(P.MalformedPacket, P.parse_connack, b"\x00")


# ------------------------------------------------------------------ PUBLISH / PUBACK


def test_publish_known_bytes_qos1():
    pkt = P.publish("a/b", b"hi", qos=1, pid=10)
    assert pkt == b"\x32\x09\x00\x03a/b\x00\x0ahi"


def test_publish_roundtrip_flags():
    for qos in (0, 1):
        for retain in (False, True):
            for dup in ((False, True) if qos else (False,)):
                pkt = P.publish("x/\xe9/y", "payload \xe9", qos=qos, retain=retain, dup=dup,
                                pid=65535 if qos else 0)
                t, flags, body = _split(pkt)
                assert t == P.PUBLISH
                topic, payload, q, r, d, pid = P.parse_publish(flags, body)
                assert topic == "x/\xe9/y" and payload == "payload \xe9".encode()
                assert (q, r, d) == (qos, retain, dup)
                assert pid == (65535 if qos else 0)


def test_publish_header_matches_publish():
    payload = b"z" * 300
    hdr = P.publish_header("t", len(payload), qos=1, retain=True, pid=7)
    assert hdr + payload == P.publish("t", payload, qos=1, retain=True, pid=7)


def test_publish_empty_payload_and_large():
    t, flags, body = _split(P.publish("t", b"", retain=True))
    assert P.parse_publish(flags, body) == ("t", b"", 0, True, False, 0)
    big = bytes(range(256)) * 80
    t, flags, body = _split(P.publish("t", big, qos=1, pid=1))
    assert P.parse_publish(flags, body)[1] == big


def test_publish_rejects_bad_input():
    raises(ValueError, P.publish, "a/#", b"")
    raises(ValueError, P.publish, "", b"")
    raises(ValueError, P.publish, "a", b"", qos=1, pid=0)
    raises(ValueError, P.publish, "a", b"", qos=0, dup=True)
    raises(P.MalformedPacket, P.parse_publish, 0x06, b"\x00\x01a")  # qos 3
    raises(P.MalformedPacket, P.parse_publish, 0x08, b"\x00\x01a")  # dup on qos 0
    raises(P.MalformedPacket, P.parse_publish, 0x02, b"\x00\x01a\x00\x00")  # pid 0
    raises(P.MalformedPacket, P.parse_publish, 0x00, b"\x00\x03a/+")
    raises(P.MalformedPacket, P.parse_publish, 0x00, b"\x00\x05ab")


def test_puback():
    pkt = P.puback(513)
    assert pkt == b"\x40\x02\x02\x01"
    t, flags, body = _split(pkt)
    assert t == P.PUBACK and P.parse_puback(body) == 513
    raises(P.MalformedPacket, P.parse_puback, b"\x00\x00")
    raises(ValueError, P.puback, 0)


# ------------------------------------------------------------------ SUBSCRIBE & co


def test_subscribe_roundtrip_and_flags():
    pkt = P.subscribe(5, [("a/+/c", 1), ("d/#", 0)])
    assert pkt[0] == 0x82
    t, flags, body = _split(pkt)
    assert t == P.SUBSCRIBE
    assert S.parse_subscribe(body) == (5, [("a/+/c", 1), ("d/#", 0)])
    raises(ValueError, P.subscribe, 5, [])
    raises(ValueError, P.subscribe, 5, [("a/#/b", 0)])
    raises(ValueError, P.subscribe, 5, [("a", 3)])


def test_suback():
    t, _, body = _split(S.suback(5, [1, 0x80]))
    assert t == P.SUBACK
    assert P.parse_suback(body) == (5, [1, 0x80])
    raises(P.MalformedPacket, P.parse_suback, b"\x00\x05\x03")
    raises(P.MalformedPacket, P.parse_suback, b"\x00\x05")


def test_unsubscribe_unsuback():
    pkt = P.unsubscribe(9, ["a/b", "c/#"])
    assert pkt[0] == 0xA2
    t, _, body = _split(pkt)
    assert S.parse_unsubscribe(body) == (9, ["a/b", "c/#"])
    t, _, body = _split(S.unsuback(9))
    assert t == P.UNSUBACK and P.parse_unsuback(body) == 9


def test_ping_disconnect():
    assert P.PINGREQ_PACKET == b"\xc0\x00"
    assert _split(P.PINGRESP_PACKET)[0] == P.PINGRESP
    assert _split(P.DISCONNECT_PACKET)[0] == P.DISCONNECT


def test_fixed_header_reserved_flags():
    raises(P.MalformedPacket, P.check_fixed_header, 0x00)  # type 0
    raises(P.MalformedPacket, P.check_fixed_header, 0xF0)  # type 15
    raises(P.MalformedPacket, P.check_fixed_header, 0x80)  # SUBSCRIBE without 0b0010
    raises(P.MalformedPacket, P.check_fixed_header, 0x41)  # PUBACK with flags
    assert P.check_fixed_header(0x3B) == (P.PUBLISH, 0x0B)


# ------------------------------------------------------------------ incremental parsing


def test_split_packet_incremental_stream_of_packets():
    stream = (S.connack(False, 0) + P.publish("a", b"1", qos=1, pid=1) + P.PINGRESP_PACKET
              + P.publish("b", b"x" * 200))
    buf = b""
    got = []
    for i in range(len(stream)):  # feed one byte at a time
        buf += stream[i:i + 1]
        while True:
            r = S.split_packet(buf)
            if r is None:
                break
            got.append((r[0], r[2]))
            buf = buf[r[3]:]
    assert buf == b""
    assert [g[0] for g in got] == [P.CONNACK, P.PUBLISH, P.PINGRESP, P.PUBLISH]
    assert got[3][1].endswith(b"x" * 200)


def test_split_packet_rejects_oversized_before_body():
    hdr = P.publish_header("t", 5000)
    raises(P.PacketTooLarge, S.split_packet, hdr, 1000)


def test_read_packet_from_stream():
    data = P.publish("s/t", b"v", qos=1, pid=3) + P.PINGRESP_PACKET

    async def go():
        s = FakeStream(data)
        a = await P.read_packet(s, 1024)
        b = await P.read_packet(s, 1024)
        return a, b

    a, b = _run(go())
    assert a[0] == P.PUBLISH and P.parse_publish(a[1], a[2])[:2] == ("s/t", b"v")
    assert b == (P.PINGRESP, 0, b"")


def test_read_packet_oversized_is_rejected_without_reading_body():
    pkt = P.publish("t", b"y" * 5000)
    s = FakeStream(pkt)

    async def go():
        await P.read_packet(s, 1000)

    raises(P.PacketTooLarge, _run, go())
    assert s.pos == 3  # first byte + 2 length bytes, body untouched


def test_read_packet_eof_and_malformed():
    async def go(data):
        await P.read_packet(FakeStream(data), 1000)

    raises(P.ConnectionClosed, _run, go(b""))
    raises(P.ConnectionClosed, _run, go(P.publish("t", b"abc")[:-1]))
    raises(P.MalformedPacket, _run, go(b"\x30\xff\xff\xff\xff\x01"))
    raises(P.MalformedPacket, _run, go(b"\x00\x00"))


def test_errors_share_a_base():
    for cls in (P.MalformedPacket, P.PacketTooLarge, P.ConnectionClosed):
        assert issubclass(cls, P.MQTTError)


# ------------------------------------------------------------------ topics


def test_topic_matching():
    yes = [("a/b", "a/b"), ("a/+", "a/b"), ("a/#", "a"), ("a/#", "a/b/c"), ("#", "a/b"),
           ("+/+", "a/b"), ("+", "a"), ("a/+/c", "a/b/c"), ("/+", "/x"), ("+/b", "/b"),
           ("a//c", "a//c"), ("a/+/+", "a//x"), ("$SYS/#", "$SYS/x")]
    no = [("a/b", "a/c"), ("a/+", "a/b/c"), ("a/+", "a"), ("+", "a/b"), ("a/b", "a/b/c"),
          ("#", "$SYS/x"), ("+/x", "$SYS/x"), ("a/b/c", "a/b"), ("A/b", "a/b")]
    for f, t in yes:
        assert S.topic_matches(f, t), (f, t)
    for f, t in no:
        assert not S.topic_matches(f, t), (f, t)


def test_topic_and_filter_validation():
    for good in ("a", "a/b", "/a", "a/", "dingate/GW1/meter/3/sample"):
        P.validate_topic(good)
    for bad in ("", "a/+", "a/#", "a\x00b", 5):
        raises(ValueError, P.validate_topic, bad)
    for good in ("#", "+", "a/+/b", "a/#", "+/+/#"):
        P.validate_filter(good)
    for bad in ("", "a#", "a/#/b", "a+/b", "a/b+", "##"):
        raises(ValueError, P.validate_filter, bad)
