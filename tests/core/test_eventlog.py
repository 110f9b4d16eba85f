"""Event log: bounded on flash, newest first, filters, torn lines."""

import os

from _assert import cut_last_line, raises, tmpdir
from _assert import rmtree as _rmtree

from gateway.core.eventlog import TYPES, EventLog


def _tmpdir():
    return tmpdir("dgt_ev_")




def test_log_and_query_newest_first():
    d = _tmpdir()
    try:
        log = EventLog(d)
        log.log("comm", "meter 3", "no answer", ts=100)
        log.log("state", "meter 3", "back online", ts=160)
        log.log("genset", "genset", "start: SOC 19% <= 20%", ts=200)
        ev = log.query()
        assert [e["ts"] for e in ev] == [200, 160, 100]
        assert ev[0] == {
            "seq": 2,
            "ts": 200,
            "type": "genset",
            "source": "genset",
            "text": "start: SOC 19% <= 20%",
        }
        assert [e["text"] for e in log.query(type="comm")] == ["no answer"]
        assert len(log.query(source="meter 3")) == 2
        assert [e["ts"] for e in log.query(since=150)] == [200, 160]
        assert len(log.query(limit=1)) == 1
        assert set(TYPES) == {"state", "threshold", "config", "comm", "genset", "system", "alarm"}
        raises(ValueError, log.log, "bogus", "x", "y")
    finally:
        _rmtree(d)


def test_clock_and_text_cleanup():
    d = _tmpdir()
    try:
        log = EventLog(d, clock=lambda: 1234.9)
        log.log("system", "s" * 100, "line1\nline2\t" + "é" * 300)
        e = log.query()[0]
        assert e["ts"] == 1234 and len(e["source"]) == 40
        assert "\n" not in e["text"] and "\t" not in e["text"] and len(e["text"]) == 160
    finally:
        _rmtree(d)


def test_bounded_ring_keeps_newest():
    d = _tmpdir()
    try:
        log = EventLog(d, budget=2048)
        for k in range(500):
            log.log("comm", "meter %d" % (k % 7), "timeout #%d" % k, ts=k)
            total = sum(os.stat(d + "/" + n)[6] for n in os.listdir(d))
            assert total <= 2048
        ev = log.query(limit=1000)
        assert ev[0]["ts"] == 499
        seqs = [e["seq"] for e in ev]
        assert seqs == list(range(499, 499 - len(seqs), -1))  # contiguous, newest first
        assert 10 < len(ev) < 40
        # reopen: continues the sequence in the right file
        log2 = EventLog(d, budget=2048)
        assert log2.seq == 500
        log2.log("system", "boot", "restarted", ts=600)
        assert log2.query(limit=2)[0]["text"] == "restarted"
        assert log2.query(limit=2)[1]["ts"] == 499
    finally:
        _rmtree(d)


def test_newest_streams_one_event_at_a_time_while_the_log_goes_on():
    """The API streams ``newest()`` to a slow client while events are still logged (the files
    switch under it): what it gives stays newest first, each event once and whole."""
    d = _tmpdir()
    try:
        log = EventLog(d, budget=2048)
        for k in range(60):
            log.log("comm", "meter 1", "timeout #%d" % k, ts=k)
        it = log.newest(limit=30)
        first = next(it)
        assert first["ts"] == 59
        for k in range(60, 120):  # enough to switch files twice
            log.log("comm", "meter 1", "timeout #%d" % k, ts=k)
        rest = list(it)
        seqs = [first["seq"]] + [e["seq"] for e in rest]
        assert seqs == sorted(set(seqs), reverse=True) and len(seqs) <= 30
        assert all(e["text"] == "timeout #%d" % e["ts"] for e in rest)
        assert [e["ts"] for e in log.newest(limit=3, since=118)] == [119, 118]
    finally:
        _rmtree(d)


def test_torn_and_garbled_lines_skipped():
    d = _tmpdir()
    try:
        log = EventLog(d)
        for k in range(5):
            log.log("config", "web", "change %d" % k, ts=k)
        name = d + "/ev%d.log" % log.active
        data = bytearray(open(name, "rb").read())
        lines = data.split(b"\n")
        lines[1] = lines[1].replace(b"change", b"chXnge")  # checksum no longer matches
        f = open(name, "wb")
        f.write(b"\n".join(lines) + b'[5, 5, "config", "web", "cha')  # torn last line
        f.close()
        log2 = EventLog(d)
        assert [e["ts"] for e in log2.query()] == [4, 3, 2, 0]
        log2.log("config", "web", "after", ts=9)
        # the new line follows the torn fragment: the fragment must not swallow it
        assert [e["text"] for e in EventLog(d).query()] == [
            "after",
            "change 4",
            "change 3",
            "change 2",
            "change 0",
        ]
        log2.clear()
        assert log2.query() == []
    finally:
        _rmtree(d)


def test_a_power_cut_in_the_first_write_does_not_take_the_next_event():
    """The first event of a new log cut in its write: the next boot's first event (the one
    that says why the device restarted) is not glued to the fragment and lost with it."""
    d = _tmpdir()
    try:
        log = EventLog(d)
        log.log("system", "boot", "first boot", ts=1)
        cut_last_line(d + "/ev0.log", 12)
        log = EventLog(d)
        assert log.query() == []
        log.log("system", "boot", "power cut", ts=2)
        assert [e["text"] for e in EventLog(d).query()] == ["power cut"]
    finally:
        _rmtree(d)


def test_a_line_that_lost_only_its_newline_is_kept_and_its_number_not_given_again():
    d = _tmpdir()
    try:
        log = EventLog(d)
        log.log("state", "meter 1", "online", ts=1)
        log.log("comm", "meter 1", "no answer", ts=2)
        cut_last_line(d + "/ev%d.log" % log.active, -1)  # the second line but its newline
        log = EventLog(d)
        assert [e["seq"] for e in log.query()] == [1, 0] and log.seq == 2
        log.log("state", "meter 1", "online again", ts=3)
        assert [(e["seq"], e["text"]) for e in EventLog(d).query()] == [
            (2, "online again"), (1, "no answer"), (0, "online")]
    finally:
        _rmtree(d)
