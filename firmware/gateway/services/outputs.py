"""Plain relay outputs: every relay of the board file but the genset's (core/outputs.py), switched
on and off from /api/outputs and MQTT (``<base>/cmd/output/<id>/set``), with the configured
contact (NO/NC) and mode (maintained, pulse, blink). Loaded once an output is configured
(services/optional.py OutputsSlot).

  relays     the board file's relay list (``{"name", "pin", "active_high", "normally_closed"}``)
  config     the stored document ``{id: config}`` (validated by core/outputs.py)
  log_event  (type, source, code, params) -> None, as Device.event (gateway.core.event_codes)
  on_change  () -> None: an output's command or contact changed (the MQTT state goes out)
  make_relay (pin, normally_closed, active_high) -> an object with ``value`` (drivers/relay.py)

The command is kept in RAM only (after a restart: each output's ``power_on``), so switching
writes nothing to flash. Unconfigured relays are held open.
"""
import asyncio

from gateway.core import ticks
from gateway.core.outputs import OUTPUT_DEFAULTS, Output, plain_ids, validate_plain_output

IDLE_MS = 1000  # the longest wait between steps (the supervisor sees progress)


def _set(out, cfg):
    """Give Output ``out`` a full plain-output config (behaviour keys plus name, power_on)."""
    out.set_config(dict((k, cfg[k]) for k in OUTPUT_DEFAULTS))
    out.cfg = cfg


class OutputService:
    def __init__(self, relays, config, log_event=None, on_change=None, ticks_ms=None,
                 make_relay=None):
        if make_relay is None:
            from gateway.drivers.relay import Relay as make_relay
        self._log = log_event
        self.on_change = on_change
        self._ticks = ticks_ms or ticks.ticks_ms
        self._wake = asyncio.Event()
        self._stop = False
        self.steps = 0
        self.items = {}  # id -> [Output, relay, command, configured]
        config = config or {}
        for r in relays or ():
            oid = r.get("name")
            if oid not in plain_ids((r,)):
                continue
            cfg = config.get(oid)
            out = Output()
            _set(out, validate_plain_output(oid, cfg or {}))
            relay = make_relay(r["pin"], r.get("normally_closed", False),
                               r.get("active_high", True))
            self.items[oid] = [out, relay, out.cfg["power_on"] == "on", cfg is not None]
        self.step()

    # -- for the web layer and the MQTT commands

    def configured(self, oid):
        it = self.items.get(oid)
        return it is not None and it[3]

    def configured_list(self):
        """[{"id", "name"}] of the configured outputs (Home Assistant's switches)."""
        return [{"id": oid, "name": it[0].cfg["name"]} for oid, it in self.items.items() if it[3]]

    def view(self, oid):
        out, relay, command, configured = self.items[oid]
        d = dict(out.cfg)
        d.update({"id": oid, "configured": configured, "on": command, "closed": relay.value})
        return d

    def status(self):
        return [self.view(oid) for oid in self.items]

    def configure(self, oid, cfg):
        """A validated config for output ``oid`` (now configured); the command is kept."""
        it = self.items[oid]
        _set(it[0], cfg)
        it[3] = True
        self.wake()

    def remove(self, oid):
        """Output ``oid`` no longer configured: back to the defaults, switched off."""
        it = self.items[oid]
        _set(it[0], validate_plain_output(oid, {}))
        it[2] = False
        it[3] = False
        self.wake()

    def switch(self, oid, on, who):
        """Command output ``oid`` on/off (logged when it changes); returns the command."""
        it = self.items[oid]
        on = bool(on)
        if it[2] != on:
            it[2] = on
            if self._log is not None:
                self._log("state", "output " + oid, "out.on" if on else "out.off",
                          {"name": it[0].cfg["name"], "by": who})
            self.step()
            self.wake()
            if self.on_change is not None:  # the command is published even when the
                self.on_change()  # contact stays (a pulse on rising edges switched off)
        return on

    # -- the loop

    def step(self):
        """Drive every relay from its command and mode; -> ms until one changes by itself."""
        now = self._ticks()
        nxt = None
        changed = False
        for it in self.items.values():
            out, relay, command = it[0], it[1], it[2]
            closed = out.contact(command, now)
            if relay.value != closed:
                relay.value = closed
                changed = True
            n = out.next_change_ms(now)
            if n is not None and (nxt is None or n < nxt):
                nxt = n
        self.steps += 1
        if changed and self.on_change is not None:
            self.on_change()
        return nxt

    def wake(self):
        self._wake.set()

    async def run(self):
        while not self._stop:
            nxt = self.step()
            self._wake.clear()
            wait = IDLE_MS if nxt is None else max(1, min(nxt, IDLE_MS))
            try:
                await asyncio.wait_for(self._wake.wait(), wait / 1000)
            except asyncio.TimeoutError:
                pass

    def stop(self):
        """End the loop and open every contact (the board without configured outputs)."""
        self._stop = True
        for it in self.items.values():
            it[1].value = False
        self._wake.set()
        if self.on_change is not None:
            self.on_change()
