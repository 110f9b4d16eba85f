"""The generator service: meters' readings -> GensetController -> output logic -> relay.

Everything outside is a callable given to the constructor, so it runs without hardware:
  controller     a gateway.core.genset.GensetController (config and restored state inside)
  relay          an object with a ``value`` attribute (True = terminals closed), e.g.
                 gateway.drivers.relay.Relay
  read_readings  () -> {meter_id: {"status", "ts", "values": {quantity: number}}}
  save_state     (dict) -> None: persists controller.persisted(); called when it changes, and for
                 run time alone at most once a minute
  log_event      (type, source, code, params) -> None, as Device.event: the controller's events
                 (gateway.core.event_codes) with source "genset"; failures of the callables as
                 type "system" (code "gs.service")
  save_config    (dict) -> None: saves the genset config after set_config() and when the
                 controller changed the mode itself (end of a manual run)
  clock          () -> epoch seconds (default time.time)
  ticks_ms       () -> ms ticks for pulse/blink outputs (default gateway.core.ticks.ticks_ms)
  local_minutes  (now) -> minutes since local midnight, for quiet hours (default: controller's)
  read_feedback  () -> True/False/None: the "generator running" input, if wired
  output         a gateway.core.outputs.Output (default: maintained, NO contact)
A failing read_readings counts as all meters offline (the controller applies on_source_loss and
keeps its timers running); every failure is logged once while it lasts.
The loop runs ``step()`` every ``interval_s`` and at once when ``wake()`` is called (the meter
poller calls it after a cycle; the web API after a config change); sooner when a pulse/blink
output needs it.
"""
import asyncio

from gateway.core import ticks
from gateway.core.outputs import Output
from gateway.core.ticks import unix_time

RUNTIME_SAVE_S = 60


def _reading(readings, meter, quantity):
    """-> (value, ts, ok) of one quantity of one meter in a readings dict."""
    if meter is None or not isinstance(readings, dict):
        return None, None, False
    r = readings.get(meter)
    if r is None:
        for k in readings:
            if str(k) == meter:
                r = readings[k]
                break
    if not isinstance(r, dict):
        return None, None, False
    values = r.get("values") or {}
    return values.get(quantity), r.get("ts"), r.get("status") in ("ok", "partial")


class GensetService:
    def __init__(self, controller, relay, read_readings, save_state=None, log_event=None,
                 save_config=None, clock=None, ticks_ms=None, local_minutes=None,
                 read_feedback=None, output=None, interval_s=1):
        self.controller = controller
        self.relay = relay
        self.output = output if output is not None else Output()
        self._read = read_readings
        self._save_state = save_state
        self._log = log_event
        self._save_config = save_config
        self._clock = clock or unix_time
        self._ticks = ticks_ms or ticks.ticks_ms
        self._local = local_minutes
        self._feedback = read_feedback
        self.interval_ms = int(interval_s * 1000)
        self._wake = asyncio.Event()
        self.stepped = asyncio.Event()  # set after every step (tests and status waiters)
        self.steps = 0
        self.command = False
        self._saved_version = controller.version
        self._saved_run_s = controller.persisted()["run_s"]
        self._saved_at = None
        self._cfg_version = controller.config_version
        self._last_error = None
        self._failed = False
        self._stop = False
        self._drive(False)  # the output's idle level at once (matters for an NC contact)

    # -- API for the web layer

    def wake(self):
        self._wake.set()

    def set_config(self, cfg):
        """Validate and apply a (partial) genset config (ValidationError -> HTTP 400), save it
        with save_config and wake the loop; returns the full config."""
        if self._save_config is not None:  # validate -> save -> apply: a failed save changes nothing
            from gateway.core.genset_config import validate_genset

            self._save_config(validate_genset(cfg, self.controller.config))
        new = self.controller.set_config(cfg)
        self.wake()
        return new

    def service_done(self):
        """A service done now (POST /api/genset/service): saved by the next step."""
        self.controller.service_done()
        self.wake()

    def status(self):
        """GET /api/genset: the config and the controller's state."""
        d = dict(self.controller.config)
        d.update(self.controller.status(self._clock()))
        d["contact"] = self.relay.value
        return d

    def stop(self):
        self._stop = True
        self.wake()

    # -- the work

    def _drive(self, command):
        closed = self.output.contact(command, self._ticks())
        if closed != self.relay.value:
            self.relay.value = closed

    def step(self):
        """One decision: read, decide, drive the relay, persist, log. Returns the command."""
        ctrl = self.controller
        cfg = ctrl.config
        now = self._clock()
        self._failed = False
        readings = self._safe(self._read)  # failing reads = meters offline: the source is lost
        soc = soc_ts = None
        ok = True
        src = cfg["soc_source"]
        if src is not None:
            soc, soc_ts, ok = _reading(readings, src["meter"], src["quantity"])
        volt = volt_ts = None
        vc = cfg["voltage"]
        if vc["enabled"]:
            meter = vc["meter"] if vc["meter"] is not None else (src and src["meter"])
            volt, volt_ts, vok = _reading(readings, meter, vc["quantity"])
            if not vok:
                volt = None
        fb = self._safe(self._feedback) if self._feedback is not None else None
        local = self._safe(self._local, now) if self._local is not None else None
        self.command = ctrl.update(now, soc=soc, soc_ts=soc_ts, source_ok=ok, voltage=volt,
                                   voltage_ts=volt_ts, feedback=fb, local_minutes=local)
        self._drive(self.command)
        for typ, code, params in ctrl.drain_events():
            if self._log is not None:
                self._safe(self._log, typ, "genset", code, params)
        self._persist(now)
        if not self._failed:
            self._last_error = None
        return self.command

    def _safe(self, fn, *args):
        """fn(*args), or None after reporting its exception (once while it keeps failing)."""
        try:
            return fn(*args)
        except Exception as e:  # a callable's failure must not stop the generator logic
            self._failed = True
            self._report(e)
            return None

    def _persist(self, now):
        ctrl = self.controller
        if ctrl.config_version != self._cfg_version:
            self._cfg_version = ctrl.config_version
            if self._save_config is not None:
                self._safe(self._save_config, ctrl.config)
        if self._save_state is None:
            return
        p = ctrl.persisted()
        due = ctrl.version != self._saved_version
        if not due and p["run_s"] != self._saved_run_s:
            due = self._saved_at is None or now - self._saved_at >= RUNTIME_SAVE_S
        if due:
            try:
                self._save_state(p)
            except Exception as e:  # flash trouble: logged once, retried next step
                self._failed = True
                self._report(e)
                return
            self._saved_version = ctrl.version
            self._saved_run_s = p["run_s"]
            self._saved_at = now

    def _report(self, e):
        msg = "genset service: %s" % e
        if msg != self._last_error and self._log is not None:
            try:
                self._log("system", "genset", "gs.service", {"error": str(e)})
            except Exception:  # a broken logger must not stop the generator logic
                pass
        self._last_error = msg

    async def run(self):
        """The task body: step, then wait for wake() or the next tick."""
        while not self._stop:
            try:
                self.step()
            except Exception as e:  # keep controlling the generator whatever a callable did
                self._report(e)
            self.steps += 1
            self.stepped.set()
            wait = self.interval_ms
            nxt = self.output.next_change_ms(self._ticks())
            if nxt is not None:
                wait = min(wait, max(10, nxt))
            try:
                await asyncio.wait_for(self._wake.wait(), wait / 1000)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
