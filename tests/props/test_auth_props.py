"""Property tests of the session table (CPython + hypothesis): whatever the order of logins,
logouts, revocations, clock changes and forged tokens, the table stays in its bounds, an ended
or expired session never comes back, a new one works at once, and a full table makes room at
the expense of the users holding the most sessions, never of a user with fewer."""

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.core.auth import Sessions

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
USERS = ["admin", "inst", "apt1", "apt2", "apt3", "apt4"]
TTL = 3600

login = st.tuples(st.just("login"), st.sampled_from(USERS))
ops = st.lists(st.one_of(
    login, login, login, login, login, login,  # often enough to fill the table (16 < 6 x 4)
    st.tuples(st.just("logout"), st.integers(0, 200)),
    st.tuples(st.just("revoke_user"), st.sampled_from(USERS), st.integers(-1, 200)),
    st.tuples(st.just("wait"), st.integers(0, 60)),
    st.tuples(st.just("wait"), st.integers(0, 2 * TTL)),
    st.tuples(st.just("shift"), st.integers(-2 * TTL, 2 * TTL)),
    st.tuples(st.just("forge"), st.integers(0, 200), st.integers(0, 63)),
), min_size=30, max_size=120)


# a full table whose oldest session is not of a user holding the most: that user keeps it
FULL = ([("login", "inst")] * 3 + [("login", "admin")] * 4
        + [("login", u) for u in ("apt1", "apt2", "apt3") for _ in range(3)] + [("login", "apt4")])


@FAST
@given(ops)
@example(FULL)
def test_sessions_stay_bounded_and_ended_ones_never_return(steps):
    s = Sessions(b"0123456789abcdef0123", ttl_s=TTL)
    now = 1795000000
    tokens = []  # (token, user), every one ever made
    ended = set()  # tokens logged out or revoked: never valid again
    expires = {}  # token -> expiry as the clock moved

    def live():
        return {t: u for t, u in tokens if s.check(t, now) is not None}

    for op in steps:
        before = live()
        if op[0] == "login":
            t = s.new(op[1], "user", now)
            tokens.append((t, op[1]))
            expires[t] = now + TTL
            got = s.check(t, now)
            assert got["user"] == op[1] and len(got["csrf"]) == 32
            after = live()
            counts = {}
            for u in before.values():
                counts[u] = counts.get(u, 0) + 1
            for lost, u in before.items():
                if lost not in after and expires[lost] > now:  # ended to make room
                    assert u == op[1] or counts[u] == max(counts.values()), (u, counts)
        elif tokens and op[0] == "logout":
            t = tokens[op[1] % len(tokens)][0]
            s.revoke(t)
            ended.add(t)
        elif op[0] == "revoke_user":
            keep = tokens[op[2] % len(tokens)][0] if tokens and op[2] >= 0 else None
            s.revoke_user(op[1], keep)
            ended.update(t for t, u in tokens if u == op[1] and t != keep)
        elif op[0] == "wait":
            now += op[1]
        elif op[0] == "shift":  # the clock set: expiries move with it
            now += op[1]
            s.shift(op[1])
            for t in expires:
                expires[t] += op[1]
        elif tokens:  # a token with one character changed is refused
            t = tokens[op[1] % len(tokens)][0]
            i = op[2]
            forged = t[:i] + ("0" if t[i] != "0" else "1") + t[i + 1:]
            assert s.check(forged, now) is None
        alive = live()
        assert len(s) <= s.max_sessions and len(alive) <= s.max_sessions
        for u in USERS:
            assert sum(1 for x in alive.values() if x == u) <= s.max_per_user
        assert not (set(alive) & ended)
        assert all(expires[t] > now for t in alive)
