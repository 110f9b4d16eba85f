"""gateway.core.dns: captive-portal answers for hand-built, truncated and hostile packets."""

import struct

from _assert import raises

from gateway.core import dns

IP = "192.168.4.1"


def hdr(qid=0xBEEF, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def qname(*labels):
    out = b""
    for lab in labels:
        out += bytes([len(lab)]) + lab
    return out + b"\x00"


def q(name_bytes, qtype=1, qclass=1, **kw):
    return hdr(**kw) + name_bytes + struct.pack(">HH", qtype, qclass)


def unpack(resp):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", resp[:12])
    return {
        "id": qid,
        "qr": flags >> 15,
        "opcode": (flags >> 11) & 0xF,
        "aa": (flags >> 10) & 1,
        "tc": (flags >> 9) & 1,
        "rd": (flags >> 8) & 1,
        "rcode": flags & 0xF,
        "qd": qd,
        "an": an,
        "ns": ns,
        "ar": ar,
    }


def test_a_query_gets_our_address():
    query = q(qname(b"connectivitycheck", b"gstatic", b"com"))
    r = dns.answer(query, IP)
    h = unpack(r)
    assert h["id"] == 0xBEEF and h["qr"] == 1 and h["opcode"] == 0 and h["rcode"] == 0
    assert h["aa"] == 1 and h["tc"] == 0 and h["rd"] == 1
    assert (h["qd"], h["an"], h["ns"], h["ar"]) == (1, 1, 0, 0)
    # question echoed exactly, then the answer pointing back at it
    assert r[12 : len(query)] == query[12:]
    rest = r[len(query) :]
    name_ptr, t, c, ttl, rdlen = struct.unpack(">HHHIH", rest[:12])
    assert name_ptr == 0xC00C and t == 1 and c == 1 and ttl == dns.TTL and rdlen == 4
    assert rest[12:] == bytes([192, 168, 4, 1])
    assert len(r) == len(query) + 16
    assert 0 < dns.TTL <= 300


def test_rd_bit_copied():
    r = dns.answer(q(qname(b"x", b"y"), flags=0), "10.0.0.1")
    assert unpack(r)["rd"] == 0
    assert r[-4:] == bytes([10, 0, 0, 1])


def test_aaaa_and_other_types_get_empty_noerror():
    for qtype, qclass in ((28, 1), (65, 1), (255, 1), (15, 1), (16, 1), (1, 3), (1, 255)):
        query = q(qname(b"apple", b"com"), qtype, qclass)
        r = dns.answer(query, IP)
        h = unpack(r)
        assert h["rcode"] == 0 and h["qr"] == 1, qtype
        assert (h["qd"], h["an"], h["ns"], h["ar"]) == (1, 0, 0, 0)
        assert r[12:] == query[12:]


def test_root_and_odd_but_legal_names():
    r = dns.answer(q(b"\x00"), IP)
    assert unpack(r)["an"] == 1
    # 63-byte label and binary label bytes are legal
    r = dns.answer(q(qname(b"a" * 63, b"\xff\x00.", b"com")), IP)
    assert unpack(r)["an"] == 1


def test_edns_additional_record_is_ignored():
    opt = b"\x00" + struct.pack(">HHIH", 41, 4096, 0, 0)
    query = q(qname(b"example", b"com"), ar=1) + opt
    r = dns.answer(query, IP)
    h = unpack(r)
    assert h["rcode"] == 0 and h["an"] == 1 and h["ar"] == 0
    assert r[-4:] == dns.ip_bytes(IP)


def test_compressed_question_is_reencoded():
    # The only thing before a lone question is the header, so the pointer aims into it:
    # ancount/nscount/arcount bytes (offset 6..11) spell 01 'a' 01 'b' 00 00 = the name "a.b".
    header = struct.pack(">HHH", 0xBEEF, 0x0100, 1) + b"\x01a\x01b\x00\x00"
    query = header + b"\x03www\xc0\x06" + struct.pack(">HH", 1, 1)
    r = dns.answer(query, IP)
    h = unpack(r)
    assert h["rcode"] == 0 and h["an"] == 1 and h["ns"] == 0 and h["ar"] == 0
    assert r[12 : 12 + 13] == b"\x03www\x01a\x01b\x00\x00\x01\x00\x01"
    assert dns.parse_query(query)["name"] == b"www.a.b"


def test_not_implemented_opcodes():
    for opcode in (1, 2, 4, 5, 15):
        r = dns.answer(q(qname(b"a", b"b"), flags=(opcode << 11) | 0x0100), IP)
        h = unpack(r)
        assert h["rcode"] == dns.RCODE_NOTIMP and h["opcode"] == opcode and h["qr"] == 1
        assert (h["qd"], h["an"]) == (0, 0) and len(r) == 12


def test_formerr_for_question_count():
    for qd in (0, 2, 65535):
        r = dns.answer(q(qname(b"a", b"b"), qd=qd), IP)
        h = unpack(r)
        assert h["rcode"] == dns.RCODE_FORMERR and h["id"] == 0xBEEF and len(r) == 12


def test_responses_and_short_packets_dropped():
    assert dns.answer(q(qname(b"a"), flags=0x8180), IP) is None
    for n in range(12):
        assert dns.answer(b"\x12" * n, IP) is None
    assert dns.answer(None, IP) is None
    assert dns.answer("not bytes at all", IP) is None


def test_truncated_questions_formerr():
    full = q(qname(b"connectivitycheck", b"gstatic", b"com"))
    for cut in range(12, len(full)):
        r = dns.answer(full[:cut], IP)
        assert r is not None and unpack(r)["rcode"] == dns.RCODE_FORMERR, cut
        raises(ValueError, dns.parse_query, full[:cut])


def test_hostile_names():
    bad = [
        b"\xc0\x0c",  # pointer to itself (offset 12)
        b"\x01a\xc0\x0c",  # loop back to the start of the name
        b"\xc0\x0e\x00",  # forward pointer
        b"\xc0",  # half a pointer
        b"\x40abc\x00",  # reserved label type 01
        b"\x80abc\x00",  # reserved label type 10
        b"\x3fabc\x00",  # label longer than the packet
        b"\xff" * 4,
        (b"\x3f" + b"a" * 63) * 4 + b"\x00",  # 257 bytes of name: too long
    ]
    for name in bad:
        query = hdr() + name + b"\x00\x01\x00\x01"
        r = dns.answer(query, IP)
        assert unpack(r)["rcode"] == dns.RCODE_FORMERR, name
        e = raises(ValueError, dns.parse_query, query)
        assert isinstance(e, dns.DNSError)


def test_max_length_name_ok():
    # 3 x 63-byte labels + one 61-byte label = 4 + 250 bytes + root = 255 total: legal
    name = (b"\x3f" + b"a" * 63) * 3 + b"\x3d" + b"b" * 61 + b"\x00"
    assert len(name) == 255
    r = dns.answer(hdr() + name + b"\x00\x01\x00\x01", IP)
    assert unpack(r)["an"] == 1
    assert len(r) == 12 + 255 + 4 + 16


def test_pointer_chain_limit():
    # A name at offset 12, then a chain of pointers each aiming at the previous one (strictly
    # backwards, so finite); read_name follows at most MAX_POINTERS of them.
    def chain(hops):
        body = bytearray(b"\x01z\x00")
        prev = 12
        for _ in range(hops):
            here = 12 + len(body)
            body += bytes([0xC0 | (prev >> 8), prev & 0xFF])
            prev = here
        return hdr() + bytes(body), prev

    pkt, start = chain(dns.MAX_POINTERS)
    labels, end = dns.read_name(pkt, start)
    assert labels == [b"z"] and end == start + 2
    pkt, start = chain(dns.MAX_POINTERS + 1)
    raises(dns.DNSError, dns.read_name, pkt, start)


def test_ip_bytes():
    assert dns.ip_bytes("10.1.2.3") == b"\x0a\x01\x02\x03"
    assert dns.ip_bytes(b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04"
    for bad in ("", "1.2.3", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "1..2.3", " 1.2.3.4", None, 5):
        raises(ValueError, dns.ip_bytes, bad)
    raises(ValueError, dns.answer, q(qname(b"a")), "not-an-ip")


def test_build_query_roundtrip():
    pkt = dns.build_query("Captive.Apple.com", qtype=28, qid=7)
    p = dns.parse_query(pkt)
    assert p["id"] == 7 and p["qtype"] == 28 and p["qclass"] == 1
    assert p["name"] == b"captive.apple.com"
    assert p["labels"] == [b"Captive", b"Apple", b"com"]
    assert dns.answer(bytearray(pkt), IP) is not None
    assert dns.answer(memoryview(pkt), IP) == dns.answer(pkt, IP)
