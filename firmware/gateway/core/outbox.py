"""Durable outbox cursor per consumer (e.g. "mqtt") over the sample ring.

    ob = Outbox(ring, "/data/outbox", "mqtt", clock=time.time, min_persist_s=30)
    recorder.on_flush = ob.notify                # sets ob.changed when samples reach flash
    for sid, sample in ob.pending(50):           # [(id, {"meter", "ts", "<quantity>": number})]
        publish(sample)
        ob.ack(sid)                              # cumulative: everything <= sid is delivered
    ob.gap                                       # set when unsent data was rotated away
    ob.commit()                                  # before a reboot (throttled acks)

This is the interface services/uplink.py uses: ``pending(limit, after)`` (a list, oldest
first, of entries after the acknowledged cursor, including ones already handed out and not yet
acked; with ``after``, the newest id the consumer has in flight, only the ones after it),
``ack(id)`` and ``changed`` (an asyncio.Event, set by ``notify()``; the consumer clears it).
``iter_pending()`` streams ``(id, (ts, meter, {q: fixed}))`` raw samples instead (exact values:
records.sample_json). Numbers in the sample dicts are floats for quantities with decimals: on a
single-precision MicroPython build large counters lose digits there; records.sample_json is exact.

Ids are the ring's sample ids (segment seq << 32 | frame offset << 10 | index): stable and
increasing. The cursor is persisted (``<root>/<name>.cur``, atomic) on ack, at most every
``min_persist_s`` seconds when a clock is given (``commit()`` forces it), so a reboot resumes
after the last persisted ack: delivery is at least once.

Reading is a read-ahead buffer fed by one long-lived ring generator, so draining a long backlog
decodes each segment once; once caught up, the next call rescans only the newest segment (the
frames already sent update the coding state only). Suspended inside a frame, the generator
holds the frame's bytes and the coding state, not its decoded samples (ring.entries), and the
buffer keeps the entries after the consumer's ``after`` only: a consumer asking for the next
one after every PUBACK holds one sample dict here, not its whole window.

A new consumer starts at the end of what is stored (``start="end"``) or at the oldest sample
(``start="begin"``). If the consumer fell behind beyond the ring (its segment was deleted) it
resumes at the oldest kept sample and ``gap`` reports it; likewise if the ring was cleared
(cursor ahead of the ring).
"""

import json

from gateway.core import records as R
from gateway.core.configstore import atomic_write, mkdirs, read_file
from gateway.core.ring import id_parts, make_id

_END = 0xFFFFFFFF  # low 32 bits of a cursor meaning "after the whole segment"


def _before(seq):
    """Cursor that sits just before segment seq (after all of seq - 1)."""
    return make_id(seq, 0, 0) - 1


def _event():
    try:
        import asyncio

        return asyncio.Event()
    except ImportError:  # no asyncio on the path (bare core tests): no notification object
        return None


def sample_dict(s):
    """(ts, meter, {q: fixed}) -> {"meter": id, "ts": ts, "<q>": number}."""
    ts, meter, vals = s
    d = {"meter": meter, "ts": ts}
    for q in vals:
        d[q] = R.number(q, vals[q])
    return d


class Outbox:
    def __init__(
        self, ring, root, name="mqtt", start="end", clock=None, min_persist_s=0, changed=None
    ):
        if start not in ("end", "begin"):
            raise ValueError("start must be 'end' or 'begin'")
        self.ring = ring
        self.name = name
        mkdirs(root)
        self.path = "%s/%s.cur" % (root.rstrip("/"), name)
        self.clock = clock
        self.min_persist_s = min_persist_s
        self.changed = changed if changed is not None else _event()
        self.bytes_written = 0
        self.gap = None  # {"cursor": id, "resumed_at": id or None, "reason": text}
        self.gaps = 0
        self._dirty = False
        self._saved_at = None
        self._buf = []  # read-ahead: [(id, sample dict)] right after _from, oldest first
        self._from = -1
        self._gen = None
        self.cursor = None
        try:
            d = json.loads(read_file(self.path))
            c = d["id"]
            if not isinstance(c, int) or c < 0:
                raise ValueError("bad cursor")
            self.cursor = c
        except (OSError, ValueError, KeyError, TypeError):
            if start == "end" and ring.segs:
                last = None
                for sid, _s in ring.entries(after=_before(ring.segs[-1][0])):
                    last = sid
                self.cursor = last if last is not None else _before(ring.segs[-1][0])
            else:
                first = ring.first_seq()
                self.cursor = _before(first if first is not None else 1)
            self._save()

    def _save(self):
        self.bytes_written += atomic_write(self.path, json.dumps({"v": 1, "id": self.cursor}))
        self._dirty = False
        if self.clock is not None:
            self._saved_at = self.clock()

    def _reset_read(self):
        self._buf = []
        self._from = -1
        self._gen = None

    def _check(self):
        """Detect a cursor that points before the oldest kept data or beyond the ring."""
        ring = self.ring
        if not ring.segs:
            return
        first = ring.segs[0][0]
        last = ring.segs[-1][0]
        seq = id_parts(self.cursor)[0]
        at_end = self.cursor & 0xFFFFFFFF == _END
        reason = None
        if seq > last:
            reason = "cursor ahead of the stored data (data cleared)"
        elif (seq < first - 1) or (seq == first - 1 and not at_end):
            reason = "consumer fell behind: unsent samples were rotated away"
        if reason is not None:
            self.gap = {"cursor": self.cursor, "resumed_at": None, "reason": reason}
            self.gaps += 1
            self.cursor = _before(first)
            self._dirty = True
            self._reset_read()

    def _fill(self, n, after):
        """Make the read-ahead buffer hold up to n entries after the cursor and ``after``."""
        self._check()
        a = self.cursor if after is None or after < self.cursor else after
        if a < self._from:  # asked again for entries handed out and no longer kept
            self._reset_read()
        self._from = a
        buf = self._buf
        k = 0
        while k < len(buf) and buf[k][0] <= a:
            k += 1
        if k:
            del buf[:k]
        while len(buf) < n:
            if self._gen is None:
                self._gen = self.ring.entries(after=buf[-1][0] if buf else a)
            try:
                e = next(self._gen)
            except StopIteration:
                self._gen = None  # caught up: next time restart after the last entry
                break
            if e[0] <= a or (buf and e[0] <= buf[-1][0]):
                continue
            if self.gap is not None and self.gap["resumed_at"] is None:
                self.gap["resumed_at"] = e[0]
            buf.append((e[0], sample_dict(e[1])))  # made once, however often it is handed out
        return buf

    def pending(self, limit=64, after=None):
        """List of at most ``limit`` (id, sample dict) stored after the cursor, oldest first;
        with ``after`` (the newest id the consumer still holds), only the entries after it, and
        those up to it are no longer kept (asked for again, they are read again)."""
        return self._fill(limit, after)[:limit]

    def iter_pending(self, limit=None):
        """Generator of (id, raw sample) after the cursor, streaming the whole backlog."""
        self._check()
        n = 0
        for e in self.ring.entries(after=self.cursor):
            if self.gap is not None and self.gap["resumed_at"] is None:
                self.gap["resumed_at"] = e[0]
            yield e
            n += 1
            if limit is not None and n >= limit:
                return

    def ack(self, sid):
        """Mark everything up to and including sample id ``sid`` as delivered."""
        if sid is None or sid <= self.cursor:
            return False
        self.cursor = sid
        self._dirty = True
        if (
            self.clock is None
            or self._saved_at is None
            or self.clock() - self._saved_at >= self.min_persist_s
        ):
            self._save()
        return True

    def notify(self, _last_id=None):
        """New samples reached the ring (use as the recorder's on_flush): set ``changed``."""
        if self.changed is not None:
            self.changed.set()

    def commit(self):
        """Persist the cursor now if acks are pending (e.g. before a reboot)."""
        if self._dirty:
            self._save()

    def backlog(self, limit=10000):
        """Number of samples waiting (counted up to ``limit``)."""
        n = 0
        for _ in self.iter_pending(limit):
            n += 1
        return n

    def reset(self, start="end"):
        """Forget the cursor (e.g. after the ring was cleared) and start again."""
        first = self.ring.first_seq()
        self.cursor = _before(first if first is not None else 1)
        self._reset_read()
        if start == "end":
            for sid, _s in self.ring.entries(after=self.cursor):
                self.cursor = sid
        self.gap = None
        self._save()
