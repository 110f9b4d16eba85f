"""Fuzz gateway.core.dns: random and mutated packets never raise, answers stay well-formed."""

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core import dns

IP = "192.168.4.1"

label = st.binary(min_size=1, max_size=63)
names = st.lists(label, min_size=0, max_size=6)


def encode(labels, qtype, qclass, qid, flags):
    body = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    return struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0) + body + struct.pack(">HH", qtype, qclass)


valid_queries = st.builds(
    encode,
    names,
    st.sampled_from([1, 28, 5, 15, 16, 33, 65, 255]) | st.integers(0, 65535),
    st.sampled_from([1, 3, 255]) | st.integers(0, 65535),
    st.integers(0, 65535),
    st.sampled_from([0x0000, 0x0100, 0x0120]),
)


def check(pkt):
    try:
        r = dns.answer(pkt, IP)
    except Exception as e:  # noqa: BLE001 - the property is "nothing escapes"
        raise AssertionError("answer raised %r for %r" % (e, pkt)) from e
    if r is None:
        # only packets without a usable header, or responses, are dropped
        assert len(pkt) < 12 or pkt[2] & 0x80
        return
    assert isinstance(r, bytes) and 12 <= len(r) <= 12 + 255 + 4 + 16
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", r[:12])
    assert qid == struct.unpack(">H", pkt[:2])[0]
    assert flags & 0x8000
    assert (ns, ar) == (0, 0)
    rcode = flags & 0xF
    assert rcode in (0, 1, 4)
    if rcode:
        assert (qd, an, len(r)) == (0, 0, 12)
    else:
        assert qd == 1 and an in (0, 1)
        _labels, end = dns.read_name(r, 12)  # the echoed question parses back
        qtype, qclass = struct.unpack(">HH", r[end : end + 4])
        if an:
            assert (qtype, qclass) == (1, 1)
            assert r[-4:] == bytes([192, 168, 4, 1])
        else:
            assert len(r) == end + 4
    # parse_query agrees: raises only DNSError (a ValueError)
    try:
        dns.parse_query(pkt)
    except dns.DNSError:
        pass


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(pkt):
    check(pkt)


@settings(max_examples=400, deadline=None)
@given(valid_queries)
def test_valid_queries_answered(pkt):
    r = dns.answer(pkt, IP)
    assert r is not None and r[3] & 0xF == 0
    check(pkt)


@settings(max_examples=800, deadline=None)
@given(valid_queries, st.data())
def test_mutated_queries(pkt, data):
    buf = bytearray(pkt)
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "set", "cut", "insert", "pointer"]))
        if op == "flip" and buf:
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and buf:
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            buf = buf[: data.draw(st.integers(0, len(buf)))]
        elif op == "insert":
            i = data.draw(st.integers(0, len(buf)))
            buf[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "pointer" and len(buf) > 13:
            # plant a compression pointer anywhere in the name area, aimed anywhere
            i = data.draw(st.integers(12, len(buf) - 2))
            target = data.draw(st.integers(0, 0x3FFF))
            buf[i] = 0xC0 | (target >> 8)
            buf[i + 1] = target & 0xFF
    check(bytes(buf))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(0, 0x3FFF))
def test_pointer_chains(hops, first):
    # long chains and loops of pointers: finite work, FORMERR or an answer, never an exception
    body = bytearray()
    for i in range(hops):
        t = (first + i * 2) & 0x3FFF
        body += bytes([0xC0 | (t >> 8), t & 0xFF])
    pkt = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + bytes(body) + b"\x00\x00\x01\x00\x01"
    check(pkt)
