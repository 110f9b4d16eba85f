"""gateway.core.panel: LED patterns and the PRG button rules."""

from gateway.core import panel
from gateway.core.panel import Button, classify


def samples(fn, state, t0, t1, step=10):
    return [fn(state, t) for t in range(t0, t1, step)]


def duty(fn, state, t0=0, t1=6000):  # whole periods of every pattern
    s = samples(fn, state, t0, t1)
    return sum(1 for x in s if x) / len(s)


def edges(fn, state, t0=0, t1=10000, step=10):
    s = samples(fn, state, t0, t1, step)
    return sum(1 for i in range(1, len(s)) if s[i] != s[i - 1])


def test_blink():
    assert panel.blink(0, 100, 100) is True
    assert panel.blink(99, 100, 100) is True
    assert panel.blink(100, 100, 100) is False
    assert panel.blink(199, 100, 100) is False
    assert panel.blink(200, 100, 100) is True


def test_net_led():
    assert duty(panel.net_led, "off") == 0
    assert duty(panel.net_led, "broker") == 1
    assert duty(panel.net_led, "router") == 0.5
    assert edges(panel.net_led, "router") == 9  # 0.5 Hz over 10 s: 5 periods, 9 inner edges
    assert panel.net_led("unknown", 123) is False


def test_com_led_and_state():
    assert duty(panel.com_led, "idle") == 0
    assert duty(panel.com_led, "traffic") == 0.5
    assert duty(panel.com_led, "error") == 0.5
    # error blinks faster than traffic, which blinks faster than slow
    assert (
        edges(panel.com_led, "error")
        > edges(panel.com_led, "traffic")
        > edges(panel.net_led, "router")
    )
    assert panel.com_state(10000) == "idle"
    assert panel.com_state(10000, last_ok_ms=9000) == "traffic"
    assert panel.com_state(10000, last_ok_ms=7000) == "idle"
    assert panel.com_state(10000, last_ok_ms=9990, last_error_ms=9500) == "error"
    assert panel.com_state(10000, last_ok_ms=9990, last_error_ms=5000) == "traffic"
    assert panel.com_state(10000, last_error_ms=8001) == "error"
    assert panel.com_state(10000, last_error_ms=8000) == "idle"


def test_ready_led():
    assert duty(panel.ready_led, "off") == 0
    assert duty(panel.ready_led, "running") == 0.5
    assert edges(panel.ready_led, "factory_reset") > 5 * edges(panel.ready_led, "running")
    d = panel.leds("broker", "idle", "running", 0)
    assert d == {"net": True, "com": False, "ready": True}


def test_classify_rules():
    assert classify(0) is None
    assert classify(49) is None
    assert classify(50) == "setup"
    assert classify(1999) == "setup"
    assert classify(2000) is None
    assert classify(4999) is None
    assert classify(5000) == "restart"
    assert classify(9999) == "restart"
    assert classify(10000) == "factory_reset"
    assert classify(30000) == "factory_reset"
    assert classify(30001) is None
    assert classify(10**7) is None
    assert panel.classify_press(1000, 6000) == "restart"


def press(b, t, hold, step=10):
    """Press at t for ``hold`` ms, sampling every ``step`` ms; returns (actions, end time)."""
    acts = []
    end = t + hold
    while t < end:
        a = b.update(t, True)
        if a:
            acts.append(a)
        t += step
    for _ in range(20):  # release and let the debounce settle
        a = b.update(t, False)
        if a:
            acts.append(a)
        t += step
    return acts, t


def idle_button(t=0):
    b = Button(t)
    b.update(t, False)
    return b


def test_button_actions_on_release():
    for hold, want in (
        (300, ["setup"]),
        (3000, []),
        (5000, ["restart"]),
        (7000, ["restart"]),
        (10000, ["factory_reset"]),
        (29000, ["factory_reset"]),
        (31000, []),
        (20, []),
    ):
        b = idle_button()
        acts, _ = press(b, 100, hold)
        assert acts == want, (hold, acts)


def test_button_nothing_fires_while_held():
    b = idle_button()
    seen = []
    for t in range(100, 40000, 20):
        if b.update(t, True):
            seen.append(t)
    assert seen == []
    assert b.stuck


def test_button_pending_feedback():
    b = idle_button()
    b.update(1000, True)
    b.update(1060, True)  # debounced press, started at 1000
    assert b.pending(1500) == "setup"
    assert b.pending(4000) is None
    assert b.pending(7000) == "restart"
    assert b.pending(12000) == "factory_reset"
    assert b.held_ms(12000) == 11000
    assert b.pending(40000) is None
    assert idle_button().pending(5) is None


def test_button_held_at_boot_never_triggers():
    b = Button(0)
    acts, t = press(b, 0, 12000)  # held from the first sample, released after 12 s
    assert acts == []
    assert b.pending(100) is None
    acts, t = press(b, t + 100, 6000)  # a normal press afterwards works
    assert acts == ["restart"]
    # stuck forever at boot: nothing, ever
    b = Button(0)
    assert all(b.update(t, True) is None for t in range(0, 120000, 50))
    assert b.pending(120000) is None


def test_button_debounce():
    b = idle_button()
    # bounce on press: short contacts do not start a press
    for t, lvl in ((100, True), (110, False), (120, True), (125, False)):
        assert b.update(t, lvl) is None
    assert not b.pressed
    # a 20 ms release glitch in the middle of a 6 s hold does not split it
    t = 1000
    acts = []
    while t < 7000:
        lvl = not (4000 <= t < 4020)
        a = b.update(t, lvl)
        if a:
            acts.append(a)
        t += 10
    for _ in range(10):
        a = b.update(t, False)
        if a:
            acts.append(a)
        t += 10
    assert acts == ["restart"]


def test_button_hold_ms_api_matches_emulator_contract():
    # POST /api/hw/button {"hold_ms": 5000} must restart, 10000 must factory-reset.
    for hold, want in ((5000, "restart"), (10000, "factory_reset"), (500, "setup")):
        b = idle_button()
        b.update(1000, True)
        assert b.update(1000 + hold, False) is None  # release not yet stable
        assert b.update(1000 + hold + panel.DEBOUNCE_MS, False) == want
