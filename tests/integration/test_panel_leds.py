"""The emulated front panel names the firmware's LED blinks apart (core/panel.py): the COM LED's
bus traffic is "blink", an error "fast", the READY LED "slow"."""
import pytest

from dingate.emulator import hardware
from dingate.testing.emuproc import EmulatorProcess


@pytest.mark.parametrize("on_off_ms, name", [((1000, 1000), "slow"), ((150, 150), "blink"),
                                             ((100, 100), "fast")])
def test_a_pin_toggling_like_each_blink_is_named_after_it(monkeypatch, on_off_ms, name):
    now = [100.0]
    monkeypatch.setattr(hardware.time, "monotonic", lambda: now[0])
    pin = hardware.PinWatch()
    for k in range(12):
        now[0] += on_off_ms[k % 2] / 1000 + (0.01 if k % 3 else -0.01)  # the LED tick's jitter
        pin.set(1 - pin.level)
    assert pin.pattern() == name
    now[0] += 5
    assert pin.pattern() in ("on", "off")


def test_healthy_meters_show_traffic_on_com_not_an_error():
    with EmulatorProcess() as emu:
        emu.login()
        emu.add_meters({"name": "Main", "address": 1, "profile": "sdm630"})
        seen = []

        def steady_traffic():
            seen.append(emu.hw()["leds"]["com"])
            return seen[-3:] == ["blink"] * 3

        emu.wait_for(steady_traffic, timeout=30, interval=0.5, what="COM showing bus traffic")
