"""Property test of the login throttle (CPython + hypothesis): whatever the order of failed and
successful logins from many clients and however the clock moves, the table stays in its bound,
a client's first failures are free, a blocked client is told when to come back (and is let in
then), the wait never passes the maximum, and a success clears the client."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.auth import LoginThrottle

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FREE, BASE, MAX, FORGET, KEYS = 3, 2, 300, 900, 8

ops = st.lists(st.one_of(
    st.tuples(st.just("fail"), st.integers(0, 11)),  # more clients than the table holds
    st.tuples(st.just("fail"), st.integers(0, 1)),  # one or two clients trying hard
    st.tuples(st.just("ok"), st.integers(0, 11)),
    st.tuples(st.just("wait"), st.integers(0, 30) | st.integers(0, 2 * FORGET)),
    st.tuples(st.just("shift"), st.integers(-3600, 3600)),
), min_size=10, max_size=150)


@FAST
@given(ops)
def test_the_throttle_blocks_after_the_free_failures_and_lets_in_when_it_said(steps):
    th = LoginThrottle(max_keys=KEYS, free_failures=FREE, base_s=BASE, max_s=MAX, forget_s=FORGET)
    now = 1795000000
    streak = {}  # failures in a row per client since its last success (a forgotten one restarts)
    for op, *arg in steps:
        if op == "wait":
            now += arg[0]
            continue
        if op == "shift":  # the clock set: blocks and ages move with it
            now += arg[0]
            th.shift(arg[0])
            continue
        key = "10.0.0.%d" % arg[0]
        ok, retry = th.attempt(key, now)
        if not ok:
            assert 1 <= retry <= MAX
            assert streak.get(key, 0) > FREE  # never blocked within its free failures
            later = th.allowed(key, now + retry)
            assert later == (True, 0), later  # let in when it was told
            continue
        if op == "ok":
            th.success(key)
            streak[key] = 0
            assert th.allowed(key, now) == (True, 0)
        else:
            streak[key] = streak.get(key, 0) + 1
        assert len(th) <= KEYS
