"""services/genset.py with a fake relay, a fake clock and a scripted SOC trace.

Runs under CPython asyncio and the MicroPython unix port: the loop is driven by wake() and
synchronised on the service's ``stepped`` event (its interval is an hour, so no timer fires).
"""
import sys

try:
    import asyncio
except ImportError:  # MicroPython with MICROPYPATH set: asyncio is frozen into the binary
    sys.path.append(".frozen")
    import asyncio

from gateway.core.event_codes import text
from gateway.core.genset import GensetController
from gateway.core.outputs import Output
from gateway.services.genset import GensetService

T0 = 1800000000


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def ms(self):
        return int(self.now * 1000) % (1 << 29)


class Recording:
    def __init__(self, clock):
        self.clock = clock
        self.relay = None
        self.saved = []
        self.events = []
        self.configs = []
        self.readings = {}

    def set_soc(self, soc, status="ok", ts=None):
        self.readings = {"7": {"status": status, "ts": self.clock.now if ts is None else ts,
                               "values": {"soc_pct": soc, "battery_v": 51.0}}}


class HistRelay:
    """A fake relay: ``value`` True = closed; every write is recorded with the fake time."""

    def __init__(self, clock):
        self._clock = clock
        self._v = False
        self.history = []

    @property
    def value(self):
        return self._v

    @value.setter
    def value(self, v):
        self._v = v
        self.history.append((self._clock.now, v))


def make(config, persisted=None, output=None, fail=None):
    clock = Clock(T0)
    rec = Recording(clock)
    rec.relay = HistRelay(clock)
    ctrl = GensetController(config, persisted)

    def read():
        if fail and fail[0]:
            fail[0] -= 1
            raise OSError("bus busy")
        return rec.readings

    svc = GensetService(ctrl, rec.relay, read, save_state=rec.saved.append,
                        log_event=lambda t, src, c, p: rec.events.append((t, src, text(c, p))),
                        save_config=rec.configs.append, clock=clock, ticks_ms=clock.ms,
                        output=output, interval_s=3600)
    return clock, rec, svc


CFG = {"mode": "auto", "soc_source": {"meter": 7, "quantity": "soc_pct"}, "start_soc": 30,
       "stop_soc": 80, "min_run_s": 120, "min_rest_s": 300, "max_run_s": 0, "warmup_s": 10,
       "cooldown_s": 20}


async def _tick(svc, clock, rec, t, soc, status="ok"):
    clock.now = t
    rec.set_soc(soc, status)
    svc.stepped.clear()
    svc.wake()
    await svc.stepped.wait()


async def _scripted_trace():
    clock, rec, svc = make(CFG)
    rec.set_soc(50)
    task = asyncio.create_task(svc.run())
    await svc.stepped.wait()
    assert svc.steps == 1 and rec.relay.value is False and rec.saved == []
    trace = [(5, 40), (10, 30), (15, 28), (20, 35), (40, 50), (75, 60), (100, 85), (130, 85),
             (150, 85), (200, 20), (430, 20), (440, 20)]
    for dt, soc in trace:
        await _tick(svc, clock, rec, T0 + dt, soc)
    # start at the threshold (T0+10), stop decided at min run (T0+130), relay open after the
    # cool-down (T0+150); SOC low again at T0+200 but min rest 300 s from T0+150 -> T0+450
    assert rec.relay.history == [(T0 + 10, True), (T0 + 150, False)]
    st = svc.status()
    assert st["mode"] == "auto" and st["relay"] is False and st["start_soc"] == 30
    assert "min rest 300 s not reached" in st["reason"]
    await _tick(svc, clock, rec, T0 + 450, 20)
    assert rec.relay.history[-1] == (T0 + 450, True)
    assert svc.status()["running_since"] == T0 + 450
    texts = [e[2] for e in rec.events if e[:2] == ("genset", "genset")]
    assert len([x for x in texts if x.startswith("start: ")]) == 2
    assert len([x for x in texts if x.startswith("stop after ")]) == 1
    assert "running → cooldown: SOC 85 % ≥ 80 %" in texts
    # every save after a start/stop carries the new state
    assert rec.saved[-1]["starts"] == 2 and rec.saved[-1]["running_since"] == T0 + 450
    n = len(rec.saved)
    # run time alone is saved at most once a minute
    for dt in range(460, 600, 10):
        await _tick(svc, clock, rec, T0 + dt, 25)
    times = [p["run_s"] for p in rec.saved[n:]]
    assert times == [200, 260], times  # 140 s of the first run + 60, + 120
    svc.stop()
    await task


def test_service_scripted_trace():
    asyncio.run(_scripted_trace())


async def _source_loss_and_errors():
    clock, rec, svc = make(dict(CFG, on_source_loss="stop", min_run_s=0, cooldown_s=0),
                           fail=[2])
    rec.set_soc(20)
    task = asyncio.create_task(svc.run())
    await svc.stepped.wait()
    # the readings callable failed: reported once, the controller sees the source lost
    assert [e for e in rec.events if e[0] == "system"] == [
        ("system", "genset", "genset service: bus busy")]
    assert svc.status()["reason"] == "source lost → stop" and svc.steps == 1
    await _tick(svc, clock, rec, T0 + 1, 20)  # second failure: not reported again
    assert len([e for e in rec.events if e[0] == "system"]) == 1
    await _tick(svc, clock, rec, T0 + 2, 20)
    assert rec.relay.value is True
    await _tick(svc, clock, rec, T0 + 3, 20, status="offline")
    assert rec.relay.value is False and svc.status()["reason"] == "source lost → stop"
    # meter missing from the readings entirely
    clock.now = T0 + 4
    rec.readings = {}
    svc.stepped.clear()
    svc.wake()
    await svc.stepped.wait()
    assert svc.status()["source_lost"] is True
    svc.stop()
    await task


def test_service_source_loss_and_failing_callable():
    asyncio.run(_source_loss_and_errors())


async def _manual_run_saves_config():
    clock, rec, svc = make(dict(CFG, mode="off", manual_run_s=200, min_run_s=0, cooldown_s=0))
    rec.set_soc(60)
    task = asyncio.create_task(svc.run())
    await svc.stepped.wait()
    cfg = svc.set_config({"mode": "on"})  # saves the config and wakes the loop itself
    assert cfg["mode"] == "on" and rec.configs == [cfg]
    rec.configs.clear()
    svc.stepped.clear()
    await svc.stepped.wait()
    assert rec.relay.value is True
    await _tick(svc, clock, rec, T0 + 199, 60)
    assert rec.relay.value is True and rec.configs == []
    await _tick(svc, clock, rec, T0 + 200, 60)
    assert rec.relay.value is False
    assert len(rec.configs) == 1 and rec.configs[0]["mode"] == "off"
    svc.stop()
    await task


def test_service_manual_run_end_saves_config():
    asyncio.run(_manual_run_saves_config())


def test_service_drives_pulse_output_and_restores_after_reboot():
    # synchronous steps: the pulse timing runs on the injected ms ticks
    clock, rec, svc = make(dict(CFG, warmup_s=0, cooldown_s=0),
                           output=Output({"mode": "pulse", "on_ms": 1500}))
    rec.set_soc(20)
    assert svc.step() is True
    assert rec.relay.value is True
    assert svc.output.next_change_ms(clock.ms()) == 1500
    clock.now = T0 + 1
    rec.set_soc(20)
    svc.step()
    assert rec.relay.value is True
    clock.now = T0 + 2
    rec.set_soc(20)
    assert svc.step() is True and rec.relay.value is False  # pulse over, command still on
    saved = rec.saved[-1]
    assert saved["running_since"] == T0
    # reboot: a new service from the saved state; the relay starts open and rests
    clock2, rec2, svc2 = make(dict(CFG, warmup_s=0, cooldown_s=0), persisted=saved)
    clock2.now = T0 + 50
    rec2.set_soc(20)
    assert svc2.step() is False
    assert "min rest" in svc2.status()["reason"]
    assert rec2.saved[-1]["last_stop_reason"] == "reboot while running"


def test_service_nc_output_sets_idle_level_at_construction():
    clock, rec, svc = make(CFG, output=Output({"contact": "nc"}))
    assert rec.relay.value is True  # NC: closed while the command is off
    rec.set_soc(50)
    svc.step()
    assert rec.relay.value is True


def test_service_voltage_from_soc_meter():
    v = {"enabled": True, "start_v": 52, "stop_v": 56, "start_delay_s": 0, "stop_delay_s": 0}
    clock, rec, svc = make(dict(CFG, voltage=v, warmup_s=0))
    rec.set_soc(60)  # SOC fine, battery_v 51 V <= 52 V
    assert svc.step() is True
    assert svc.status()["battery_v"] == 51.0


def test_service_failing_save_is_logged_once_and_retried():
    clock, rec, svc = make(dict(CFG, warmup_s=0))
    calls = []

    def save(p):
        calls.append(p)
        if len(calls) <= 2:
            raise OSError("flash full")
        rec.saved.append(p)

    svc._save_state = save
    rec.set_soc(20)
    assert svc.step() is True and rec.relay.value is True  # the relay is driven anyway
    clock.now = T0 + 1
    svc.step()
    clock.now = T0 + 2
    svc.step()
    assert len(calls) == 3 and rec.saved[0]["starts"] == 1
    errors = [e for e in rec.events if e[0] == "system"]
    assert errors == [("system", "genset", "genset service: flash full")]
    clock.now = T0 + 3
    svc.step()
    assert len(calls) == 3  # nothing new to save
