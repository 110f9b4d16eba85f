"""Property test of the Wi-Fi supervisor (CPython + hypothesis): whatever the router does
(never there, flapping, lost for good, DHCP slow), whatever the user does (new credentials, the
setup button) and however the clock moves, the device can always be reached: its access point
comes back once the router has been missing for the fallback time (ESPHome #19459: an AP that
never returned), and it is on whenever no router is configured."""

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.core.wifi_state import WifiSupervisor

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FALLBACK, GRACE, WINDOW, STABLE = 60, 60, 600, 30

steps = st.lists(st.one_of(
    # (seconds of ticks, configured, connected, ip): the radio's report during that time
    st.tuples(st.just("run"), st.integers(1, 200), st.booleans(), st.booleans(),
              st.sampled_from(["192.168.1.20", "0.0.0.0", None])),
    st.tuples(st.just("run"), st.integers(1, 40), st.just(True), st.booleans(),
              st.just("192.168.1.20")),  # a flapping router
    st.just(("config",)), st.just(("button",)),
    st.tuples(st.just("clock"), st.integers(-86400, 86400)),
), min_size=5, max_size=40)


UP = ("run", 100, True, True, "192.168.1.20")
DOWN = ("run", 100, True, False, None)


@FAST
@given(steps)
@example([UP, DOWN, UP, DOWN])  # ESPHome #19459: the second loss
@example([("run", 20, True, True, "192.168.1.20"), DOWN] * 3)  # a flapping router
def test_the_access_point_comes_back_whenever_the_router_is_missing(plan):
    now = 1000
    w = WifiSupervisor(now, FALLBACK, GRACE, WINDOW, STABLE)
    down_since = now  # the router has not been reachable (with an IP) since then
    setup_until = None
    for s in plan:
        if s[0] == "config":
            w.config_changed(now)
            continue
        if s[0] == "button":
            w.request_setup(now)
            setup_until = now + WINDOW
            continue
        if s[0] == "clock":  # set from a phone or NTP: every timer keeps its time left
            w.shift(s[1])
            now += s[1]
            down_since = down_since + s[1] if down_since is not None else None
            setup_until = setup_until + s[1] if setup_until is not None else None
            continue
        _, secs, configured, connected, ip = s
        up = configured and connected and ip not in (None, "0.0.0.0")
        for _ in range(secs):
            ap, sta = w.tick(now, configured, connected, ip)
            if up:
                down_since = None
            elif down_since is None:
                down_since = now
            if not configured:
                assert ap and not sta, w.status(now)
            elif not up and now - down_since >= FALLBACK:
                assert ap, (w.status(now), now - down_since)
            if setup_until is not None and now < setup_until:
                assert ap, w.status(now)  # the setup window keeps it on
            assert ap or sta  # never unreachable and not even trying
            now += 1
