"""Meters and bus settings: stored on flash, validated, applied to the poller at once."""
from gateway.core import ondemand
from gateway.core.ticks import ticks_ms
from gateway.services import rtu
from gateway.services.poller import Poller


def _validate(fn, *args):
    return ondemand.call("gateway.core.meters", fn, *args)


GONE = "meters-gone"  # {id: name} of deleted meters, for their billing's statements
MAX_GONE = 64


class MeterService:
    def __init__(self, store, port_factory, events=None):
        self.store = store
        self.events = events
        self.meters = store.load("meters") or []
        self._last_id = (store.load("meter-ids") or {}).get("last", 0)  # never given again
        self.bus = _validate("validate_bus", store.load("bus") or {})
        self.master = rtu.RtuMaster(port_factory(self.bus), self.bus)
        self.poller = Poller(self.master, self.meters, self.bus, load_plan=self._load_plan,
                             on_learn=self._keep_plan)
        self.last_ok_ms = None
        self.last_err_ms = None
        self._totals = (0, 0)
        self._status = {}
        self.scan = None  # the bus scan, once one was asked for
        self.on_cycle = []  # called after every poll cycle (the genset reacts to new readings)
        self.on_change = []  # called after meters were added, changed or deleted (discovery)

    def _load_plan(self, meter_id):
        """The read plan learned for a strict device (one small file per meter, read only when
        the meter is configured)."""
        return self.store.load("plan-" + meter_id)

    def _keep_plan(self, meter_id, entry):
        if entry is None:
            self.store.delete("plan-" + meter_id)
        else:
            self.store.save("plan-" + meter_id, entry)

    def get(self, meter_id):
        for m in self.meters:
            if m["id"] == meter_id:
                return m
        return None

    def _apply(self, meters):
        """Validate -> save -> apply: when the save fails (503) the running list is unchanged."""
        self.store.save("meters", meters)
        self.meters = meters
        self.poller.configure(meters)
        for fn in self.on_change:
            fn()

    def create(self, data, taken=()):
        """A new meter. Its id was never given before on this device (kept in "meter-ids"),
        nor is it one of ``taken`` (the billing channels a deleted meter left, for a device
        whose deletions predate "meter-ids")."""
        m = _validate("validate_meter", data, self.meters, None, list(taken) + [self._last_id])
        self.store.save("meter-ids", {"last": int(m["id"])})  # first: a cut leaves a gap, no reuse
        self._last_id = int(m["id"])
        self._apply(self.meters + [m])
        return m

    def update(self, meter_id, data):
        m = _validate("validate_meter", data, self.meters, meter_id)
        self._apply([m if x["id"] == meter_id else x for x in self.meters])
        return m

    def delete(self, meter_id):
        m = self.get(meter_id)
        self._apply([x for x in self.meters if x["id"] != meter_id])
        if m is not None:  # its billing stays under its id: its statements keep its name
            gone = self.store.load(GONE) or {}
            gone[meter_id] = m["name"]
            while len(gone) > MAX_GONE:
                gone.pop(min(gone, key=int))
            self.store.save(GONE, gone)

    def name_of(self, meter_id):
        """A meter's name, a deleted one's too (None if the id never named one here)."""
        return self.names()(meter_id)

    def names(self):
        """``name_of`` for one caller asking for many: the deleted meters' names are read from
        flash once, when first asked for, and dropped with it."""
        gone = None

        def name_of(meter_id):
            nonlocal gone
            m = self.get(meter_id)
            if m is not None:
                return m["name"]
            if gone is None:
                gone = self.store.load(GONE) or {}
            return gone.get(meter_id)

        return name_of

    def set_bus(self, data):
        bus = _validate("validate_bus", data, self.bus)
        self.store.save("bus", bus)
        self.bus = bus
        self.poller.configure(bus=bus)
        if hasattr(self.master.port, "configure"):
            self.master.port.configure(bus["baud"], bus["parity"], bus["stop"])
        return bus

    def start_scan(self, lo, hi, timeout_ms=None, line=False):
        """Start a bus scan of addresses ``lo``..``hi`` (run by the poller beside its reads,
        each address probed with ``timeout_ms``; ``line``: try the usual line settings first);
        one at a time: a scan under way restarts."""
        if self.scan is None:  # asked for by a request: its module joins the resident set
            self.scan = ondemand.keep("gateway.services.scan").BusScan(self.master)
        self.scan.probe_timeout_ms = timeout_ms
        self.scan.start(lo, hi, line)
        self.poller.extra = self.scan
        return self.scan.state()

    def scan_state(self):
        if self.scan is None:
            return {"running": False, "progress": 0, "found": []}
        return self.scan.state()

    def public(self):
        """GET /api/meters: each meter's configuration with its status and counters (a generator)."""
        for m in self.meters:
            d = dict(m)
            st = self.poller.stat(m["id"])
            if st:
                d["status"], d["last_ok"], d["error"] = st["status"], st["last_ok"], st["error"]
                d["counters"] = st["counters"]
                d["failing"], d["plan"] = st["failing"], st["plan"]
            yield d

    def after_cycle(self):
        """Bookkeeping after each poll cycle: COM LED times and online/offline events."""
        ok = bad = 0
        for mid, status, err, c in self.poller.brief():
            ok += c[rtu.OK]
            bad += c[rtu.TIMEOUTS] + c[rtu.CRC_ERRORS] + c[rtu.EXCEPTIONS] + c[rtu.WRONG_FRAMES]
            was = self._status.get(mid)
            if was is not None and was != status and self.events:
                m = self.get(mid)
                name = m["name"] if m else mid
                p = {"name": name, "from": was, "to": status}
                if err:
                    p["error"] = err
                self.events("comm", "meter " + mid, "meter.failed" if "error" in p else "meter.status", p)
            self._status[mid] = status
        now = ticks_ms()
        if ok > self._totals[0]:
            self.last_ok_ms = now
        if bad > self._totals[1]:
            self.last_err_ms = now
        self._totals = (ok, bad)

    async def watch(self):
        """Task: after_cycle() after every poll cycle."""
        while True:
            await self.poller.cycle_event.wait()
            self.poller.cycle_event.clear()
            self.after_cycle()
            for fn in self.on_cycle:
                fn()
