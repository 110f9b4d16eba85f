"""Property test of a relay output's behaviour (CPython + hypothesis): for any configuration and
any command sequence, sampled at any times, the contact is what the Legrand-style rules say,
computed here from the commands' history: maintained follows the command, a pulse lasts on_ms
from its edge (a new edge restarts it), a blink starts active at the command's rising edge and
keeps its phase, NC inverts."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.outputs import Output

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

configs = st.fixed_dictionaries({
    "contact": st.sampled_from(["no", "nc"]), "mode": st.sampled_from(["maintained", "pulse", "blink"]),
    "on_ms": st.integers(100, 5000), "off_ms": st.integers(100, 5000),
    "edges": st.sampled_from(["rising", "both"])})
calls = st.lists(st.tuples(st.integers(0, 3000), st.booleans()), min_size=1, max_size=80)


@FAST
@given(configs, calls, st.integers(0, 10 ** 9))
def test_the_contact_follows_the_rules(cfg, steps, t0):
    out = Output(cfg)
    now = t0
    cmd = False
    edge_at = None  # the last edge that starts a pulse / the blink's rising edge
    for dt, c in steps:
        now += dt
        edge = c != cmd
        if edge and (c or cfg["mode"] == "pulse" and cfg["edges"] == "both"):
            edge_at = now
        cmd = c
        if cfg["mode"] == "maintained":
            active = cmd
        elif cfg["mode"] == "pulse":
            active = edge_at is not None and now - edge_at < cfg["on_ms"]
        else:
            active = cmd and (now - edge_at) % (cfg["on_ms"] + cfg["off_ms"]) < cfg["on_ms"]
        want = active != (cfg["contact"] == "nc")
        assert out.contact(c, now) == want, (now - t0, cmd, edge_at and now - edge_at)
        nxt = out.next_change_ms(now)
        if nxt:  # it changes by itself exactly then (the service sleeps until it)
            assert copy.deepcopy(out).contact(c, now + nxt - 1) == want
            assert copy.deepcopy(out).contact(c, now + nxt) != want
        elif nxt is None:  # only the command changes it
            assert copy.deepcopy(out).contact(c, now + 10 ** 7) == want
