"""Properties of the genset controller over random worlds (CPython, hypothesis).

A world is a random config and a random trace: clock steps of 1..120 s, a SOC random walk,
source drop-outs (offline, stale, no value), user mode changes, reboots (a new controller from
the last saved state and config, relay open) and a fake generator answering the running
feedback (with random faults). The state is saved as the service does: on every ``version``
change and, for run time alone, once a minute. Checked at every update:

- every counted start comes >= min_rest_s after the previous relay opening (stop, failed
  attempt or reboot), so two starts are never closer than min_rest_s, also across reboots;
  a feedback retry closes >= retry_pause_s after the failed attempt opened;
- a run (relay closed) never lasts longer than max_run_s + cooldown_s;
- a run never ends before min_run_s unless mode "off" was seen during it, the feedback
  failed (retry/error) or the device rebooted;
- source loss in auto: "stop" never starts and holds a run only for min run / cool-down;
  "start" has the relay closed unless min rest, a retry, an error or quiet hours stop it;
  "keep" never makes a new start;
- no start or retry inside quiet hours configured "no_start" (except a manual run);
- the same inputs give the same outputs (deterministic).

``DINGATE_NIGHTLY=1`` runs more examples.
"""
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gateway.core.genset_config  # noqa: F401  kept loaded: the controller validates through it
from gateway.core.event_codes import text as event_text
from gateway.core.genset import GensetController, _in_window

NIGHTLY = os.environ.get("DINGATE_NIGHTLY") == "1"
EXAMPLES = 2000 if NIGHTLY else 250
T0 = 1800000000
SRC = {"meter": "1", "quantity": "soc_pct"}


def hhmm(m):
    return "%02d:%02d" % (m // 60, m % 60)


@st.composite
def configs(draw):
    min_run = draw(st.integers(0, 600))
    max_run = draw(st.one_of(st.just(0), st.integers(max(min_run, 1), 3600)))
    start = draw(st.integers(5, 60))
    c = {
        "mode": draw(st.sampled_from(["auto", "auto", "on", "off"])),
        "soc_source": SRC,
        "start_soc": start,
        "stop_soc": draw(st.integers(start + 1, 100)),
        "start_delay_s": draw(st.sampled_from([0, 0, 10, 60])),
        "stop_delay_s": draw(st.sampled_from([0, 0, 10, 60])),
        "min_run_s": min_run,
        "min_rest_s": draw(st.integers(0, 900)),
        "max_run_s": max_run,
        "warmup_s": draw(st.integers(0, 120)),
        "cooldown_s": draw(st.integers(0, 120)),
        "on_source_loss": draw(st.sampled_from(["stop", "start", "keep"])),
        "source_max_age_s": draw(st.integers(5, 300)),
        "manual_run_s": draw(st.sampled_from([0, 0, 60, 300, 2000])),
    }
    if draw(st.booleans()):
        qs = draw(st.integers(0, 1439))
        qe = draw(st.integers(0, 1439).filter(lambda m: m != qs))
        c["quiet_hours"] = {"start": hhmm(qs), "end": hhmm(qe), "no_start": draw(st.booleans()),
                            "stop_running": draw(st.booleans())}
    if draw(st.booleans()):
        c["feedback"] = {"enabled": True, "timeout_s": draw(st.integers(5, 60)),
                         "retries": draw(st.integers(0, 3)),
                         "retry_pause_s": draw(st.integers(1, 120))}
    return c


STEP = st.tuples(
    st.integers(1, 120),  # clock step
    st.integers(-15, 15),  # SOC change
    st.sampled_from(["ok"] * 8 + ["offline", "stale", "none"]),
    st.sampled_from([None] * 20 + ["auto", "on", "off", "reboot"]),
    st.sampled_from([False] * 9 + [True]),  # generator fault during this step
)

WORLD = st.tuples(configs(), st.integers(0, 100), st.integers(0, 1439), st.integers(0, 90),
                  st.lists(STEP, min_size=40, max_size=300))


class Sim:
    """Runs one world, recording what the checks need."""

    def __init__(self, cfg, soc0, local0, crank_s):
        self.cfg = cfg
        self.saved_cfg = dict(cfg)
        self.ctrl = GensetController(cfg)
        self.saved = self.ctrl.persisted()
        self.saved_version = self.ctrl.version
        self.saved_cfg_version = self.ctrl.config_version
        self.saved_at = T0
        self.soc = soc0
        self.local0 = local0
        self.crank_s = crank_s
        self.now = T0
        self.relay = False
        self.t_close = None
        self.t_open = None  # last relay opening (None: never since the world began)
        self.off_seen = False
        self.prev_lost = False
        self.prev_state = "stopped"
        self.prev_mode = cfg["mode"]
        self.outputs = []
        self.violations = []

    def local(self, now):
        return (self.local0 + (now - T0) // 60) % 1440

    def quiet(self, now):
        q = self.ctrl.config["quiet_hours"]
        if not q["enabled"]:
            return False
        s = int(q["start"][:2]) * 60 + int(q["start"][3:])
        e = int(q["end"][:2]) * 60 + int(q["end"][3:])
        return _in_window(self.local(now), s, e)

    def fail(self, msg):
        self.violations.append("t=+%d %s" % (self.now - T0, msg))

    def step(self, dt, dsoc, source, event, fault):
        cfg = self.cfg
        self.now += dt
        now = self.now
        self.soc = max(0, min(100, self.soc + dsoc))
        if event == "reboot":
            if self.relay:
                self.relay = False
                self.t_open = now
                self.t_close = None
            self.prev_state = "stopped"
            self.ctrl = GensetController(self.saved_cfg, self.saved)
            self.ctrl.drain_events()
            self.saved_version = self.ctrl.version
            self.saved_cfg_version = self.ctrl.config_version
        elif event is not None:
            self.ctrl.set_config({"mode": event})
            self.saved_cfg = self.ctrl.config
        ctrl = self.ctrl
        mode_before = ctrl.config["mode"]
        if mode_before == "off":
            self.off_seen = True
        soc, ts, ok = self.soc, now, True
        if source == "offline":
            ok = False
        elif source == "stale":
            ts = now - cfg["source_max_age_s"] - 1
        elif source == "none":
            soc = None
        lost = source != "ok"
        feedback = bool(self.relay and now - self.t_close >= self.crank_s and not fault)
        r = ctrl.update(now, soc=soc, soc_ts=ts, source_ok=ok, feedback=feedback,
                        local_minutes=self.local(now))
        st_ = ctrl.status(now)
        state, mode = st_["state"], st_["mode"]
        self.outputs.append((r, state, st_["reason"]))
        quiet = self.quiet(now)
        q = ctrl.config["quiet_hours"]
        fb = ctrl.config["feedback"]
        # relay transitions from the events, so that an open and a close inside one update
        # (invisible in the returned value) are checked too
        for typ, code, params in ctrl.drain_events():
            text = event_text(code, params)
            if typ == "genset" and (text.startswith("start: ") or text.startswith("start retry")):
                counted = text.startswith("start: ")
                gap = None if self.t_open is None else now - self.t_open
                if counted:
                    if gap is not None and gap < cfg["min_rest_s"]:
                        self.fail("start %d s after an opening (min rest %d)"
                                  % (gap, cfg["min_rest_s"]))
                elif gap is None or gap < fb["retry_pause_s"]:
                    self.fail("retry %s s after the failed attempt" % gap)
                if mode_before == "auto" and quiet and q["no_start"]:
                    self.fail("start/retry in quiet hours with no_start")
                if mode_before == "auto" and lost and cfg["on_source_loss"] == "stop":
                    self.fail("start while the source is lost with policy stop")
                if (mode_before == "auto" and lost and self.prev_mode == "auto"
                        and cfg["on_source_loss"] == "keep" and counted):
                    self.fail("new start while the source is lost with policy keep")
                self.t_close = now
                self.off_seen = mode_before == "off"
            elif typ == "genset" and text.startswith("stop after "):
                ran = now - self.t_close
                if ran < cfg["min_run_s"] and not self.off_seen and "feedback" not in text:
                    self.fail("stop after %d s < min run %d (%s)" % (ran, cfg["min_run_s"], text))
                self.t_open = now
                self.t_close = None
        if r != (self.t_close is not None):
            self.fail("relay %s but the events say otherwise" % r)
        if (mode_before == "auto" and lost and self.prev_mode == "auto"
                and cfg["on_source_loss"] == "keep" and self.prev_state in ("warmup", "running")
                and state not in ("warmup", "running")
                and "feedback" not in st_["last_stop_reason"] and state != "error"
                and not (cfg["max_run_s"] and "max run" in st_["reason"] + st_["last_stop_reason"])
                and not (quiet and q["stop_running"])):
            self.fail("keep: stopping while the source stays lost (%s)" % st_["reason"])
        if r:
            ran = now - self.t_close
            if cfg["max_run_s"] and ran > cfg["max_run_s"] + cfg["cooldown_s"]:
                self.fail("run of %d s > max run %d + cool-down %d"
                          % (ran, cfg["max_run_s"], cfg["cooldown_s"]))
        if mode == "auto" and mode_before == "auto" and lost:
            pol = cfg["on_source_loss"]
            if pol == "stop" and r and state != "cooldown" and now - self.t_close >= cfg["min_run_s"]:
                self.fail("stop: still running with the source lost")
            if pol == "start" and not r and state not in ("retry", "error"):
                resting = self.t_open is not None and (now - self.t_open < cfg["min_rest_s"]
                                                       or self.t_open == now)
                if not resting and not (quiet and (q["no_start"] or q["stop_running"])):
                    self.fail("start: relay open with the source lost (%s)" % st_["reason"])

        self.relay = r
        self.prev_lost = lost
        self.prev_state = state
        self.prev_mode = mode
        # persistence as the service does it
        if ctrl.config_version != self.saved_cfg_version:
            self.saved_cfg = ctrl.config
            self.saved_cfg_version = ctrl.config_version
        if ctrl.version != self.saved_version or now - self.saved_at >= 60:
            self.saved = ctrl.persisted()
            self.saved_version = ctrl.version
            self.saved_at = now


def simulate(world):
    cfg, soc0, local0, crank_s, steps = world
    sim = Sim(cfg, soc0, local0, crank_s)
    for s in steps:
        sim.step(*s)
    return sim


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(WORLD)
def test_genset_invariants(world):
    sim = simulate(world)
    assert not sim.violations, (world[0], sim.violations[:5])


@settings(max_examples=EXAMPLES // 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(WORLD)
def test_genset_deterministic(world):
    assert simulate(world).outputs == simulate(world).outputs


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.lists(st.tuples(st.integers(1, 120), st.integers(0, 100)), max_size=150))
def test_status_and_persisted_always_json_clean(cfg, trace):
    import json

    g = GensetController(cfg)
    now = T0
    for dt, soc in trace:
        now += dt
        g.update(now, soc=soc, soc_ts=now, feedback=False)
        st_ = g.status(now)
        for k in ("mode", "relay", "running_since", "reason"):
            assert k in st_
        assert isinstance(st_["reason"], str) and st_["reason"]
        json.dumps(st_)
        json.dumps(g.persisted())
        json.dumps(g.config)
        assert st_["relay"] == (st_["state"] in ("warmup", "running", "cooldown"))
