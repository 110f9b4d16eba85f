"""Bounded ring of append-only segment files holding sample records (see records.py).

    r = Ring("/data/ring", budget=1 << 20, segment_bytes=32 << 10)
    r.append([(ts, "3", {"import_kwh": 12345, "export_kwh": 0}), ...])   # one write per flush
    for ts, meter, values in r.samples(t_from, t_to, meter="3"): ...   # streaming, time order
    for sid, sample in r.entries(after=sid0): ...                       # for durable consumers

Files are ``<dir>/<seq:08d>.seg`` (seq grows forever). A new segment starts when the active one
reaches ``segment_bytes``; before that the oldest segments are deleted so that the ring stays
within ``budget`` bytes. Uses only ``open``/``os`` so it runs on CPython files, MicroPython
littlefs and posix VFS.

Power cuts: a flush is a single ``write`` of whole frames; on (re)open the last segment is
scanned, a torn/garbled tail is ignored and the next append starts a fresh segment; a segment
with an unreadable header (torn creation) holds nothing valid and is removed.

Sample ids are ints ``seq << 32 | frame_offset << 10 | index_in_frame``: stable, increasing.
Timestamps are expected non-decreasing across appends (the recorder guarantees it).

Reading allocates (almost) nothing: each Ring owns one read buffer (``chunk`` bytes, 1 KiB)
that its scans share; a scan keeps its segment file open, reads into the buffer in place and
moves a partial frame to its start; a frame larger than the buffer gets a buffer of its own
for that frame only. A scan that finds the buffer used by another scan (generators interleave:
an HTTP export, the MQTT outbox) reads its next frame again; one that finds the files changed
(append, rotation) reopens its file.
"""

import os

from gateway.core import records as R
from gateway.core.configstore import mkdirs

HEADER = R.SEG_HEADER
MAX_SEGMENT = 2 << 20


_NOBODY = object()  # a meter filter matching none: decode() updates the state only


def make_id(seq, off, idx):
    return (seq << 32) | (off << 10) | idx


def id_parts(sid):
    """(seq, frame offset, index in frame) of a sample id."""
    return sid >> 32, (sid >> 10) & 0x3FFFFF, sid & 0x3FF


def file_size(name):
    try:
        return os.stat(name)[6]
    except OSError:
        return -1


def _is_seg_name(n):
    if len(n) != 12 or not n.endswith(".seg"):
        return False
    for c in n[:8]:
        if c not in "0123456789":
            return False
    return True


class Ring:
    def __init__(self, path, budget=1 << 20, segment_bytes=32 << 10, chunk=1024):
        if segment_bytes < 256 or segment_bytes > MAX_SEGMENT:
            raise ValueError("segment_bytes out of range")
        if budget < 2 * segment_bytes:
            raise ValueError("budget must hold at least two segments")
        self.path = path.rstrip("/") if path != "/" else path
        self.budget = budget
        self.segment_bytes = segment_bytes
        self.chunk = chunk
        self._m = memoryview(bytearray(max(chunk, 64)))  # the read buffer, shared by the scans
        self._owner = 0  # number of the scan whose bytes the buffer holds (0: none)
        self._nscan = 0
        self._mod = 0  # bumped on every write/removal: open readers reopen their file
        self.segs = []  # [seq, base_ts, size] oldest first
        self._st = None  # coding state of the active segment; None -> next append starts one
        self.bytes_written = 0  # bytes handed to write() since this object was created
        self.writes = 0
        self.deleted = 0  # segments deleted to stay within budget
        self.recovery = []  # what the last open found and did (text), for the event log
        self.last_ts = None
        self._open()

    # ---- files ------------------------------------------------------------------------

    def _name(self, seq):
        return "%s/%08d.seg" % (self.path, seq)

    def _open(self):
        mkdirs(self.path)
        segs = []
        for n in os.listdir(self.path):
            if not _is_seg_name(n):
                continue
            seq = int(n[:8])
            name = self._name(seq)
            hdr = self._header(name)
            if hdr is None or hdr[0] != seq:
                self.recovery.append("removed unreadable segment %d" % seq)
                self._remove(name)
                continue
            segs.append([seq, hdr[1], file_size(name)])
        segs.sort(key=lambda s: s[0])
        self.segs = segs
        if not segs:
            return
        last = segs[-1]
        st = R.SegState(last[1])
        end = HEADER
        ok = True
        for off, payload in self._frames(last[0]):
            try:
                R.decode(st, payload)
            except (ValueError, IndexError):
                ok = False
                break
            end = off + len(payload) + R.FRAME_OVERHEAD
        self.last_ts = st.last_ts if end > HEADER else None
        if ok and end == last[2]:
            self._st = st
        else:
            self.recovery.append(
                "segment %d: %d torn bytes ignored after offset %d" % (last[0], last[2] - end, end)
            )
            self._st = None
        if self.last_ts is None and len(segs) > 1:
            # empty last segment: the newest known time is in the previous one
            self.last_ts = segs[-1][1]

    def _header(self, name):
        """(seq, base_ts) of a segment file's header; None if unreadable."""
        try:
            f = open(name, "rb")
        except OSError:
            return None
        self._owner = 0
        try:
            n = f.readinto(self._m[:HEADER]) or 0
        finally:
            f.close()
        return R.parse_seg_header(self._m[:n])

    def _remove(self, name):
        self._mod += 1
        try:
            os.remove(name)
        except OSError:
            pass

    def _frames(self, seq, start=HEADER):
        """(offset, payload) of the valid frames of segment seq, streaming; stops at the end,
        at the first invalid frame, or if the file disappears. ``payload`` is a memoryview of
        the read buffer: decode it before resuming the generator."""
        self._nscan += 1
        me = self._nscan
        name = self._name(seq)
        m = self._m
        cap = len(m)
        f = None
        mod = fpos = -1
        boff = pos = start  # file offsets of m[0] and of the next frame
        n = 0  # m[:n] holds the file's bytes from boff
        eof = False
        try:
            while True:
                if self._owner != me:  # another scan used the buffer: read again from pos
                    boff = pos
                    n = 0
                    eof = False
                i = pos - boff
                e = R.frame_end(m, i, n)
                if e > 0:
                    yield pos, m[i + 3 : e - 4]
                    pos = boff + e
                    continue
                if e < 0 or eof:
                    return
                keep = n - i  # bytes of the incomplete frame at pos already read
                big = None
                if keep >= 3:
                    need = R.FRAME_OVERHEAD + (m[i + 1] | (m[i + 2] << 8))
                    if need > cap:  # larger than the buffer: a buffer for this frame only
                        big = memoryview(bytearray(need))
                        big[:keep] = m[i:n]
                        dst = big[keep:]
                if big is None:
                    if keep and i:
                        if keep <= i:
                            m[:keep] = m[i:n]  # the partial frame to the start, in place
                        else:
                            keep = 0  # (it would overlap itself): read it again
                    boff = pos
                    n = keep
                    dst = m[n:]
                at = pos + keep
                if f is None or mod != self._mod:
                    if f is not None:
                        f.close()
                        f = None
                    try:
                        f = open(name, "rb")
                    except OSError:
                        return
                    mod = self._mod
                    fpos = 0
                if fpos != at:
                    f.seek(at)
                got = f.readinto(dst) or 0
                fpos = at + got
                if big is not None:
                    n = 0
                    boff = pos
                    if got < len(dst) or R.frame_end(big, 0, need) != need:
                        return
                    yield pos, big[3 : need - 4]
                    big = dst = None
                    pos += need
                    boff = pos
                    continue
                if got < len(dst):
                    eof = True
                n += got
                self._owner = me
        finally:
            if f is not None:
                f.close()

    def _total(self):
        t = 0
        for s in self.segs:
            t += s[2]
        return t

    def _drop_oldest(self):
        s = self.segs.pop(0)
        self._remove(self._name(s[0]))
        self.deleted += 1

    # ---- writing ----------------------------------------------------------------------

    def append(self, samples):
        """Store samples [(ts, meter, {q: fixed})] in one write; returns the id of the last
        one (None if samples is empty). Raises OSError if the write failed (the next append
        then starts a new segment)."""
        if not samples:
            return None
        for k in range(1, len(samples)):
            if samples[k][0] < samples[k - 1][0]:
                order = [(samples[j][0], j) for j in range(len(samples))]
                order.sort()
                samples = [samples[o[1]] for o in order]
                break
        new = self._st is None or not self.segs or self.segs[-1][2] >= self.segment_bytes
        if new:
            seq = self.segs[-1][0] + 1 if self.segs else 1
            base = samples[0][0]
            st = R.SegState(base)
            start = HEADER
            while self.segs and self._total() + self.segment_bytes > self.budget:
                self._drop_oldest()
        else:
            seq = self.segs[-1][0]
            st = self._st
            start = self.segs[-1][2]
        self._st = None  # until the write succeeded
        payloads = R.encode(st, samples)
        data = bytearray(R.seg_header(seq, base)) if new else bytearray()
        skip = len(data)
        last = start
        for p, _n in payloads:
            last = start + len(data) - skip  # offset of this frame in the segment
            R.frame(p, data)
        if start + len(data) - skip >= 1 << 22:
            raise ValueError("append too large")
        name = self._name(seq)
        self._mod += 1
        try:
            f = open(name, "wb" if new else "ab")
            try:
                f.write(data)
            finally:
                f.close()
        except OSError:
            size = file_size(name)
            if new and size >= 0:
                self.segs.append([seq, base, size])
            elif not new:
                self.segs[-1][2] = max(size, self.segs[-1][2])
            raise
        self.bytes_written += len(data)
        self.writes += 1
        if new:
            self.segs.append([seq, base, len(data)])
        else:
            self.segs[-1][2] += len(data)
        self._st = st
        self.last_ts = st.last_ts
        while len(self.segs) > 1 and self._total() > self.budget:
            self._drop_oldest()
        return make_id(seq, last, payloads[-1][1] - 1)

    # ---- reading ----------------------------------------------------------------------

    def _next_seg(self, seq):
        for s in self.segs:
            if s[0] >= seq:
                return s
        return None

    def _scan(self, seq, meter=None, ids=False, t_to=None, after=None):
        first = True
        while True:
            s = self._next_seg(seq)
            if s is None:
                return
            if t_to is not None and s[1] >= t_to and not first:
                return
            first = False
            seq = s[0]
            st = R.SegState(s[1])
            for off, payload in self._frames(seq):
                try:
                    if not ids:
                        for x in R.decode(st, payload, meter):
                            yield x
                    elif after is not None and make_id(seq, off, 0) < after - (after & 1023):
                        R.decode(st, payload, _NOBODY)  # all sent: the state only
                    else:
                        # one sample at a time (a consumer stopping inside the frame holds no
                        # decoded samples), from a copy: other scans reuse the read buffer
                        sid = make_id(seq, off, 0)
                        for x in R.samples_of(st, bytes(payload)):
                            if (after is None or sid > after) and (meter is None or x[1] == meter):
                                yield sid, x
                            sid += 1
                except (ValueError, IndexError):
                    break
            seq += 1

    def samples(self, t_from=None, t_to=None, meter=None):
        """Generator of samples (ts, meter, values) with t_from <= ts < t_to, in time order
        (it stops at the first sample at or after t_to: timestamps never decrease)."""
        seq = self.segs[0][0] if self.segs else 0
        if t_from is not None:
            for s in self.segs:
                if s[1] <= t_from:
                    seq = s[0]
                else:
                    break
        for x in self._scan(seq, meter=meter, t_to=t_to):
            ts = x[0]
            if t_from is not None and ts < t_from:
                continue
            if t_to is not None and ts >= t_to:
                return
            yield x

    def entries(self, after=None, meter=None):
        """Generator of (id, sample) for samples stored after id ``after`` (all if None); if
        ``after``'s segment was rotated away, starts at the oldest kept sample."""
        if not self.segs:
            return
        seq = self.segs[0][0]
        if after is not None:
            s = id_parts(after)[0]
            if after & 0xFFFFFFFF == 0xFFFFFFFF:  # "after the whole segment s"
                s += 1
            seq = max(seq, s)
        yield from self._scan(seq, meter=meter, ids=True, after=after)

    def first_seq(self):
        return self.segs[0][0] if self.segs else None

    def last_sample(self, meter=None):
        """The newest stored sample (of meter), scanning the newest segments only."""
        for k in range(len(self.segs) - 1, -1, -1):
            last = None
            st = R.SegState(self.segs[k][1])
            for _off, payload in self._frames(self.segs[k][0]):
                try:
                    out = R.decode(st, payload, meter)
                except (ValueError, IndexError):
                    break
                if out:
                    last = out[-1]
            if last is not None:
                return last
        return None

    def stats(self):
        return {
            "segments": len(self.segs),
            "bytes": self._total(),
            "budget": self.budget,
            "bytes_written": self.bytes_written,
            "writes": self.writes,
            "deleted_segments": self.deleted,
            "oldest_ts": self.segs[0][1] if self.segs else None,
            "newest_ts": self.last_ts,
        }

    def clear(self):
        """Delete all segments (factory reset of the data)."""
        while self.segs:
            self._drop_oldest()
        self._st = None
        self.last_ts = None
