"""GensetController and validate_genset: scenarios (CPython and MicroPython)."""
from _assert import raises

from gateway.core.errors import ValidationError
from gateway.core.event_codes import text
from gateway.core.genset import GensetController, _in_window
from gateway.core.genset_config import DEFAULTS, validate_genset

T0 = 1800000000
SRC = {"meter": "1", "quantity": "soc_pct"}


def cfg(**kw):
    c = {"mode": "auto", "soc_source": SRC, "start_soc": 30, "stop_soc": 80, "min_run_s": 0,
         "min_rest_s": 0, "max_run_s": 0, "warmup_s": 0, "cooldown_s": 0}
    c.update(kw)
    return c


def run(g, t0, t1, soc, step=1, **kw):
    """Update every ``step`` s from t0 to t1 (excluded); soc may be a function of t.
    Returns [(t, relay)] and the relay of the last update."""
    out = []
    t = t0
    while t < t1:
        s = soc(t) if callable(soc) else soc
        out.append((t, g.update(t, soc=s, soc_ts=t, **kw)))
        t += step
    return out


def edges(trace, last=False):
    """[(t, new relay value)] at each change, starting from ``last``."""
    res = []
    for t, r in trace:
        if r != last:
            res.append((t, r))
            last = r
    return res


def types(events):
    return [e[0] for e in events]


def said(g):
    """The controller's drained events as (type, English text): the texts the log gives."""
    return [(typ, text(code, params)) for typ, code, params in g.drain_events()]


# ---------------------------------------------------------------- thresholds and hysteresis


def test_start_at_threshold():
    g = GensetController(cfg())
    assert g.update(T0, soc=31, soc_ts=T0) is False
    assert g.status()["reason"] == "SOC 31 % > 30 %"
    assert g.update(T0 + 1, soc=30, soc_ts=T0 + 1) is True
    st = g.status()
    assert st["reason"] == "SOC 30 % ≤ 30 %"
    assert st["running_since"] == T0 + 1 and st["state"] == "running"
    assert st["starts"] == 1 and st["last_start"] == T0 + 1
    assert said(g) == [("genset", "start: SOC 30 % ≤ 30 %")]


def test_hysteresis():
    g = GensetController(cfg())
    socs = [40, 27, 50, 79.9, 80, 50, 31, 30]
    trace = run(g, T0, T0 + 8, lambda t: socs[t - T0])
    assert [r for _, r in trace] == [False, True, True, True, False, False, False, True]
    g2 = GensetController(cfg())
    g2.update(T0, soc=27, soc_ts=T0)
    g2.update(T0 + 1, soc=79.9, soc_ts=T0 + 1)
    assert g2.status()["reason"] == "SOC 79.9 % < 80 %"
    g2.update(T0 + 2, soc=80, soc_ts=T0 + 2)
    assert g2.status()["reason"] == "SOC 80 % ≥ 80 %"
    assert g2.status()["last_stop_reason"] == "SOC 80 % ≥ 80 %"


def test_start_and_stop_delays():
    g = GensetController(cfg(start_delay_s=60, stop_delay_s=30))
    tr = run(g, T0, T0 + 60, 20)
    assert not any(r for _, r in tr)
    assert "for 59/60 s" in g.status()["reason"]
    assert g.update(T0 + 60, soc=20, soc_ts=T0 + 60) is True
    # a blip above the stop threshold shorter than the delay does not stop it
    run(g, T0 + 61, T0 + 80, 85)
    assert g.update(T0 + 80, soc=70, soc_ts=T0 + 80) is True
    tr = run(g, T0 + 81, T0 + 120, 85)
    assert edges(tr, True) == [(T0 + 81 + 30, False)]


# ---------------------------------------------------------------- run and rest times


def test_min_run_holds_a_stop():
    g = GensetController(cfg(min_run_s=600))
    g.update(T0, soc=20, soc_ts=T0)
    assert g.update(T0 + 10, soc=90, soc_ts=T0 + 10) is True
    assert "min run 600 s not reached (590 s left)" in g.status()["reason"]
    assert g.update(T0 + 599, soc=90, soc_ts=T0 + 599) is True
    assert g.update(T0 + 600, soc=90, soc_ts=T0 + 600) is False
    assert g.status()["reason"] == "SOC 90 % ≥ 80 %"


def test_min_rest_between_runs():
    g = GensetController(cfg(min_rest_s=300))
    g.update(T0, soc=20, soc_ts=T0)
    assert g.update(T0 + 5, soc=85, soc_ts=T0 + 5) is False
    assert g.update(T0 + 6, soc=10, soc_ts=T0 + 6) is False
    assert "min rest 300 s not reached (299 s left)" in g.status()["reason"]
    assert g.status()["next_start_in_s"] == 299
    assert g.update(T0 + 304, soc=10, soc_ts=T0 + 304) is False
    assert g.update(T0 + 305, soc=10, soc_ts=T0 + 305) is True


def test_min_rest_after_reboot():
    g = GensetController(cfg(min_rest_s=600))
    g.update(T0, soc=20, soc_ts=T0)
    g.update(T0 + 100, soc=85, soc_ts=T0 + 100)
    saved = g.persisted()
    assert saved["last_stop"] == T0 + 100 and saved["running_since"] is None
    g2 = GensetController(cfg(min_rest_s=600), saved)
    assert g2.update(T0 + 150, soc=5, soc_ts=T0 + 150) is False
    assert "min rest" in g2.status()["reason"]
    assert g2.update(T0 + 699, soc=5, soc_ts=T0 + 699) is False
    assert g2.update(T0 + 700, soc=5, soc_ts=T0 + 700) is True
    assert g2.status()["starts"] == 2


def test_reboot_while_running_counts_as_stop_and_rests():
    g = GensetController(cfg(min_rest_s=600))
    g.update(T0, soc=20, soc_ts=T0)
    run(g, T0 + 1, T0 + 120, 25)
    saved = g.persisted()
    assert saved["running_since"] == T0 and saved["run_s"] == 119
    # power cut at T0+130, first update after boot at T0+140
    g2 = GensetController(cfg(min_rest_s=600), saved)
    assert g2.status()["relay"] is False  # starts open
    assert g2.update(T0 + 140, soc=20, soc_ts=T0 + 140) is False
    st = g2.status()
    assert st["last_stop"] == T0 + 140 and st["last_stop_reason"] == "reboot while running"
    assert ("genset", "stopped by reboot") in said(g2)
    assert g2.update(T0 + 739, soc=20, soc_ts=T0 + 739) is False
    assert g2.update(T0 + 740, soc=20, soc_ts=T0 + 740) is True
    assert g2.status()["starts"] == 2


def test_reboot_with_clock_behind_rests_from_boot():
    saved = {"last_stop": T0, "starts": 3, "run_s": 7200}
    g = GensetController(cfg(min_rest_s=600), saved)
    boot = 946684800  # clock not set yet (year 2000)
    assert g.update(boot, soc=10, soc_ts=boot) is False
    assert g.update(boot + 599, soc=10, soc_ts=boot + 599) is False
    assert g.update(boot + 600, soc=10, soc_ts=boot + 600) is True
    assert g.status()["run_hours"] == 2.0


def test_max_run():
    g = GensetController(cfg(max_run_s=3600, min_rest_s=600))
    tr = run(g, T0, T0 + 3600 + 700, 20, step=10)
    assert edges(tr) == [(T0, True), (T0 + 3600, False), (T0 + 4200, True)]
    assert g.status()["last_stop_reason"] == "max run 3600 s reached"


def test_max_run_with_late_updates_bounds_cooldown():
    g = GensetController(cfg(max_run_s=3600, cooldown_s=60, min_run_s=60))
    g.update(T0, soc=20, soc_ts=T0)
    assert g.update(T0 + 3000, soc=20, soc_ts=T0 + 3000) is True
    assert g.update(T0 + 3290, soc=20, soc_ts=T0 + 3290) is True
    # the clock steps are big (service stalled): cool-down still ends at start + max + cool
    assert g.update(T0 + 3590, soc=20, soc_ts=T0 + 3590) is True
    assert g.update(T0 + 3650, soc=20, soc_ts=T0 + 3650) is True
    assert g.status()["state"] == "cooldown"
    assert g.update(T0 + 3660, soc=20, soc_ts=T0 + 3660) is False


# ---------------------------------------------------------------- warm-up and cool-down


def test_warmup_cooldown_sequence():
    g = GensetController(cfg(warmup_s=30, cooldown_s=60, min_run_s=100))
    states = []
    relay = []
    soc = lambda t: 20 if t < T0 + 200 else 90  # noqa: E731
    t = T0
    while t < T0 + 300:
        relay.append(g.update(t, soc=soc(t), soc_ts=t))
        s = g.status()["state"]
        if not states or states[-1][1] != s:
            states.append((t - T0, s))
        t += 1
    assert states == [(0, "warmup"), (30, "running"), (200, "cooldown"), (260, "stopped")]
    assert relay[:260] == [True] * 260 and relay[260:] == [False] * 40
    assert said(g) == [("genset", "start: SOC 20 % ≤ 30 %"),
                                ("genset", "warmup → running: warm-up done"),
                                ("genset", "running → cooldown: SOC 90 % ≥ 80 %"),
                                ("genset", "stop after 260 s: SOC 90 % ≥ 80 %")]
    assert g.status()["last_stop_reason"] == "SOC 90 % ≥ 80 %"


def test_cooldown_reason_and_run_hours_count_it():
    g = GensetController(cfg(cooldown_s=60))
    g.update(T0, soc=20, soc_ts=T0)
    g.update(T0 + 100, soc=85, soc_ts=T0 + 100)
    assert g.status()["reason"] == "cool-down, 60 s left; SOC 85 % ≥ 80 %"
    g.update(T0 + 160, soc=85, soc_ts=T0 + 160)
    assert g.status()["run_s"] == 160 and g.status()["relay"] is False


def test_stop_during_warmup_skips_cooldown():
    g = GensetController(cfg(warmup_s=60, cooldown_s=120, min_run_s=600))
    g.update(T0, soc=20, soc_ts=T0)
    g.set_config({"mode": "off"})
    assert g.update(T0 + 10, soc=20, soc_ts=T0 + 10) is False
    assert g.status()["state"] == "stopped" and g.status()["reason"] == "mode off"


def test_cooldown_cancelled_when_wanted_again():
    g = GensetController(cfg(cooldown_s=120))
    g.update(T0, soc=20, soc_ts=T0)
    g.update(T0 + 50, soc=85, soc_ts=T0 + 50)
    assert g.status()["state"] == "cooldown"
    g.set_config({"mode": "on"})
    assert g.update(T0 + 60, soc=85, soc_ts=T0 + 60) is True
    assert g.status()["state"] == "running" and g.status()["starts"] == 1


# ---------------------------------------------------------------- mode off / on


def test_off_always_stops_ignoring_min_run_through_cooldown():
    g = GensetController(cfg(min_run_s=600, cooldown_s=30))
    g.update(T0, soc=20, soc_ts=T0)
    g.set_config({"mode": "off"})
    assert g.update(T0 + 5, soc=20, soc_ts=T0 + 5) is True
    assert g.status()["state"] == "cooldown"
    assert g.status()["reason"] == "cool-down, 30 s left; mode off"
    assert g.update(T0 + 34, soc=20, soc_ts=T0 + 34) is True
    assert g.update(T0 + 35, soc=20, soc_ts=T0 + 35) is False
    # off never starts, whatever the SOC
    assert not any(r for _, r in run(g, T0 + 36, T0 + 100, 1))


def test_manual_on_with_duration_returns_to_previous_mode():
    g = GensetController(cfg(manual_run_s=1200, min_run_s=600, min_rest_s=0))
    assert g.update(T0, soc=60, soc_ts=T0) is False
    g.set_config({"mode": "on"})
    tr = run(g, T0 + 1, T0 + 1300, 60)
    assert edges(tr) == [(T0 + 1, True), (T0 + 1201, False)]
    assert g.config["mode"] == "auto" and g.config_version == 1
    ev = said(g)
    assert ("genset", "manual run ended (1200 s done), mode auto") in ev
    assert g.status()["last_start_reason"] == "manual run (1200 s)"


def test_manual_on_duration_shorter_than_min_run_runs_min_run():
    g = GensetController(cfg(mode="off", manual_run_s=60, min_run_s=300))
    g.update(T0, soc=60, soc_ts=T0)
    g.set_config({"mode": "on"})
    tr = run(g, T0 + 1, T0 + 400, 60)
    assert edges(tr) == [(T0 + 1, True), (T0 + 301, False)]
    assert g.config["mode"] == "off"


def test_manual_on_without_duration_ignores_soc_and_quiet_hours():
    q = {"start": "00:00", "end": "23:59", "no_start": True}
    g = GensetController(cfg(mode="on", quiet_hours=q))
    tr = run(g, T0, T0 + 100, 95, local_minutes=600)
    assert all(r for _, r in tr) and g.status()["reason"] == "manual run"


def test_manual_timer_survives_reboot():
    g = GensetController(cfg(manual_run_s=1000, min_rest_s=100))
    g.update(T0, soc=60, soc_ts=T0)
    g.set_config({"mode": "on"})
    g.update(T0 + 1, soc=60, soc_ts=T0 + 1)
    saved = g.persisted()
    assert saved["manual_until"] == T0 + 1001 and saved["manual_prev"] == "auto"
    g2 = GensetController(g.config, saved)
    tr = run(g2, T0 + 200, T0 + 1100, 60)
    assert edges(tr) == [(T0 + 200 + 100, True), (T0 + 1001, False)]
    assert g2.config["mode"] == "auto"


# ---------------------------------------------------------------- quiet hours


def test_quiet_window():
    assert _in_window(23 * 60, 22 * 60, 6 * 60)
    assert _in_window(0, 22 * 60, 6 * 60)
    assert _in_window(22 * 60, 22 * 60, 6 * 60)
    assert not _in_window(6 * 60, 22 * 60, 6 * 60)
    assert not _in_window(12 * 60, 22 * 60, 6 * 60)
    assert _in_window(12 * 60, 8 * 60, 18 * 60)
    assert not _in_window(18 * 60, 8 * 60, 18 * 60)


def test_quiet_hours_no_start_crossing_midnight():
    g = GensetController(cfg(quiet_hours={"start": "22:00", "end": "06:00", "no_start": True}))
    assert g.config["quiet_hours"]["enabled"] is True
    for i, lm in enumerate((22 * 60, 23 * 60 + 59, 0, 3 * 60, 5 * 60 + 59)):
        assert g.update(T0 + i, soc=10, soc_ts=T0 + i, local_minutes=lm) is False
    assert g.status()["reason"] == "SOC 10 % ≤ 30 %; quiet hours: no start"
    assert g.status()["quiet"] is True
    assert g.update(T0 + 10, soc=10, soc_ts=T0 + 10, local_minutes=6 * 60) is True


def test_quiet_hours_own_thresholds_and_local_time_function():
    minutes = [23 * 60]
    q = {"start": "21:30", "end": "07:00", "start_soc": 15, "stop_soc": 50}
    g = GensetController(cfg(quiet_hours=q), local_time=lambda now: minutes[0])
    assert g.update(T0, soc=20, soc_ts=T0) is False
    assert g.status()["reason"] == "SOC 20 % > 15 %"
    assert g.update(T0 + 1, soc=15, soc_ts=T0 + 1) is True
    assert g.update(T0 + 2, soc=50, soc_ts=T0 + 2) is False  # quiet stop threshold
    minutes[0] = 8 * 60
    assert g.update(T0 + 3, soc=20, soc_ts=T0 + 3) is True  # day thresholds again


def test_quiet_hours_running_set_continues_or_stops():
    q = {"start": "22:00", "end": "06:00", "no_start": True}
    g = GensetController(cfg(quiet_hours=q, min_run_s=100))
    g.update(T0, soc=20, soc_ts=T0, local_minutes=21 * 60)
    assert g.update(T0 + 200, soc=40, soc_ts=T0 + 200, local_minutes=22 * 60) is True
    g.set_config({"quiet_hours": {"stop_running": True}})
    assert g.update(T0 + 201, soc=40, soc_ts=T0 + 201, local_minutes=22 * 60) is False
    assert g.status()["last_stop_reason"] == "quiet hours → stop"


def test_quiet_hours_default_is_utc_without_local_time():
    g = GensetController(cfg(quiet_hours={"start": "00:00", "end": "01:00", "no_start": True}))
    midnight = (T0 // 86400 + 1) * 86400
    assert g.update(midnight + 10, soc=10, soc_ts=midnight + 10) is False
    assert g.update(midnight + 3600, soc=10, soc_ts=midnight + 3600) is True


# ---------------------------------------------------------------- source loss


def test_source_loss_stop():
    g = GensetController(cfg(on_source_loss="stop", min_run_s=60))
    g.update(T0, soc=20, soc_ts=T0)
    assert g.update(T0 + 10, source_ok=False) is True  # min run first
    assert g.status()["reason"] == "source lost → stop; min run 60 s not reached (50 s left)"
    assert g.update(T0 + 60, source_ok=False) is False
    assert g.status()["reason"] == "source lost → stop"
    assert g.status()["source_lost"] is True
    # no start while lost, even at a low last SOC; back with a low SOC it starts again
    assert not any(r for _, r in run(g, T0 + 61, T0 + 100, None))
    assert g.update(T0 + 100, soc=20, soc_ts=T0 + 100) is True


def test_source_loss_start():
    g = GensetController(cfg(on_source_loss="start"))
    assert g.update(T0, soc=60, soc_ts=T0) is False
    assert g.update(T0 + 1, soc=60, soc_ts=T0 + 1, source_ok=False) is True
    assert g.status()["reason"] == "source lost → start"
    # source back, SOC between thresholds, latch inactive: stops
    assert g.update(T0 + 2, soc=60, soc_ts=T0 + 2) is False


def test_source_loss_keep():
    g = GensetController(cfg(on_source_loss="keep"))
    assert g.update(T0, soc=60, soc_ts=T0, source_ok=False) is False
    assert g.status()["reason"] == "source lost → keep"
    assert g.update(T0 + 1, soc=20, soc_ts=T0 + 1) is True
    tr = run(g, T0 + 2, T0 + 100, None, source_ok=False)
    assert all(r for _, r in tr)
    assert g.update(T0 + 100, soc=81, soc_ts=T0 + 100) is False


def test_stale_source_is_lost():
    g = GensetController(cfg(on_source_loss="stop", source_max_age_s=120))
    g.update(T0, soc=20, soc_ts=T0)
    assert g.update(T0 + 120, soc=20, soc_ts=T0) is True
    assert g.update(T0 + 121, soc=20, soc_ts=T0) is False
    assert g.status()["reason"] == "source stale (121 s) → stop"
    assert g.update(T0 + 122, soc=20, soc_ts=T0 + 122) is True


def test_missing_value_is_lost():
    g = GensetController(cfg(on_source_loss="start"))
    assert g.update(T0, soc=None) is True
    assert "no SOC value" in g.status()["reason"]


# ---------------------------------------------------------------- voltage condition


def test_voltage_condition_with_delays():
    v = {"enabled": True, "start_v": 47, "stop_v": 54, "start_delay_s": 30, "stop_delay_s": 10}
    g = GensetController(cfg(voltage=v))
    tr = run(g, T0, T0 + 40, 60, voltage=46.5)
    assert edges(tr) == [(T0 + 30, True)]
    assert g.status()["reason"] == "battery 46.5 V ≤ 47 V"
    tr = run(g, T0 + 40, T0 + 60, 60, voltage=55)
    assert edges(tr, True) == [(T0 + 50, False)]


def test_voltage_keeps_running_while_soc_done():
    v = {"enabled": True, "start_v": 47, "stop_v": 54, "start_delay_s": 0, "stop_delay_s": 0}
    g = GensetController(cfg(voltage=v))
    g.update(T0, soc=20, soc_ts=T0, voltage=46)
    assert g.update(T0 + 1, soc=85, soc_ts=T0 + 1, voltage=50) is True
    assert g.status()["reason"] == "battery 50 V < 54 V"
    assert g.update(T0 + 2, soc=85, soc_ts=T0 + 2, voltage=None) is False


# ---------------------------------------------------------------- feedback


def test_feedback_retries_then_error():
    fb = {"enabled": True, "timeout_s": 30, "retries": 2, "retry_pause_s": 20}
    g = GensetController(cfg(feedback=fb, min_rest_s=600))
    tr = run(g, T0, T0 + 200, 20, feedback=False)
    assert edges(tr) == [(T0, True), (T0 + 30, False), (T0 + 50, True), (T0 + 80, False),
                         (T0 + 100, True), (T0 + 130, False)]
    st = g.status()
    assert st["state"] == "error" and st["starts"] == 1
    assert st["error"] == "no running feedback after 3 start attempts"
    ev = said(g)
    errs = [e[1] for e in ev if "failed" in e[1] or e[1].startswith("error: ")]
    assert errs == ["start attempt 1 failed: no running feedback after 30 s",
                    "start attempt 2 failed: no running feedback after 30 s",
                    "error: no running feedback after 3 start attempts"]
    # the error survives a reboot and keeps the relay open
    g2 = GensetController(g.config, g.persisted())
    assert not any(r for _, r in run(g2, T0 + 1000, T0 + 1010, 20, feedback=False))
    assert g2.status()["reason"] == "error: no running feedback after 3 start attempts"
    # a mode change clears it; min rest still counts from the last attempt
    g2.set_config({"mode": "off"})
    g2.update(T0 + 1010, soc=20, soc_ts=T0 + 1010)
    g2.set_config({"mode": "auto"})
    assert g2.update(T0 + 1011, soc=20, soc_ts=T0 + 1011, feedback=True) is True
    assert g2.status()["state"] == "running"


def test_feedback_seen_then_lost_is_error():
    fb = {"enabled": True, "timeout_s": 10, "retries": 1, "retry_pause_s": 10}
    g = GensetController(cfg(feedback=fb, warmup_s=5))
    g.update(T0, soc=20, soc_ts=T0, feedback=False)
    assert g.status()["state"] == "warmup"
    g.update(T0 + 3, soc=20, soc_ts=T0 + 3, feedback=True)
    g.update(T0 + 5, soc=20, soc_ts=T0 + 5, feedback=True)
    assert g.status()["state"] == "running"
    assert g.update(T0 + 100, soc=20, soc_ts=T0 + 100, feedback=False) is True
    assert g.update(T0 + 110, soc=20, soc_ts=T0 + 110, feedback=False) is False
    assert g.status()["state"] == "error"
    g.clear_error()
    assert g.status()["state"] == "stopped"


def test_feedback_retry_then_success():
    fb = {"enabled": True, "timeout_s": 30, "retries": 2, "retry_pause_s": 20}
    g = GensetController(cfg(feedback=fb))
    run(g, T0, T0 + 31, 20, feedback=False)
    assert g.status()["state"] == "retry"
    assert "start retry 1/2 in" in g.status()["reason"]
    tr = run(g, T0 + 31, T0 + 60, 20, feedback=True)
    assert edges(tr) == [(T0 + 50, True)]
    assert g.status()["state"] == "running" and g.status()["starts"] == 1


# ---------------------------------------------------------------- clock, status, persistence


def test_clock_jump_is_not_run_time():
    g = GensetController(cfg(max_run_s=3600))
    g.update(946684800, soc=20, soc_ts=946684800)
    g.update(946684900, soc=20, soc_ts=946684900)
    assert g.update(T0, soc=20, soc_ts=T0) is True  # NTP set the clock
    st = g.status()
    assert st["run_s"] == 100 and st["running_since"] == T0 - 100
    tr = run(g, T0 + 1, T0 + 3500, 20, step=100)
    assert all(r for _, r in tr)
    assert g.update(T0 + 3500, soc=20, soc_ts=T0 + 3500) is False


def test_status_has_contract_keys():
    g = GensetController()
    st = g.status(T0)
    for k in ("mode", "relay", "running_since", "reason", "state", "run_hours", "starts",
              "last_start", "last_stop"):
        assert k in st
    assert st["mode"] == "off" and st["relay"] is False and st["running_since"] is None
    g.update(T0)
    assert g.status()["reason"] == "mode off"


def test_persisted_roundtrip_and_bad_state_tolerated():
    g = GensetController(cfg())
    g.update(T0, soc=20, soc_ts=T0)
    run(g, T0 + 1, T0 + 3601, 50, step=60)
    p = g.persisted()
    assert p["starts"] == 1 and p["run_s"] == 3541 and p["last_start_reason"] == "SOC 20 % ≤ 30 %"
    g2 = GensetController(cfg(), {"starts": "x", "run_s": None, "last_stop": True, "error": 5})
    assert g2.update(T0, soc=20, soc_ts=T0) is True
    assert g2.status()["starts"] == 1


def test_bad_config_falls_back_to_defaults_mode_off():
    g = GensetController({"start_soc": 500})
    assert g.config["mode"] == "off"
    assert types(g.drain_events()) == ["config"]


def test_no_source_configured():
    g = GensetController({"mode": "auto"})
    assert g.update(T0) is False
    assert g.status()["reason"] == "no SOC source or voltage condition configured"


def test_version_bumps_on_persisted_changes():
    g = GensetController(cfg())
    v0 = g.version
    g.update(T0, soc=50, soc_ts=T0)
    assert g.version == v0
    g.update(T0 + 1, soc=20, soc_ts=T0 + 1)
    assert g.version > v0


# ---------------------------------------------------------------- validation


def bad(cfg_, field, current=None):
    e = raises(ValidationError, validate_genset, cfg_, current)
    assert e.field == field, (e.field, field, e.message)
    return e


def test_validate_defaults_and_normalization():
    c = validate_genset({})
    assert c == validate_genset({}, DEFAULTS)
    assert c["mode"] == "off" and c["soc_source"] is None and c["on_source_loss"] == "stop"
    assert c["quiet_hours"]["enabled"] is False
    c = validate_genset({"soc_source": {"meter": 3}, "quiet_hours": {"start": "9:05", "end": "18:00"},
                         "start_soc": 20.0})
    assert c["soc_source"] == {"meter": "3", "quantity": "soc_pct"}
    assert c["quiet_hours"]["start"] == "09:05" and c["quiet_hours"]["enabled"] is True
    # partial update keeps the rest; null disables quiet hours but keeps the times
    c2 = validate_genset({"quiet_hours": None, "stop_soc": 90}, c)
    assert c2["quiet_hours"]["enabled"] is False and c2["quiet_hours"]["start"] == "09:05"
    assert c2["stop_soc"] == 90 and c2["soc_source"]["meter"] == "3"
    # status keys sent back with a GET body are ignored
    c3 = validate_genset({"relay": True, "reason": "x", "mode": "auto"}, c2)
    assert c3["mode"] == "auto"
    assert validate_genset({"soc_source": None}, c)["soc_source"] is None


def test_validate_fields():
    bad([], None)
    bad({"bogus": 1}, "bogus")
    bad({"mode": "maybe"}, "mode")
    bad({"start_soc": -1}, "start_soc")
    bad({"start_soc": "30"}, "start_soc")
    bad({"start_soc": True}, "start_soc")
    bad({"stop_soc": 101}, "stop_soc")
    bad({"start_soc": 80, "stop_soc": 80}, "start_soc")
    bad({"stop_soc": 20}, "stop_soc")
    bad({"min_run_s": -5}, "min_run_s")
    bad({"min_run_s": 1.5}, "min_run_s")
    bad({"min_rest_s": 10 ** 9}, "min_rest_s")
    bad({"max_run_s": 100}, "max_run_s")
    bad({"min_run_s": 30000}, "min_run_s")
    bad({"warmup_s": None}, "warmup_s")
    bad({"cooldown_s": 3601}, "cooldown_s")
    bad({"on_source_loss": "panic"}, "on_source_loss")
    bad({"source_max_age_s": 1}, "source_max_age_s")
    bad({"manual_run_s": -1}, "manual_run_s")
    bad({"soc_source": "3"}, "soc_source")
    bad({"soc_source": {"quantity": "soc_pct"}}, "soc_source.meter")
    bad({"soc_source": {"meter": "1", "quantity": ""}}, "soc_source.quantity")
    bad({"soc_source": {"meter": "1", "x": 1}}, "soc_source.x")
    bad({"quiet_hours": {"start": "24:00"}}, "quiet_hours.start")
    bad({"quiet_hours": {"end": "7h"}}, "quiet_hours.end")
    bad({"quiet_hours": {"start": "07:00", "end": "07:00"}}, "quiet_hours.end")
    bad({"quiet_hours": {"no_start": "yes"}}, "quiet_hours.no_start")
    bad({"quiet_hours": {"start_soc": 90}}, "quiet_hours.start_soc")
    bad({"quiet_hours": {"color": 1}}, "quiet_hours.color")
    bad({"quiet_hours": 5}, "quiet_hours")
    bad({"voltage": {"start_v": 60}}, "voltage.start_v")
    bad({"voltage": {"enabled": True}}, "voltage.meter")
    bad({"voltage": {"stop_delay_s": -1}}, "voltage.stop_delay_s")
    bad({"feedback": {"retries": 11}}, "feedback.retries")
    bad({"feedback": {"timeout_s": 0}}, "feedback.timeout_s")
    bad({"feedback": {"enabled": 1}}, "feedback.enabled")
    e = bad({"start_soc": 90}, "start_soc")
    assert "stop_soc" in e.message


def test_set_config_validates_and_keeps_old_on_error():
    g = GensetController(cfg())
    raises(ValidationError, g.set_config, {"start_soc": 95})
    assert g.config["start_soc"] == 30
    assert g.set_config({"start_soc": 40})["start_soc"] == 40
    assert g.update(T0, soc=40, soc_ts=T0) is True


# ---------------------------------------------------------------- service reminder


def test_service_falls_due_once_after_its_run_hours_and_is_recorded():
    g = GensetController(cfg(service_interval_h=2), {"run_s": 3600})  # 1 h run before
    st = g.status()
    assert (st["service_due_in_h"], st["service_due"]) == (1.0, False)
    run(g, T0, T0 + 1800, 10, step=60)  # runs: SOC low
    g.drain_events()
    assert g.status()["service_due_in_h"] == 0.5
    run(g, T0 + 1800, T0 + 7200, 10, step=60)  # past the interval: one reminder, not one a step
    ev = [e for e in g.drain_events() if e[1] == "gs.service_due"]
    assert ev == [("genset", "gs.service_due", {"h": 2})]
    assert text(*ev[0][1:]) == "service due: 2 run hours since the last service"
    st = g.status()
    assert (st["service_due_in_h"], st["service_due"]) == (0, True)
    # a reboot while due does not remind again; the recorded service survives one
    g2 = GensetController(g.config, g.persisted())
    run(g2, T0 + 7200, T0 + 7300, 10, step=60)
    assert [e for e in g2.drain_events() if e[1] == "gs.service_due"] == []
    v = g2.version
    g2.service_done()
    assert g2.version != v  # saved by the service
    assert g2.status()["service_due_in_h"] == 2.0 and not g2.status()["service_due"]
    g3 = GensetController(g2.config, g2.persisted())
    assert g3.status()["service_due_in_h"] == 2.0 and g3.status()["run_hours"] == g2.status()["run_hours"]


def test_no_service_interval_no_reminder():
    g = GensetController(cfg(), {"run_s": 10 ** 7})
    run(g, T0, T0 + 120, 10, step=60)
    assert g.status()["service_due_in_h"] is None and g.status()["service_due"] is False
    assert [e for e in g.drain_events() if e[1] == "gs.service_due"] == []
    e = raises(ValidationError, validate_genset, {"service_interval_h": -1})
    assert (e.field, e.code) == ("service_interval_h", "range")
    assert validate_genset({"service_interval_h": 250})["service_interval_h"] == 250
