"""Meters and bus settings: stored on flash, validated, applied to the poller at once."""
from gateway.core import ondemand
from gateway.core.ticks import ticks_ms
from gateway.services.poller import Poller
from gateway.services.rtu import RtuMaster


def _validate(fn, *args):
    return ondemand.call("gateway.core.meters", fn, *args)


class MeterService:
    def __init__(self, store, port_factory, events=None):
        self.store = store
        self.events = events
        self.meters = store.load("meters") or []
        self.bus = _validate("validate_bus", store.load("bus") or {})
        self.master = RtuMaster(port_factory(self.bus), self.bus)
        self.poller = Poller(self.master, self.meters, self.bus)
        self.last_ok_ms = None
        self.last_err_ms = None
        self._totals = (0, 0)
        self._status = {}
        self.on_cycle = []  # called after every poll cycle (the genset reacts to new readings)

    def get(self, meter_id):
        for m in self.meters:
            if m["id"] == meter_id:
                return m
        return None

    def _apply(self):
        self.store.save("meters", self.meters)
        self.poller.configure(self.meters)

    def create(self, data):
        m = _validate("validate_meter", data, self.meters)
        self.meters.append(m)
        self._apply()
        return m

    def update(self, meter_id, data):
        m = _validate("validate_meter", data, self.meters, meter_id)
        self.meters = [m if x["id"] == meter_id else x for x in self.meters]
        self._apply()
        return m

    def delete(self, meter_id):
        self.meters = [x for x in self.meters if x["id"] != meter_id]
        self._apply()

    def set_bus(self, data):
        bus = _validate("validate_bus", data, self.bus)
        self.store.save("bus", bus)
        self.bus = bus
        self.poller.configure(bus=bus)
        if hasattr(self.master.port, "configure"):
            self.master.port.configure(bus["baud"], bus["parity"], bus["stop"])
        return bus

    def public(self):
        """GET /api/meters: each meter's configuration with its status and counters (a generator)."""
        stats = self.poller.stats()
        for m in self.meters:
            d = dict(m)
            st = stats.get(m["id"])
            if st:
                d["status"], d["last_ok"], d["error"] = st["status"], st["last_ok"], st["error"]
                d["counters"] = st["counters"]
            yield d

    def after_cycle(self):
        """Bookkeeping after each poll cycle: COM LED times and online/offline events."""
        ok = bad = 0
        for mid, st in self.poller.stats().items():
            c = st["counters"]
            ok += c.get("ok", 0)
            bad += c.get("timeouts", 0) + c.get("crc_errors", 0) + c.get("exceptions", 0) + c.get("wrong_frames", 0)
            was = self._status.get(mid)
            if was is not None and was != st["status"] and self.events:
                m = self.get(mid)
                name = m["name"] if m else mid
                text = "%s: %s -> %s" % (name, was, st["status"])
                if st.get("error"):
                    text += " (%s)" % st["error"]
                self.events("comm", "meter " + mid, text)
            self._status[mid] = st["status"]
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
