"""Compact binary sample records for the flash ring.

A *sample* is ``(ts, meter, values)``: epoch seconds, the meter id (str) and a dict
``{quantity: fixed}`` where ``fixed`` is an integer in the quantity's fixed-point unit
(``decimals(q)`` decimal places: import_kwh/export_kwh -> 3, i.e. Wh). ``sample()`` converts
readings (floats) into this form; ``text()`` / ``number()`` convert back exactly. The quantities
and their fixed-point rules are core/quantities.py's; this module is the codec.

Segment file = segment header + frames. A segment is self-contained: its first occurrence of a
channel carries the channel's definition (meter id, quantity names, decimals) and absolute
values; later values are zigzag-varint deltas against the channel's previous values in the same
segment. Each frame (one per flush) carries its length and a CRC-32, so a torn tail is detected
and ignored, and losing a segment never affects another.

Segment header (16 bytes): b"DGS1", u32 seq, u32 base_ts, u32 crc32(first 12 bytes).
Frame: u8 0xB7, u16 payload length, payload, u32 crc32(length bytes + payload).
Payload: u8 kind (1 = samples), varint group count, then groups. A group is the samples of one
timestamp:
    varint zz(dt - previous dt)            dt = ts - previous ts (base_ts / 0 at segment start)
    varint head = n << 3 | zeromap << 2 | same << 1 | masked
    unless same: n x varint channel index (index == number of known channels -> definition:
                 varint len, meter id utf-8, varint nq, nq x (u8 code [0 -> varint len, name],
                 varint decimals))
    if masked:   n x varint presence mask over the channel's quantities
    if zeromap:  ceil(v/8) bytes, bit i set = i-th value changed (unchanged values are omitted)
    values:      varint zz(delta) (zz(delta) - 1 when zeromap: delta is never 0 there)
"""

import struct

from gateway.core import quantities as Q
from gateway.core.quantities import DEFAULT_DECIMALS, STORAGE_CODES  # noqa: F401

try:
    from binascii import crc32 as _crc32

    _crc32(b"")
except (ImportError, AttributeError):  # port without binascii.crc32: table-driven fallback
    _T = []

    def _crc32(data, crc=0):
        if not _T:  # the 256-entry table is built on first use only
            for i in range(256):
                c = i
                for _k in range(8):
                    c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
                _T.append(c)
        crc ^= 0xFFFFFFFF
        for b in data:
            crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


def crc32(data, crc=0):
    """CRC-32 of a buffer (bytes, bytearray or memoryview: nothing is copied)."""
    return _crc32(data, crc) & 0xFFFFFFFF


SEG_MAGIC = b"DGS1"
SEG_HEADER = 16
SYNC = 0xB7
FRAME_OVERHEAD = 7
MAX_PAYLOAD = 65535
MAX_FRAME_SAMPLES = 1000  # sample ids keep the index in a frame in 10 bits
KIND_SAMPLES = 1

# quantity codes, decimals, counters and the fixed-point rules: the catalogue (core/quantities.py)
_NAMES = STORAGE_CODES
decimals = Q.decimals
is_counter = Q.is_counter
fixed = Q.fixed
number = Q.number
text = Q.text
_POW10 = Q.POW10


def sample(ts, meter, values, quantities=None):
    """A sample from a reading's values (numbers); drops non-numeric / non-finite values."""
    out = {}
    for q in values:
        if quantities is not None and q not in quantities:
            continue
        if not isinstance(q, str) or not q:
            continue
        f = fixed(q, values[q])
        if f is not None:
            out[q] = f
    return (int(ts), str(meter), out)


def sample_json(s, extra=None):
    """One sample as compact JSON text with exact numbers: {"meter": "3", "ts": n, "q": v, ...}."""
    ts, meter, vals = s
    parts = ['"meter":%s' % _jstr(meter), '"ts":%d' % ts]
    if extra:
        for k in sorted(extra):
            parts.append("%s:%s" % (_jstr(k), _jstr(extra[k])))
    for q in sorted(vals):
        parts.append("%s:%s" % (_jstr(q), text(q, vals[q])))
    return "{" + ",".join(parts) + "}"


def _jstr(s):
    s = str(s)
    for c in s:
        if c < " " or c == '"' or c == "\\":
            break
    else:
        return '"%s"' % s  # the usual case: nothing to escape
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


# ---- varints -----------------------------------------------------------------------------


def zz(n):
    return n << 1 if n >= 0 else ((-n) << 1) - 1


def unzz(u):
    return u >> 1 if not u & 1 else -((u + 1) >> 1)


def put_varint(buf, u):
    while u >= 0x80:
        buf.append((u & 0x7F) | 0x80)
        u >>= 7
    buf.append(u)


def get_varint(b, i):
    """(value, next index); IndexError past the end."""
    shift = 0
    u = 0
    while True:
        c = b[i]
        i += 1
        u |= (c & 0x7F) << shift
        if c < 0x80:
            return u, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


# ---- segment header / frames -------------------------------------------------------------


def seg_header(seq, base_ts):
    h = SEG_MAGIC + struct.pack("<II", seq, base_ts & 0xFFFFFFFF)
    return h + struct.pack("<I", crc32(h))


def parse_seg_header(b):
    """(seq, base_ts) or None if b (bytes/bytearray/memoryview) is not a valid segment header."""
    if len(b) < SEG_HEADER:
        return None
    m = memoryview(b)
    if m[:4] != SEG_MAGIC or struct.unpack_from("<I", m, 12)[0] != crc32(m[:12]):
        return None
    return struct.unpack_from("<II", m, 4)


def frame(payload, buf=None):
    """The frame of a payload: new bytes, or appended to bytearray ``buf`` (returned)."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload too large")
    out = bytearray() if buf is None else buf
    k = len(out)
    out.append(SYNC)
    out.append(n & 0xFF)
    out.append(n >> 8)
    out.extend(payload)
    out.extend(struct.pack("<I", crc32(memoryview(out)[k + 1 :])))
    return bytes(out) if buf is None else out


def frame_end(m, i, end):
    """End offset of the frame at memoryview m[i:end]; 0 if incomplete, -1 if invalid (bad sync
    or CRC). Allocation-free apart from the CRC slice (the payload is m[i + 3 : end - 4])."""
    if end - i < 3:
        return 0
    if m[i] != SYNC:
        return -1
    e = i + 7 + (m[i + 1] | (m[i + 2] << 8))
    if e > end:
        return 0
    c = m[e - 4] | m[e - 3] << 8 | m[e - 2] << 16 | m[e - 1] << 24
    if c != _crc32(m[i + 1 : e - 4]) & 0xFFFFFFFF:
        return -1
    return e


def check_frame(b, i, end=None):
    """Frame at b[i:end] -> (payload_start, payload_end, next_i); None if incomplete;
    False if invalid (bad sync / CRC). Nothing is copied."""
    e = frame_end(b if isinstance(b, memoryview) else memoryview(b), i, len(b) if end is None else end)
    if e <= 0:
        return False if e else None
    return (i + 3, e - 4, e)


# ---- segment state shared by encoder and decoder -----------------------------------------


class SegState:
    """Per-segment coding state: channel table and previous values (identical on both sides)."""

    def __init__(self, base_ts):
        self.last_ts = base_ts
        self.last_dt = 0
        self.meter = []  # index -> meter id
        # index -> tuple of quantity names, of stored decimals, of canonical decimals
        # (decimals(q)); channels of the same shape share the tuples (_add_channel)
        self.qs = []
        self.dec = []
        self.cdec = []
        self.prev = []  # index -> list of previous fixed values (stored decimals)
        self.by_meter = {}  # meter id -> current index
        self.last_list = []  # channel indices of the previous group
        self._shapes = {}  # (quantities, stored decimals) -> (quantities, decimals, canonical)


def _add_channel(st, meter, qs, decs, cdecs):
    """A channel of ``meter``; 32 meters of a few profiles keep a few shapes, not 32 of each
    (the active segment's state lives on the heap between flushes)."""
    key = (tuple(qs), tuple(decs))
    shape = st._shapes.get(key)
    if shape is None:
        c = tuple(cdecs)
        shape = st._shapes[key] = (key[0], key[1], key[1] if c == key[1] else c)
    st.meter.append(meter)
    st.qs.append(shape[0])
    st.dec.append(shape[1])
    st.cdec.append(shape[2])
    st.prev.append([0] * len(qs))
    st.by_meter[meter] = len(st.meter) - 1
    return len(st.meter) - 1


def _scale(v, d_from, d_to):
    if d_from == d_to:
        return v
    if d_to > d_from:
        return v * _POW10[d_to - d_from]
    p = _POW10[d_from - d_to]
    return (v + p // 2) // p if v >= 0 else -((-v + p // 2) // p)


def _define(st, buf, meter, qs):
    mb = meter.encode()
    put_varint(buf, len(mb))
    buf.extend(mb)
    put_varint(buf, len(qs))
    decs = []
    for q in qs:
        c = Q.storage_code(q)
        buf.append(c)
        if c == 0:
            qb = q.encode()
            put_varint(buf, len(qb))
            buf.extend(qb)
        d = decimals(q)
        put_varint(buf, d)
        decs.append(d)
    return _add_channel(st, meter, qs, decs, decs)


def _channel_for(st, meter, vals):
    """Current channel index of meter covering all quantities in vals, or None (new needed)."""
    idx = st.by_meter.get(meter)
    if idx is None:
        return None
    qs = st.qs[idx]
    for q in vals:
        if q not in qs:
            return None
    return idx


def encode_group(st, buf, ts, samples):
    """Append one group (samples of one ts; one per meter) to buf; updates st."""
    dt = ts - st.last_ts
    put_varint(buf, zz(dt - st.last_dt))
    st.last_ts = ts
    st.last_dt = dt
    entries = []
    new_defs = {}
    for s in samples:
        meter, vals = s[1], s[2]
        idx = _channel_for(st, meter, vals)
        if idx is None:
            old = st.by_meter.get(meter)
            qs = list(vals)
            if old is not None:
                for q in st.qs[old]:
                    if q not in vals:
                        qs.append(q)
            qs.sort()
            idx = -1 - len(new_defs)  # placeholder until defined in index order
            new_defs[idx] = (meter, qs)
        entries.append((idx, vals))
    # definitions get indices in the order they are written: after sorting known channels
    defs_buf = {}
    if new_defs:
        order = sorted(new_defs)
        order.reverse()  # -1, -2, ... in creation order
        remap = {}
        for ph in order:
            meter, qs = new_defs[ph]
            tmp = bytearray()
            remap[ph] = _define(st, tmp, meter, qs)
            defs_buf[remap[ph]] = tmp
        entries = [(remap[e[0]] if e[0] < 0 else e[0], e[1]) for e in entries]
    entries.sort(key=lambda e: e[0])
    idxs = [e[0] for e in entries]
    same = idxs == st.last_list and not defs_buf
    masks = []
    masked = False
    deltas = []
    for idx, vals in entries:
        qs = st.qs[idx]
        decs = st.dec[idx]
        cdecs = st.cdec[idx]
        prev = st.prev[idx]
        m = 0
        for j in range(len(qs)):
            q = qs[j]
            if q in vals:
                m |= 1 << j
                v = _scale(vals[q], cdecs[j], decs[j])
                deltas.append(v - prev[j])
                prev[j] = v
        if m != (1 << len(qs)) - 1:
            masked = True
        masks.append(m)
    zeros = 0
    for d in deltas:
        if d == 0:
            zeros += 1
    zeromap = zeros * 8 > len(deltas)
    put_varint(
        buf, (len(entries) << 3) | (4 if zeromap else 0) | (2 if same else 0) | (1 if masked else 0)
    )
    if not same:
        for idx in idxs:
            put_varint(buf, idx)
            if idx in defs_buf:
                buf.extend(defs_buf[idx])
    if masked:
        for m in masks:
            put_varint(buf, m)
    if zeromap:
        bits = bytearray((len(deltas) + 7) // 8)
        for k in range(len(deltas)):
            if deltas[k]:
                bits[k >> 3] |= 1 << (k & 7)
        buf.extend(bits)
        for d in deltas:
            if d:
                put_varint(buf, zz(d) - 1)
    else:
        for d in deltas:
            put_varint(buf, zz(d))
    st.last_list = idxs


def _groups(samples):
    """Split samples (sorted by ts) into groups of one ts with one sample per meter each."""
    group = []
    seen = {}
    ts = None
    for s in samples:
        if s[0] != ts or s[1] in seen:
            if group:
                yield ts, group
            group = []
            seen = {}
            ts = s[0]
        seen[s[1]] = 1
        group.append(s)
    if group:
        yield ts, group


def encode(st, samples, max_payload=MAX_PAYLOAD - 1024):
    """Samples (sorted by ts) -> list of (frame payload bytes, sample count), updating st."""
    out = []
    buf = None
    ngroups = 0
    nsamples = 0
    for ts, group in _groups(samples):
        if buf is not None and (
            len(buf) > max_payload or nsamples + len(group) > MAX_FRAME_SAMPLES
        ):
            out.append((_close(buf, ngroups), nsamples))
            buf = None
        if buf is None:
            buf = bytearray()
            ngroups = 0
            nsamples = 0
        encode_group(st, buf, ts, group)
        ngroups += 1
        nsamples += len(group)
        if len(group) > MAX_FRAME_SAMPLES or len(buf) > MAX_PAYLOAD - 8:
            raise ValueError("group too large")
    if buf is not None:
        out.append((_close(buf, ngroups), nsamples))
    return out


def _close(buf, ngroups):
    head = bytearray((KIND_SAMPLES,))
    put_varint(head, ngroups)
    return bytes(head) + buf


def decode(st, payload, meter=None):
    """Frame payload (bytes or a memoryview: read in place) -> list of samples (values in
    canonical decimals), updating st. With meter given, only that meter's samples are built
    (state is still updated). ValueError / IndexError on malformed input."""
    return list(samples_of(st, payload, meter))


def samples_of(st, payload, meter=None):
    """decode() one sample at a time: a reader that stops inside a frame holds the frame's
    bytes and st, not its decoded samples. ``payload`` must stay unchanged until the end;
    a malformed frame raises after the samples before the fault (frames are CRC-checked)."""
    b = payload
    if not b or b[0] != KIND_SAMPLES:
        raise ValueError("unknown record kind")
    ngroups, i = get_varint(b, 1)
    for _ in range(ngroups):
        # two varints (dt delta, head), inline: no tuple per group
        u = sh = 0
        while True:
            c = b[i]
            i += 1
            u |= (c & 0x7F) << sh
            if c < 0x80:
                break
            sh += 7
            if sh > 70:
                raise ValueError("varint too long")
        dt = st.last_dt + (u >> 1 if not u & 1 else -((u + 1) >> 1))
        ts = st.last_ts + dt
        st.last_ts = ts
        st.last_dt = dt
        head = sh = 0
        while True:
            c = b[i]
            i += 1
            head |= (c & 0x7F) << sh
            if c < 0x80:
                break
            sh += 7
            if sh > 70:
                raise ValueError("varint too long")
        n = head >> 3
        if head & 2:  # same channels as the previous group
            idxs = st.last_list
            if len(idxs) != n:
                raise ValueError("bad channel list")
        else:
            idxs = []
            for _k in range(n):
                idx, i = get_varint(b, i)
                if idx == len(st.meter):
                    i = _read_def(st, b, i)
                elif idx > len(st.meter):
                    raise ValueError("bad channel index")
                idxs.append(idx)
        masks = None
        if head & 1:
            masks = []
            for _k in range(n):
                m, i = get_varint(b, i)
                masks.append(m)
        bits = -1  # offset of the zero bitmap
        if head & 4:
            nvals = 0
            for k in range(n):
                nq = len(st.qs[idxs[k]])
                if masks is None:
                    nvals += nq
                else:
                    m = masks[k]
                    for j in range(nq):
                        if m >> j & 1:
                            nvals += 1
            bits = i
            i += (nvals + 7) // 8
            if i > len(b):
                raise ValueError("truncated")
        vk = 0
        for k in range(n):
            idx = idxs[k]
            qs = st.qs[idx]
            decs = st.dec[idx]
            cdecs = st.cdec[idx]
            prev = st.prev[idx]
            m = -1 if masks is None else masks[k]
            vals = None
            if meter is None or st.meter[idx] == meter:
                vals = dict.fromkeys(qs) if masks is None else {}  # sized once
            for j in range(len(qs)):
                if not m >> j & 1:
                    continue
                if bits >= 0 and not b[bits + (vk >> 3)] >> (vk & 7) & 1:
                    d = 0
                else:  # varint, inline: no tuple per value
                    u = 0
                    sh = 0
                    while True:
                        c = b[i]
                        i += 1
                        u |= (c & 0x7F) << sh
                        if c < 0x80:
                            break
                        sh += 7
                        if sh > 70:
                            raise ValueError("varint too long")
                    if bits >= 0:
                        u += 1
                    d = u >> 1 if not u & 1 else -((u + 1) >> 1)
                vk += 1
                v = prev[j] + d
                prev[j] = v
                if vals is not None:
                    vals[qs[j]] = v if decs[j] == cdecs[j] else _scale(v, decs[j], cdecs[j])
            if vals is not None:
                yield ts, st.meter[idx], vals
        st.last_list = idxs
    if i != len(b):
        raise ValueError("trailing bytes")


def _read_def(st, b, i):
    ln, i = get_varint(b, i)
    meter = bytes(b[i : i + ln]).decode()
    i += ln
    nq, i = get_varint(b, i)
    qs = []
    decs = []
    cdecs = []
    for _ in range(nq):
        c = b[i]
        i += 1
        if c == 0:
            ln, i = get_varint(b, i)
            q = bytes(b[i : i + ln]).decode()
            i += ln
        elif c <= len(_NAMES):
            q = _NAMES[c - 1]
        else:
            raise ValueError("unknown quantity code")
        d, i = get_varint(b, i)
        if d > 9:
            raise ValueError("bad decimals")
        qs.append(q)
        decs.append(d)
        cdecs.append(decimals(q))
    _add_channel(st, meter, qs, decs, cdecs)
    return i
