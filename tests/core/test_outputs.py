"""Output behaviour (NO/NC, maintained/pulse/blink) and the relay driver with a fake machine."""
import sys

from _assert import raises

from gateway.core.errors import ValidationError
from gateway.core.outputs import OUTPUT_DEFAULTS, Output, pin_level, validate_output


def levels(out, script, step=100, end=None):
    """script: [(t_ms, command)] changes; sample contact() every ``step`` ms up to ``end``."""
    res = []
    cmd = False
    i = 0
    end = end if end is not None else script[-1][0] + step
    t = 0
    while t < end:
        while i < len(script) and script[i][0] <= t:
            cmd = script[i][1]
            i += 1
        res.append(1 if out.contact(cmd, t) else 0)
        t += step
    return res


def test_defaults():
    assert validate_output({}) == OUTPUT_DEFAULTS
    o = Output()
    assert o.contact(False, 0) is False and o.contact(True, 1) is True
    assert o.next_change_ms(1) is None


def test_maintained_no_and_nc():
    o = Output({"contact": "nc"})
    assert o.contact(False, 0) is True
    assert o.contact(True, 10) is False
    assert o.contact(False, 20) is True


def test_pulse_on_rising_edge_only():
    o = Output({"mode": "pulse", "on_ms": 300})
    got = levels(o, [(0, False), (200, True), (1000, False)], end=1600)
    assert got == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def test_pulse_both_edges_and_nc():
    o = Output({"mode": "pulse", "on_ms": 200, "edges": "both", "contact": "nc"})
    got = levels(o, [(0, False), (100, True), (600, False)], end=1000)
    assert got == [1, 0, 0, 1, 1, 1, 0, 0, 1, 1]


def test_pulse_next_change():
    o = Output({"mode": "pulse", "on_ms": 500})
    o.contact(True, 1000)
    assert o.next_change_ms(1200) == 300
    o.contact(True, 1500)
    assert o.next_change_ms(1500) is None


def test_blink():
    o = Output({"mode": "blink", "on_ms": 200, "off_ms": 300})
    got = levels(o, [(0, True), (1200, False)], end=1500)
    assert got == [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0]
    o.contact(True, 5000)
    assert o.next_change_ms(5050) == 150
    o.contact(True, 5250)
    assert o.next_change_ms(5250) == 250


def test_blink_long_running_keeps_phase():
    o = Output({"mode": "blink", "on_ms": 1000, "off_ms": 1000})
    o.contact(True, 0)
    assert o.contact(True, 10 ** 8 + 500) is True  # 50 000 periods later, phase kept
    assert o.contact(True, 10 ** 8 + 1500) is False


def test_pin_level():
    assert pin_level(True) is True and pin_level(False) is False
    assert pin_level(True, normally_closed=True) is False  # NC contact: closed = de-energised
    assert pin_level(True, active_high=False) is False
    assert pin_level(False, normally_closed=True, active_high=False) is False
    o = Output({"contact": "nc"})
    assert o.pin(False, 0) is True and o.pin(True, 1, active_high=False) is True


def test_validate_output_fields():
    for cfg, field in (([], None), ({"contact": "x"}, "contact"), ({"mode": "toggle"}, "mode"),
                       ({"on_ms": 50}, "on_ms"), ({"off_ms": 1.5}, "off_ms"),
                       ({"on_ms": True}, "on_ms"), ({"edges": "falling"}, "edges"),
                       ({"colour": 1}, "colour")):
        e = raises(ValidationError, validate_output, cfg)
        assert e.field == field, (cfg, e.field)
    c = validate_output({"mode": "blink"}, {"contact": "nc", "on_ms": 500})
    assert c["contact"] == "nc" and c["on_ms"] == 500 and c["mode"] == "blink"


def test_set_config_resets_timing():
    o = Output({"mode": "pulse"})
    o.contact(True, 0)
    o.set_config({"mode": "maintained"})
    assert o.contact(True, 10) is True and o.next_change_ms(10) is None


# ------------------------------------------------------------- the driver, with a fake machine


class _FakePin:
    OUT = 3
    made = []

    def __init__(self, no, mode, value=None):
        self.no = no
        self.levels = [] if value is None else [value]
        _FakePin.made.append(self)

    def value(self, v=None):
        if v is None:
            return self.levels[-1]
        self.levels.append(v)


class _FakeMachine:
    Pin = _FakePin


def _relay_class():
    saved_m = sys.modules.get("machine")
    saved_r = sys.modules.pop("gateway.drivers.relay", None)
    sys.modules["machine"] = _FakeMachine
    try:
        import gateway.drivers.relay as mod
        return mod.Relay
    finally:
        if saved_m is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = saved_m
        sys.modules.pop("gateway.drivers.relay", None)
        if saved_r is not None:
            sys.modules["gateway.drivers.relay"] = saved_r


def test_relay_driver_starts_open_and_maps_levels():
    Relay = _relay_class()
    r = Relay(26)
    pin = _FakePin.made[-1]
    assert pin.no == 26 and pin.levels[0] == 0 and r.value is False and not r.energised
    r.on()
    assert pin.levels[-1] == 1 and r.value is True and r.energised
    r.off()
    assert pin.levels[-1] == 0
    r2 = Relay(27, normally_closed=True, active_high=False)
    pin2 = _FakePin.made[-1]
    # open an NC contact = energise; low-active pin -> level 0
    assert pin2.levels[0] == 0 and r2.value is False and r2.energised
    r2.value = True
    assert pin2.levels[-1] == 1 and not r2.energised
