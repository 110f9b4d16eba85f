"""Captive-portal DNS: every A question is answered with the gateway's own address.

Pure packet logic (RFC 1035), no sockets. ``answer(query, ip)`` returns the response bytes or
None (drop). Rules:

- shorter than the 12-byte header, or a response (QR=1): dropped (None) - never answer
  answers, so two portals cannot ping-pong and we are no reflector for replies;
- opcode != 0 (QUERY): NOTIMP, header only;
- qdcount != 1, or a question that is truncated / badly encoded: FORMERR, header only;
- one question, type A (1), class IN (1): NOERROR, AA, one A record (TTL ``TTL`` s) pointing
  at ``ip``;
- one question of any other type or class (AAAA, HTTPS, ANY, ...): NOERROR with no answer
  ("NODATA"), so clients fall back to IPv4 quickly instead of waiting for a timeout.

The question is copied back decoded and re-encoded without compression; the answer's name is a
pointer to it (offset 12). Answer/authority/additional sections of the query (e.g. an EDNS OPT
record) are ignored: we answer without EDNS, which RFC 6891 allows. Response size is bounded
by 12 + 255 + 4 + 16 bytes.

Name parsing is bounds-checked; compression pointers must point strictly backwards (so they
cannot loop) and at most ``MAX_POINTERS`` are followed; names longer than 255 bytes and label
types 0b01/0b10 are FORMERR. Errors raise ``DNSError`` (a ValueError); ``answer`` catches it.
"""

import struct

TTL = 60
MAX_POINTERS = 16
MAX_NAME = 255

TYPE_A = 1
CLASS_IN = 1
RCODE_OK = 0
RCODE_FORMERR = 1
RCODE_NOTIMP = 4


class DNSError(ValueError):
    """The query is malformed (parse_query)."""


def ip_bytes(ip):
    """ "a.b.c.d" -> 4 bytes; ValueError if it is not a dotted IPv4 address."""
    if isinstance(ip, (bytes, bytearray)) and len(ip) == 4:
        return bytes(ip)
    if not isinstance(ip, str):
        raise ValueError("ip")
    parts = ip.split(".")
    if len(parts) != 4:
        raise ValueError("ip")
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not p or len(p) > 3 or not p.isdigit():
            raise ValueError("ip")
        v = int(p)
        if v > 255:
            raise ValueError("ip")
        out[i] = v
    return bytes(out)


def read_name(pkt, pos):
    """Labels of the (possibly compressed) name at ``pos``.

    Returns (list of label bytes, position just after the name in the original stream).
    """
    labels = []
    total = 0
    end = -1  # where the name ends in the stream: set at the first pointer
    jumps = 0
    n = len(pkt)
    while True:
        if pos >= n:
            raise DNSError("name truncated")
        ln = pkt[pos]
        kind = ln & 0xC0
        if kind == 0xC0:
            if pos + 1 >= n:
                raise DNSError("pointer truncated")
            target = ((ln & 0x3F) << 8) | pkt[pos + 1]
            if target >= pos:  # only backwards: no loops, no forward tricks
                raise DNSError("bad pointer")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise DNSError("too many pointers")
            if end < 0:
                end = pos + 2
            pos = target
            continue
        if kind:
            raise DNSError("bad label type")
        if ln == 0:
            total += 1
            if total > MAX_NAME:
                raise DNSError("name too long")
            if end < 0:
                end = pos + 1
            return labels, end
        if pos + 1 + ln > n:
            raise DNSError("label truncated")
        total += ln + 1
        if total > MAX_NAME:
            raise DNSError("name too long")
        labels.append(bytes(pkt[pos + 1 : pos + 1 + ln]))
        pos += 1 + ln


def parse_header(pkt):
    """(id, flags, qdcount, ancount, nscount, arcount); DNSError when shorter than 12 bytes."""
    if len(pkt) < 12:
        raise DNSError("short header")
    return struct.unpack_from(">HHHHHH", pkt, 0)


def parse_query(pkt):
    """Parse a standard query with exactly one question.

    Returns a dict {"id", "flags", "opcode", "labels", "name", "qtype", "qclass"} where "name"
    is the dotted name as bytes (lowercase). Raises DNSError for anything else.
    """
    qid, flags, qd = parse_header(pkt)[:3]
    if flags & 0x8000:
        raise DNSError("not a query")
    opcode = (flags >> 11) & 0xF
    if opcode != 0:
        raise DNSError("opcode")
    if qd != 1:
        raise DNSError("qdcount")
    labels, pos = read_name(pkt, 12)
    if pos + 4 > len(pkt):
        raise DNSError("question truncated")
    qtype, qclass = struct.unpack_from(">HH", pkt, pos)
    return {
        "id": qid,
        "flags": flags,
        "opcode": opcode,
        "labels": labels,
        "name": b".".join(labels).lower(),
        "qtype": qtype,
        "qclass": qclass,
    }


def _header(qid, qflags, rcode, qd, an):
    # QR=1, opcode copied, AA=1, TC=0, RD copied, RA=1 (we "resolve" everything), Z=0
    flags = 0x8000 | (qflags & 0x7800) | 0x0400 | (qflags & 0x0100) | 0x0080 | (rcode & 0xF)
    return struct.pack(">HHHHHH", qid, flags, qd, an, 0, 0)


def _encode_name(labels):
    out = bytearray()
    for lab in labels:
        out.append(len(lab))
        out.extend(lab)
    out.append(0)
    return out


def answer(query, ip):
    """Response bytes for the DNS packet ``query`` (every A -> ``ip``), or None to drop it.

    Never raises for any packet content; raises ValueError only if ``ip`` is not an IPv4
    address (a programming error).
    """
    addr = ip_bytes(ip)
    if not isinstance(query, (bytes, bytearray, memoryview)):
        return None
    try:
        qid, qflags = parse_header(query)[:2]
    except (DNSError, TypeError):
        return None
    if qflags & 0x8000:
        return None
    if (qflags >> 11) & 0xF != 0:
        return _header(qid, qflags, RCODE_NOTIMP, 0, 0)
    try:
        q = parse_query(query)
    except DNSError:
        return _header(qid, qflags, RCODE_FORMERR, 0, 0)
    question = _encode_name(q["labels"])
    question.extend(struct.pack(">HH", q["qtype"], q["qclass"]))
    if q["qtype"] == TYPE_A and q["qclass"] == CLASS_IN:
        out = bytearray(_header(qid, qflags, RCODE_OK, 1, 1))
        out.extend(question)
        out.extend(struct.pack(">HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4))
        out.extend(addr)
        return bytes(out)
    out = bytearray(_header(qid, qflags, RCODE_OK, 1, 0))
    out.extend(question)
    return bytes(out)


def build_query(name, qtype=TYPE_A, qid=0x1234, qclass=CLASS_IN, rd=True):
    """A standard one-question query for ``name`` (str or bytes, dotted); for tests and tools."""
    if isinstance(name, str):
        name = name.encode()
    labels = [lab for lab in name.split(b".") if lab]
    out = bytearray(struct.pack(">HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0))
    out.extend(_encode_name(labels))
    out.extend(struct.pack(">HH", qtype, qclass))
    return bytes(out)
