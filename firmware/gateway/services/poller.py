"""The RS485 poll loop: reads every enabled meter each cycle and keeps its latest readings.

Per meter (keyed by its id) the poller keeps ``{"status", "ts", "values"}`` (CONTRACT §3):
- ``ok``: ``values`` are those read at ``ts`` (epoch s from the injected clock). A failed cycle
  keeps them for up to ``offline_after - 1`` cycles (``ts`` then shows their age);
- ``offline``: no answer for ``offline_after`` consecutive cycles (or never answered yet);
- ``error``: the device answers but with a Modbus exception (at once) or, for
  ``offline_after`` cycles, with bad frames/data;
- ``disabled``: not polled.
Outside ``ok`` the values are empty and ``ts`` is when the status was set.

A meter that failed ``offline_after`` cycles in a row is probed only every ``probe_every``
cycles and without retries, so a dead device costs at most one timeout now and then and the
others keep their pace. After each cycle ``cycle_event`` is pulsed (set then cleared: every
task waiting on it wakes) and ``cycles`` is incremented.
"""
import asyncio

from gateway.core import modbus, profiles, registers
from gateway.core.modbus import BUS_DEFAULTS
from gateway.core.ticks import sleep_ms, ticks_diff, ticks_ms, unix_time

_ERRORS = (modbus.ModbusError, OSError, ValueError)


class _Meter:
    def __init__(self, cfg, plan, now):
        self.cfg = cfg
        self.plan = plan
        self.status = "offline" if cfg["enabled"] else "disabled"
        self.ts = now
        self.values = {}
        self.last_ok = None
        self.failures = 0
        self.skip = 0
        self.error = None


def _same_reads(a, b):
    return (
        a["address"] == b["address"]
        and a["profile"] == b["profile"]
        and a["enabled"] == b["enabled"]
        and a.get("registers") == b.get("registers")
    )


class Poller:
    """Polls ``meters`` (normalised meter dicts) through ``master`` (an ``rtu.RtuMaster``)."""

    def __init__(self, master, meters=(), bus=None, clock=None, offline_after=3, probe_every=5):
        self.master = master
        self.clock = clock or unix_time
        self.offline_after = offline_after
        self.probe_every = probe_every
        self.cycle_event = asyncio.Event()
        self.cycles = 0
        self.cycle_ms = 0  # duration of the last cycle
        self.bus = dict(BUS_DEFAULTS)
        self._meters = {}
        self._plans = {}  # profile -> plan shared by its meters
        self.configure(meters, bus)

    def _now(self):
        return int(self.clock())

    def _plan(self, cfg):
        """The read blocks of a meter; meters of one fixed profile share one plan (32 SDM630
        with their own copies of the register specs would take a third of the heap)."""
        if cfg["profile"] == "generic":
            return registers.plan(profiles.registers(cfg), self.bus["max_gap"], profiles.max_count(cfg))
        plan = self._plans.get(cfg["profile"])
        if plan is None:
            plan = registers.plan(profiles.registers(cfg), self.bus["max_gap"], profiles.max_count(cfg))
            self._plans[cfg["profile"]] = plan
        return plan

    def configure(self, meters=None, bus=None):
        """Replace the meter list and/or the bus settings (takes effect from the next request).

        A meter whose address, profile, registers and enabled flag are unchanged keeps its
        state and readings; others start afresh; removed meters are forgotten.
        """
        if bus is not None:
            self._plans = {}  # max_gap may have changed
            self.bus = dict(BUS_DEFAULTS)
            self.bus.update(bus)
            self.master.configure(self.bus)
        if meters is None:
            meters = [m.cfg for m in self._meters.values()]
        now = self._now()
        new = {}
        for cfg in meters:
            plan = self._plan(cfg)
            old = self._meters.get(cfg["id"])
            if old is not None and _same_reads(old.cfg, cfg):
                old.cfg = cfg
                old.plan = plan
                new[cfg["id"]] = old
            else:
                new[cfg["id"]] = _Meter(cfg, plan, now)
        self._meters = new
        self.master.forget(set(m.cfg["address"] for m in new.values()))

    def readings(self):
        """Snapshot ``{id: {"status", "ts", "values"}}``; the values dicts must not be mutated."""
        out = {}
        for mid, m in self._meters.items():
            out[mid] = {"status": m.status, "ts": m.ts, "values": m.values}
        return out

    def reading(self, meter_id):
        """One meter's ``{"status", "ts", "values"}`` (as in readings()) or None: no snapshot of
        every meter for a caller that wants one (the Modbus TCP server, per request)."""
        m = self._meters.get(meter_id)
        if m is None:
            return None
        return {"status": m.status, "ts": m.ts, "values": m.values}

    def stats(self):
        """Per meter ``{"status", "last_ok", "failures", "error", "counters"}`` (copies)."""
        out = {}
        for mid, m in self._meters.items():
            out[mid] = {
                "status": m.status,
                "last_ok": m.last_ok,
                "failures": m.failures,
                "error": m.error,
                "counters": dict(self.master.counters(m.cfg["address"])),
            }
        return out

    async def _read(self, address, plan, retries):
        values = {}
        for block in plan:
            regs = await self.master.read_registers(address, block[0], block[1], block[2], retries)
            registers.extract(block, regs, values)
        if plan and not values:
            raise ValueError("no valid value in the reply")
        return values

    async def read_now(self, meter):
        """Read ``meter`` (a normalised meter dict) once, now, for the "Test" button.

        Returns ``{"ok": True, "values": {...}}`` or ``{"ok": False, "error": "exact text"}``.
        """
        try:
            values = await self._read(meter["address"], self._plan(meter), None)
        except _ERRORS as e:
            return {"ok": False, "error": str(e) or e.__class__.__name__}
        return {"ok": True, "values": values}

    async def _poll_meter(self, m):
        retries = None
        if m.failures >= self.offline_after:
            if m.skip > 0:
                m.skip -= 1
                return
            retries = 0  # a probe
        try:
            values = await self._read(m.cfg["address"], m.plan, retries)
        except _ERRORS as e:
            self._failed(m, e)
            return
        m.values = values
        m.status = "ok"
        m.ts = m.last_ok = self._now()
        m.failures = m.skip = 0
        m.error = None

    def _failed(self, m, e):
        m.failures += 1
        m.error = str(e) or e.__class__.__name__
        if m.failures >= self.offline_after:
            m.skip = self.probe_every - 1  # cycles to leave out before the next probe
        if isinstance(e, modbus.ModbusException):
            status = "error"
        elif m.failures >= self.offline_after:
            status = "offline" if isinstance(e, (modbus.NoResponse, OSError)) else "error"
        else:
            return
        if m.status != status or m.values:
            m.status = status
            m.values = {}
            m.ts = self._now()

    async def poll_once(self):
        """One cycle over every enabled meter, then pulse ``cycle_event``."""
        t0 = ticks_ms()
        for mid in list(self._meters):
            m = self._meters.get(mid)  # configure() may run while we await
            if m is not None and m.cfg["enabled"]:
                await self._poll_meter(m)
        self.cycles += 1
        self.cycle_ms = ticks_diff(ticks_ms(), t0)
        self.cycle_event.set()
        self.cycle_event.clear()

    async def run(self):
        """Poll forever, one cycle every ``interval_ms`` (back to back if a cycle takes longer)."""
        while True:
            t0 = ticks_ms()
            await self.poll_once()
            rest = self.bus["interval_ms"] - ticks_diff(ticks_ms(), t0)
            await sleep_ms(rest if rest > 0 else 0)
