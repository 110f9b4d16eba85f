"""The RS485 poll loop: reads every enabled meter each cycle and keeps its latest readings.

Per meter (keyed by its id) the poller keeps ``{"status", "ts", "values"}`` (docs/openapi.yaml: /api/live, /api/meters):
- ``ok``: ``values`` are those read at ``ts`` (epoch s from the injected clock). A failed cycle
  keeps them for up to ``offline_after - 1`` cycles (``ts`` then shows their age);
- ``partial``: the device answers but refuses some of its blocks (``stats()["failing"]``):
  ``values`` hold what the other blocks gave;
- ``offline``: no answer for ``offline_after`` consecutive cycles (or never answered yet);
- ``error``: the device answers but with a Modbus exception for every block (at once) or, for
  ``offline_after`` cycles, with bad frames/data;
- ``disabled``: not polled.
Outside ``ok``/``partial`` the values are empty and ``ts`` is when the status was set.

Strict devices: a merged read refused with exception 02/03/04, or met by silence while the
device answers its other blocks, is split into gap-free reads at once (``registers.split``);
the meter then has a learned plan, handed to ``on_learn(meter_id, entry)`` to be kept on flash
and given back by ``load_plan(meter_id)`` when the meter is next configured (``entry`` None:
forget it). Plans are shared: meters of one profile share its plan, and its learned plans
(32 SDM630 with their own copies of the register specs would take a third of the heap). A
gap-free block still refused is read again only every ``probe_every`` cycles.

Per-device settings (meter keys ``timeout_ms``, ``retries``, ``turnaround_ms``,
``max_registers``; missing ones come from the profile, then the bus).

After a meter's blocks, ``registers.finish`` applies scale-factor registers (SunSpec), drops
"not implemented" values and counts the active inverter alarms into ``alarms``; the hidden rows
(fault words, scale factors) are kept apart: ``hidden(meter_id)`` (services/alarms.py).

Dead devices cost next to nothing: after ``offline_after`` failed cycles a meter is probed
(one attempt, first block only) after ``probe_every`` cycles, then twice as far apart each time
up to ``max_backoff`` cycles, and at most one probe of a silent meter runs per cycle. After each
cycle ``cycle_event`` is pulsed (set then cleared: every task waiting on it wakes) and ``cycles`` is
incremented. Side work on the line (``extra``, a bus scan) gets one step after each polled meter
and the idle time before the next cycle.
"""
import asyncio

from gateway.core import modbus, ondemand, profiles, registers
from gateway.core.modbus import BUS_DEFAULTS
from gateway.core.ticks import sleep_ms, ticks_diff, ticks_ms, unix_time

_ERRORS = (modbus.ModbusError, OSError, ValueError)
NO_VALUES = {}  # offline, error, disabled: one empty mapping for every meter (read only)
NO_HIDDEN = {}  # a read with no hidden rows: shared (read only)
REFUSALS = (2, 3, 4)  # illegal address / value, device failure: the block, not the device
SETTINGS = ("timeout_ms", "retries", "turnaround_ms", "max_registers")
OWN_MAPS = ("generic", "sunspec")  # profiles whose register map is the meter's own


STALE_CYCLES = 3  # readings older than this many cycles (+ the slack) are "stale"
STALE_SLACK_S = 10


class _Meter:
    """One meter's polling state. What a healthy meter never changes stays a class default:
    an instance holds only what was set (7 attributes, ~160 B at 64-bit; 13 took ~320)."""
    learned = None  # a learned plan: its reads_key
    hidden = None  # the hidden rows of the last read (fault registers: alarms.py); None: unread
    last_ok = None
    failures = 0
    skip = 0
    backoff = 0
    error = None
    refused = None  # {(function, start, count): cycles to leave out}: failing blocks

    def __init__(self, cfg, plan, now, learned=None):
        self.cfg = cfg
        self.plan = plan
        if learned:
            self.learned = learned
        self.status = "offline" if cfg["enabled"] else "disabled"
        self.ts = now
        self.values = NO_VALUES  # then a core.values.Values (loaded with the first read)

    def drop_refused(self):
        if self.refused is not None:  # not written when unset: the class default stays
            self.refused = None


def setting(cfg, key):
    """A meter's own ``key`` (SETTINGS), else its profile's default, else None (the bus's)."""
    v = cfg.get(key)
    if v is None:
        fn = getattr(profiles, "setting", None)
        if fn is not None:
            v = fn(cfg, key)
        elif key == "max_registers":
            v = profiles.max_count(cfg)
    return v


def _failing(m):
    """The blocks ``m`` refuses, ``[[function, start, count], ...]`` (None: none)."""
    return sorted(list(k) for k in m.refused) if m.refused else None


def _own_map(cfg):
    """True if the meter's read plan is its own, not its profile's shared one."""
    return (cfg["profile"] in OWN_MAPS or cfg.get("max_registers") is not None
            or bool(cfg.get("faults")))


def _same_reads(a, b):
    for k in ("address", "profile", "enabled", "registers", "sunspec", "faults") + SETTINGS:
        if a.get(k) != b.get(k):
            return False
    return True


def reads_key(cfg, max_gap):
    """Tag of what a learned plan depends on: it is forgotten when any of it changes."""
    text = repr((cfg["address"], cfg["profile"], cfg.get("registers"), cfg.get("max_registers"),
                 max_gap, cfg.get("sunspec"), cfg.get("faults")))
    return "%04x" % modbus.crc16(text.encode())


class Poller:
    """Polls ``meters`` (normalised meter dicts) through ``master`` (an ``rtu.RtuMaster``)."""

    def __init__(self, master, meters=(), bus=None, clock=None, offline_after=3, probe_every=5,
                 max_backoff=32, load_plan=None, on_learn=None):
        self.master = master
        self.clock = clock or unix_time
        self.offline_after = offline_after
        self.probe_every = probe_every
        self.max_backoff = max_backoff
        self.load_plan = load_plan
        self.on_learn = on_learn
        self.cycle_event = asyncio.Event()
        self.cycles = 0
        self.cycle_ms = 0  # duration of the last cycle
        self._probed = False  # a backed-off meter was probed in this cycle
        self.extra = None  # side work sharing the line (a bus scan): ``await extra.step()``
        self.bus = dict(BUS_DEFAULTS)
        self._meters = {}
        self._plans = {}  # profile -> plan shared by its meters
        self._learned = {}  # profile + ranges -> a learned plan shared by the meters that need it
        self._names = {}  # the quantity-name tuples of the meters' values, shared (core.values)
        self._compact = None  # core.values.compact
        self.configure(meters, bus)

    def _now(self):
        return int(self.clock())

    def _plan(self, cfg):
        """The read blocks of a meter: shared by the meters of one fixed profile with no
        ``max_registers`` of their own."""
        own = _own_map(cfg)
        plan = None if own else self._plans.get(cfg["profile"])
        if plan is None:
            plan = registers.plan(profiles.registers(cfg), self.bus["max_gap"],
                                  setting(cfg, "max_registers") or registers.MAX_REGISTERS)
            if not own:
                self._plans[cfg["profile"]] = plan
        return plan

    def _share(self, cfg, plan):
        """The learned plan equal to ``plan`` another meter of the profile already has, else
        ``plan`` (kept for the next one)."""
        if _own_map(cfg):
            return plan
        key = "%s %s" % (cfg["profile"], registers.ranges(plan))
        return self._learned.setdefault(key, plan)

    def _new_meter(self, cfg, now):
        saved = self.load_plan(cfg["id"]) if self.load_plan else None
        if saved and saved.get("key") == reads_key(cfg, self.bus["max_gap"]):
            plan = registers.assign(profiles.registers(cfg), saved["blocks"])
            m = _Meter(cfg, self._share(cfg, plan), now, saved["key"])
        else:
            if saved and self.on_learn:
                self.on_learn(cfg["id"], None)
            m = _Meter(cfg, self._plan(cfg), now)
        return m

    def configure(self, meters=None, bus=None):
        """Replace the meter list and/or the bus settings (takes effect from the next request).

        A meter whose address, profile, registers, device settings and enabled flag are
        unchanged keeps its state, readings and learned plan; others start afresh (a learned
        plan no longer matching is forgotten); removed meters are forgotten.
        """
        if bus is not None:
            self._plans = {}  # max_gap may have changed
            self._learned = {}
            self.bus = dict(BUS_DEFAULTS)
            self.bus.update(bus)
            self.master.configure(self.bus)
        if meters is None:
            meters = [m.cfg for m in self._meters.values()]
        now = self._now()
        new = {}
        for cfg in meters:
            old = self._meters.get(cfg["id"])
            if old is None or not _same_reads(old.cfg, cfg):
                new[cfg["id"]] = self._new_meter(cfg, now)
                continue
            old.cfg = cfg
            if old.learned and old.learned != reads_key(cfg, self.bus["max_gap"]):
                self._forget_plan(cfg["id"])
                old.learned = None
            if not old.learned:
                old.plan = self._plan(cfg)  # max_gap may have changed
            new[cfg["id"]] = old
        for mid, old in self._meters.items():
            if mid not in new and old.learned:
                self._forget_plan(mid)
        self._meters = new
        self.master.forget(set(m.cfg["address"] for m in new.values()))

    def _forget_plan(self, mid):
        if self.on_learn:
            self.on_learn(mid, None)

    def _status(self, m, now):
        """The meter's status, "stale" when its last good read is older than ``STALE_CYCLES``
        cycles (the poller stopped or stalled: the values are not live any more)."""
        if m.status in ("ok", "partial"):
            cycle = max(self.bus["interval_ms"], self.cycle_ms) // 1000 + 1
            if now - m.ts > STALE_CYCLES * cycle + STALE_SLACK_S:
                return "stale"
        return m.status

    def readings(self):
        """Snapshot ``{id: {"status", "ts", "values"}}``, the values a read-only mapping
        (core.values.compact: a Values, or the read's dict where no array holds it exactly; or
        NO_VALUES; web/http.py ``plain()`` before json.dumps)."""
        out = {}
        now = self._now()
        for mid, m in self._meters.items():
            out[mid] = {"status": self._status(m, now), "ts": m.ts, "values": m.values}
        return out

    def reading(self, meter_id):
        """One meter's ``{"status", "ts", "values"}`` (as in readings()) or None: no snapshot of
        every meter for a caller that wants one (the Modbus TCP server, per request)."""
        m = self._meters.get(meter_id)
        if m is None:
            return None
        return {"status": self._status(m, self._now()), "ts": m.ts, "values": m.values}

    def hidden(self, meter_id):
        """The hidden rows (``_fault<i>`` ...) of a meter's last read, None before one."""
        m = self._meters.get(meter_id)
        return None if m is None else m.hidden

    def stat(self, mid):
        """One meter's ``{"status", "last_ok", "failures", "error", "counters", "failing",
        "plan"}`` (copies) or None; ``plan``: the learned ``[[function, start, count], ...]``."""
        m = self._meters.get(mid)
        if m is None:
            return None
        return {
            "status": m.status,
            "last_ok": m.last_ok,
            "failures": m.failures,
            "error": m.error,
            "counters": self.master.counters(m.cfg["address"]),
            "failing": _failing(m),
            "plan": registers.ranges(m.plan) if m.learned else None,
        }

    def stats(self):
        """``(id, stat)`` of every meter in turn, one copy at a time (32 meters' copies at once
        would be a 15 KB transient on the heap)."""
        for mid in tuple(self._meters):
            st = self.stat(mid)
            if st is not None:
                yield mid, st

    def brief(self):
        """``(id, status, error, tally)`` of every meter, nothing copied (the tally is the RTU
        master's live one, services/rtu.py: read, never kept): the per-cycle bookkeeping's view."""
        for mid, m in self._meters.items():
            yield mid, m.status, m.error, self.master.tally(m.cfg["address"])

    def tally(self, mid):
        """The live counters of meter ``mid`` (services/rtu.py ``tally``; read only) or None."""
        m = self._meters.get(mid)
        return None if m is None else self.master.tally(m.cfg["address"])

    # ---- reading one meter ----

    async def _block(self, m, block, io):
        """Read one block; ``io``: (retries, timeout_ms, pause_ms) of this device."""
        return await self.master.read_registers(m.cfg["address"], block[0], block[1], block[2],
                                                io[0], io[1], io[2])

    def _learn(self, m, block, parts):
        """Replace ``block`` by ``parts`` in ``m``'s plan (its own copy from now on)."""
        plan = []
        for b in m.plan:
            if b is block:
                plan.extend(parts)
            else:
                plan.append(b)
        m.learned = reads_key(m.cfg, self.bus["max_gap"])
        mid = m.cfg["id"]
        if self._meters.get(mid) is not m:  # a Test read, or a meter removed meanwhile
            m.plan = plan
            return
        m.plan = self._share(m.cfg, plan)
        if self.on_learn:
            self.on_learn(mid, {"key": m.learned, "blocks": registers.ranges(plan)})

    def _leave_out(self, m, block):
        """True if ``block`` was refused lately and sits this cycle out."""
        key = (block[0], block[1], block[2])
        left = m.refused.get(key) if m.refused else None
        if left:
            m.refused[key] = left - 1
            return True
        return False

    def _refused(self, m, block):
        if m.refused is None:
            m.refused = {}
        m.refused[(block[0], block[1], block[2])] = self.probe_every - 1

    async def _read(self, m, probe=False):
        """Values of every block of ``m`` that answers (``m.refused``: the failing); raises if no
        block gives a value (the last error). Blocks refused while others answer are split
        into gap-free reads (read at once) or, already gap-free, left out for a while."""
        plan = m.plan
        n = len(plan)
        values = {}
        refused = []
        answered = False
        silent = err = None
        cfg = m.cfg
        timeout, pause = setting(cfg, "timeout_ms"), setting(cfg, "turnaround_ms") or 0
        io = (0 if probe else setting(cfg, "retries"), timeout, pause)
        # a device never heard since it was configured: start each attempt at another block
        # (one silently refused first block must not hide the device)
        first = m.failures % n if n and m.last_ok is None else 0
        for k in range(n):
            block = plan[(first + k) % n]
            if self._leave_out(m, block):
                continue
            try:
                regs = await self._block(m, block, io)
            except modbus.ModbusException as e:
                if e.code not in REFUSALS:
                    raise
                answered = True
                err = e
                refused.append(block)
            except modbus.NoResponse as e:
                # silence before any answer: the device is away, unless it answered before;
                # a second silence ends the read either way (a dead device costs little)
                if not answered and (probe or m.last_ok is None or silent is not None):
                    raise silent or e
                silent = err = e
                refused.append(block)
            else:
                answered = True
                registers.extract(block, regs, values)
                if m.refused:
                    m.refused.pop((block[0], block[1], block[2]), None)
        if answered:  # the device is there: what it left unanswered, it refuses
            for block in refused:
                parts = registers.split(block)
                if len(parts) == 1:
                    self._refused(m, block)
                    continue
                self._learn(m, block, parts)
                for part in parts:
                    try:
                        regs = await self._block(m, part, (0, timeout, pause))
                    except modbus.ModbusException as e:
                        if e.code not in REFUSALS:
                            raise
                        err = e
                        self._refused(m, part)
                    except modbus.NoResponse as e:
                        err = e
                        self._refused(m, part)
                    else:
                        registers.extract(part, regs, values)
        hidden = {}  # fault registers (alarms.py), scale factors: not readings
        registers.finish(m.plan, values, hidden)  # scale factors, "not implemented", alarms
        m.hidden = hidden or NO_HIDDEN
        if not values:
            m.drop_refused()  # nothing at all: the meter's back-off takes over
            if err is not None:
                raise err
            if n:
                raise ValueError("no valid value in the reply")
        if not m.refused:
            m.drop_refused()
        elif err is not None:
            m.error = str(err)
        return values

    async def read_now(self, meter):
        """Read ``meter`` (a normalised meter dict) once, now, for the "Test" button.

        Returns ``{"ok": True, "values": {...}}`` (plus ``"failing"``: the refused blocks) or
        ``{"ok": False, "error": "exact text"}``. Uses (never changes) the meter's learned plan.
        """
        known = self._meters.get(meter["id"])
        if known is not None and _same_reads(known.cfg, meter):
            plan, learned = known.plan, known.learned
        else:
            plan, learned = self._plan(meter), False
        m = _Meter(meter, plan, self._now(), learned)
        m.last_ok = 0  # a Test read tries every block
        try:
            values = await self._read(m)
        except _ERRORS as e:
            return {"ok": False, "error": str(e) or e.__class__.__name__}
        out = {"ok": True, "values": values}
        if m.refused:
            out["failing"] = _failing(m)
        return out

    async def _poll_meter(self, m):
        probe = m.failures >= self.offline_after
        if probe:
            if m.skip > 0:
                m.skip -= 1
                return
            if m.status == "offline":  # a silent device costs a timeout: one such per cycle
                if self._probed:
                    return  # this one waits for the next cycle
                self._probed = True
        try:
            values = await self._read(m, probe)
        except _ERRORS as e:
            self._failed(m, e)
            return
        if self._compact is None:  # loaded when a meter first answers: none on an idle heap
            self._compact = ondemand.keep("gateway.core.values").compact
        m.values = self._compact(values, self._names)
        m.status = "partial" if m.refused else "ok"
        m.ts = m.last_ok = self._now()
        if m.failures or m.skip or m.backoff:  # written only when set: class defaults otherwise
            m.failures = m.skip = m.backoff = 0
        if m.error is not None and not m.refused:
            m.error = None

    def _failed(self, m, e):
        m.failures += 1
        m.drop_refused()
        m.error = str(e) or e.__class__.__name__
        if m.failures >= self.offline_after:
            b = m.backoff * 2 if m.backoff else self.probe_every
            m.backoff = b if b < self.max_backoff else self.max_backoff
            m.skip = m.backoff - 1  # cycles to leave out before the next probe
        if isinstance(e, modbus.ModbusException):
            status = "error"
        elif m.failures >= self.offline_after:
            status = "offline" if isinstance(e, (modbus.NoResponse, OSError)) else "error"
        else:
            return
        if m.status != status or m.values:
            m.status = status
            m.values = NO_VALUES
            m.ts = self._now()

    async def poll_once(self):
        """One cycle over every enabled meter, then pulse ``cycle_event``."""
        t0 = ticks_ms()
        self._probed = False
        for mid in list(self._meters):
            m = self._meters.get(mid)  # configure() may run while we await
            if m is not None and m.cfg["enabled"]:
                await self._poll_meter(m)
                await self._extra_step()
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
            while rest > 0 and self.extra is not None:  # the line is free until the next cycle
                await self._extra_step()
                rest = self.bus["interval_ms"] - ticks_diff(ticks_ms(), t0)
            await sleep_ms(rest if rest > 0 else 0)

    async def _extra_step(self):
        """One step of the side work (one probe of a bus scan: one slot per polled meter)."""
        extra = self.extra
        if extra is None:
            return
        try:
            more = await extra.step()
        except Exception as e:  # noqa: BLE001 - a broken side job must never stop the polling
            more = False
            if hasattr(extra, "stop"):
                extra.stop(e)
        if not more and self.extra is extra:
            self.extra = None
