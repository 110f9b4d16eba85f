"""Durable outbox cursor per consumer (e.g. "mqtt") over the sample ring.

    ob = Outbox(ring, "/data/outbox", "mqtt")
    for sid, sample in ob.pending(limit=50):   # samples stored after the cursor, in order
        publish(records.sample_json(sample))
        ob.ack(sid)                            # cumulative: everything <= sid is done
    ob.gap                                     # set when data was rotated away before it was sent

Ids are the ring's sample ids (segment seq << 32 | frame offset << 10 | index): stable and
increasing. The cursor is persisted (``<root>/<name>.cur``, atomic) on ack (at most every
``min_persist_s`` seconds when a clock is given; ``commit()`` forces it), so a reboot resumes
after the last persisted ack: delivery is at-least-once.

A new consumer starts at the end of what is stored (``start="end"``) or at the oldest sample
(``start="begin"``). If the consumer fell behind beyond the ring (its segment was deleted) it
resumes at the oldest kept sample and ``gap`` reports it; likewise if the ring was cleared
(cursor ahead of the ring).
"""
import json

from gateway.core.configstore import atomic_write, mkdirs, read_file
from gateway.core.ring import id_parts, make_id

_END = 0xFFFFFFFF  # low 32 bits of a cursor meaning "after the whole segment"


def _before(seq):
    """Cursor that sits just before segment seq (after all of seq - 1)."""
    return make_id(seq, 0, 0) - 1


class Outbox:
    def __init__(self, ring, root, name="mqtt", start="end", clock=None, min_persist_s=0):
        if start not in ("end", "begin"):
            raise ValueError("start must be 'end' or 'begin'")
        self.ring = ring
        self.name = name
        mkdirs(root)
        self.path = "%s/%s.cur" % (root.rstrip("/"), name)
        self.clock = clock
        self.min_persist_s = min_persist_s
        self.bytes_written = 0
        self.gap = None  # {"cursor": id, "resumed_at": id or None, "reason": text}
        self.gaps = 0
        self._dirty = False
        self._saved_at = None
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

    def pending(self, limit=None):
        """Generator of (id, sample) stored after the cursor, in order (at most ``limit``)."""
        self._check()
        n = 0
        for sid, s in self.ring.entries(after=self.cursor):
            if self.gap is not None and self.gap["resumed_at"] is None:
                self.gap["resumed_at"] = sid
            yield sid, s
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

    def commit(self):
        """Persist the cursor now if acks are pending (e.g. before a reboot)."""
        if self._dirty:
            self._save()

    def backlog(self, limit=10000):
        """Number of samples waiting (counted up to ``limit``)."""
        n = 0
        for _ in self.pending(limit):
            n += 1
        return n

    def reset(self, start="end"):
        """Forget the cursor (e.g. after the ring was cleared) and start again."""
        first = self.ring.first_seq()
        self.cursor = _before(first if first is not None else 1)
        if start == "end":
            for sid, _s in self.ring.entries(after=self.cursor):
                self.cursor = sid
        self.gap = None
        self._save()
