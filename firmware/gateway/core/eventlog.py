"""Bounded event log on flash: time, source (device), type, text; newest-first queries.

    log = EventLog("/data/events", budget=16384)
    log.log("comm", "meter 3", "no answer (3 retries)", ts=now)
    log.newest(limit=50, type="comm")  # {"seq", "ts", "type", "source", "text"} ..., newest first

Two files ``ev0.log``/``ev1.log`` of ``budget // 2`` bytes each are used in turn: when the
active one is full the other is truncated and becomes active, so the log keeps between half
and all of its budget of the newest events. One line per event (one write): a JSON array
[seq, ts, type, source, text] followed by a tab and its CRC-32; torn or garbled lines are
skipped when reading (a last line that lost only its newline to a power cut is whole: its CRC
says so, and it is kept). Callers log transitions (state changes), not every poll.

An event with a code (gateway.core.event_codes) is stored as [seq, ts, type, source, code,
params]: its English text is built when read (smaller lines than text and code together:
docs/decisions/0013-event-codes.md); queries give "text", "code" and "params".
"""

import json

from gateway.core.configstore import mkdirs
from gateway.core.records import crc32

TYPES = ("state", "threshold", "config", "comm", "genset", "system", "alarm")
MAX_TEXT = 160
MAX_SOURCE = 40
MAX_PARAM = 160  # characters of a text param of a coded event (a restore's note: up to ~130)


def _clean(s, n):
    s = str(s)
    if len(s) > n:
        s = s[:n]
    out = []
    for c in s:
        out.append(" " if ord(c) < 0x20 else c)
    return "".join(out)


def _crc_ok(line):
    """Index of the tab before the CRC in an event line (bytes, no newline) if its CRC-32 is
    right, else -1 (checked in place: nothing is copied)."""
    j = line.rfind(b"\t")
    if j < 0:
        return -1
    try:
        c = int(line[j + 1 :], 16)
    except ValueError:
        return -1
    return j if c == crc32(memoryview(line)[:j]) else -1


def _body(line):
    """A line read from a file without its newline (the last one may have lost it: a power cut
    right before it; its CRC tells whether the rest is whole)."""
    return line[:-1] if line[-1:] == b"\n" else line


def _parse(line):
    """An event line (bytes, without newline) -> [seq, ts, type, source, text] or None."""
    j = _crc_ok(line)
    if j < 0:
        return None
    try:
        e = json.loads(line[:j].decode())
    except (ValueError, UnicodeError):
        return None
    if not isinstance(e, list) or len(e) not in (5, 6):
        return None
    return e


def _event(e, text=None):
    """A parsed line as the API gives it: a coded event's English text is built here (with
    ``text``, gateway.core.event_codes.text, or that module loaded for the call)."""
    d = {"seq": e[0], "ts": e[1], "type": e[2], "source": e[3], "text": e[4]}
    if len(e) == 6:
        if text is None:
            from gateway.core.event_codes import text

        d["code"], d["params"] = e[4], e[5]
        d["text"] = text(e[4], e[5])
    return d


def _params(params):
    out = {}
    for k in params:
        v = params[k]
        out[k] = v if isinstance(v, (int, float, bool)) or v is None else _clean(v, MAX_PARAM)
    return out


class EventLog:
    def __init__(self, root, budget=16384, clock=None):
        if budget < 1024:
            raise ValueError("budget too small")
        self.root = root.rstrip("/") if root != "/" else root
        self.half = budget // 2
        self.clock = clock
        self.bytes_written = 0
        mkdirs(self.root)
        self.seq = 0
        self.active = 0
        self.size = 0
        self._torn = False  # the active file ends in a torn line: terminate it first
        best = -1
        scans = (self._scan_last(0), self._scan_last(1))
        for k in (0, 1):
            last = scans[k][0]
            if last is not None and last > best:
                best = last
                self.active = k
        # a file holding only a torn line (the first write cut) is the active one too: its
        # fragment must be terminated before the next line, or that line is lost with it
        self.size, self._torn = scans[self.active][1], scans[self.active][2]
        self.seq = best + 1 if best >= 0 else 0

    def _name(self, k):
        return "%s/ev%d.log" % (self.root, k)

    def _lines(self, k):
        """``(offset, event)`` of the valid events of file k in file order (streaming)."""
        try:
            f = open(self._name(k), "rb")
        except OSError:
            return
        at = 0
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                e = _parse(_body(line))  # a torn fragment (terminated later or not) fails its CRC
                if e is not None:
                    yield at, e
                at += len(line)
        finally:
            f.close()

    def _scan_last(self, k):
        """(seq of the last valid event, file size, torn tail) of file k: lines are checked by
        their CRC, only the last good one is parsed."""
        good = None
        size = 0
        torn = False
        try:
            f = open(self._name(k), "rb")
        except OSError:
            return None, 0, False
        try:
            while True:
                line = f.readline()
                if not line:
                    break
                size += len(line)
                torn = line[-1:] != b"\n"
                if _crc_ok(_body(line)) >= 0:
                    good = line
        finally:
            f.close()
        e = _parse(_body(good)) if good is not None else None
        if e is None or not isinstance(e[0], int):
            return None, size, torn
        return e[0], size, torn

    def log(self, type, source, text, ts=None, params=None):
        """Append one event; returns its sequence number. ValueError for an unknown type.
        With ``params`` (a dict), ``text`` is the event's code (gateway.core.event_codes)."""
        if type not in TYPES:
            raise ValueError("unknown event type %r" % (type,))
        if ts is None:
            ts = int(self.clock()) if self.clock else 0
        e = [self.seq, int(ts), type, _clean(source, MAX_SOURCE)]
        if params is None:
            e.append(_clean(text, MAX_TEXT))
        else:
            e.append(_clean(text, MAX_SOURCE))
            e.append(_params(params))
        body = json.dumps(e).encode()
        line = body + b"\t" + ("%08x" % crc32(body)).encode() + b"\n"
        mode = "ab"
        if self.size + len(line) + 1 > self.half:
            self.active ^= 1
            self.size = 0
            mode = "wb"
        elif self._torn:
            line = b"\n" + line
        self._torn = False
        f = open(self._name(self.active), mode)
        try:
            f.write(line)
        finally:
            f.close()
        self.size += len(line)
        self.bytes_written += len(line)
        self.seq += 1
        return e[0]

    def newest(self, limit=50, type=None, source=None, since=None, text=None):
        """Newest first, at most ``limit`` events as dicts, optionally filtered: a generator
        that holds one event at a time (a first pass keeps only the matching lines' offsets,
        the second reads them back newest first; 50 events as dicts at once were ~18 KB).
        ``text``: event_codes.text, given by a caller that streams the events after its
        on-demand modules were released (web/dispatch.py), else loaded when needed."""
        last = None  # seq of the last event given
        n = 0
        for k in (self.active, self.active ^ 1):
            offsets = []
            for at, e in self._lines(k):
                if type is not None and e[2] != type:
                    continue
                if source is not None and e[3] != source:
                    continue
                if since is not None and e[1] < since:
                    continue
                offsets.append(at)
                if len(offsets) > limit:
                    offsets.pop(0)
            if not offsets:
                continue
            try:
                f = open(self._name(k), "rb")
            except OSError:
                continue
            try:
                for i in range(len(offsets) - 1, -1, -1):
                    f.seek(offsets[i])
                    e = _parse(_body(f.readline()))
                    if e is None or (last is not None and e[0] >= last):
                        continue  # rewritten meanwhile, or a stale line of an older generation
                    last = e[0]
                    yield _event(e, text)
                    n += 1
                    if n >= limit:
                        return
            finally:
                f.close()

    def query(self, limit=50, type=None, source=None, since=None):
        """``newest(...)`` as a list (small limits, tests and host tools)."""
        return list(self.newest(limit, type, source, since))

    def clear(self):
        for k in (0, 1):
            f = open(self._name(k), "wb")
            f.close()
        self.size = 0
        self.active = 0
