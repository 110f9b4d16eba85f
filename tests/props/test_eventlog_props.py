"""Property tests of the event log (CPython + hypothesis): whatever is logged (any text, any
size), with restarts and power cuts in the middle of a write, the log gives back the newest
events, newest first, as they were logged, none skipped or repeated, in its flash budget."""

import os
import shutil
import tempfile

from _assert import cut_last_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.eventlog import MAX_SOURCE, MAX_TEXT, TYPES, EventLog, _clean

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUDGET = 4096  # small, so that the two files take turns often (a line takes up to ~1.3 KB)

ops = st.lists(st.one_of(
    st.tuples(st.just("log"), st.sampled_from(TYPES), st.text(max_size=50),
              st.text(max_size=200) | st.sampled_from(["no answer", "a\nb\tc", "é" * 170])),
    st.just(("restart",)),
    st.tuples(st.just("cut"), st.sampled_from(TYPES), st.text(max_size=100),
              st.integers(0, 200)),  # an event whose write was cut after so many bytes
), max_size=60)


@FAST
@given(ops)
def test_the_newest_events_come_back_as_logged(steps):
    root = tempfile.mkdtemp(prefix="evlog-props-")
    try:
        log = EventLog(root, budget=BUDGET)
        logged = []  # (seq, type, source, text) as stored
        for s in steps:
            if s[0] == "log":
                seq = log.log(s[1], s[2], s[3], ts=1795000000 + len(logged))
                assert seq == (logged[-1][0] + 1 if logged else 0)
                logged.append((seq, s[1], _clean(s[2], MAX_SOURCE), _clean(s[3], MAX_TEXT)))
            elif s[0] == "restart":
                log = EventLog(root, budget=BUDGET)
            else:  # the power cut while an event's line was being written: part of it on flash
                seq = log.log(s[1], "meter 9", s[2], ts=1)
                whole = cut_last_line(os.path.join(root, "ev%d.log" % log.active), s[3])
                if s[3] >= whole:  # only the newline lost: the event is whole (its CRC says so)
                    logged.append((seq, s[1], "meter 9", _clean(s[2], MAX_TEXT)))
                log = EventLog(root, budget=BUDGET)
            got = [(e["seq"], e["type"], e["source"], e["text"]) for e in log.query(limit=1000)]
            # a run of the newest, newest first, as logged
            assert got == logged[::-1][:len(got)]
            assert bool(got) == bool(logged)  # the newest event is always there
            assert sum(os.path.getsize(os.path.join(root, n)) for n in os.listdir(root)) <= BUDGET, (steps, {n: os.path.getsize(os.path.join(root, n)) for n in os.listdir(root)})
        if logged:
            kinds = set(x[1] for x in logged)
            for t in kinds:  # a filter gives the same events as filtering the whole log
                all_of = [e["seq"] for e in log.query(limit=1000) if e["type"] == t]
                assert [e["seq"] for e in log.query(limit=3, type=t)] == all_of[:3]
    finally:
        shutil.rmtree(root)


@FAST
@given(st.lists(st.text(max_size=40), min_size=1, max_size=12))
def test_nothing_is_lost_while_it_fits_in_half_the_budget(texts):
    """Events whose lines fit in one file (half the budget) are all kept."""
    root = tempfile.mkdtemp(prefix="evlog-props-")
    try:
        log = EventLog(root, budget=BUDGET)
        for i, t in enumerate(texts):
            log.log("state", "meter 1", t, ts=i)
        size = sum(os.path.getsize(os.path.join(root, n)) for n in os.listdir(root))
        if size < BUDGET // 2:
            assert [e["text"] for e in log.query(limit=100)] == [_clean(t, MAX_TEXT) for t in texts][::-1]
    finally:
        shutil.rmtree(root)
