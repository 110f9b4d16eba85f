"""Readings on flash: the sample ring, billing, the recorder task and the uplink outbox."""
from gateway.core import ondemand
from gateway.core.billing import Billing
from gateway.core.ring import Ring
from gateway.services.recorder import MAX_PENDING, Recorder

DATA = "/data"
RING_BUDGET = 1 << 20  # 1 MiB: > 90 days of 15-min import/export for 32 channels


class Storage:
    def __init__(self, readings, settings, events=None, max_pending=None):
        """readings(): the poller's {meter id: reading}; settings(): the current settings dict;
        max_pending: samples held in RAM between writes (the board file's recorder_pending)."""
        zone = settings()["timezone"]
        self.ring = Ring(DATA + "/ring", budget=RING_BUDGET)
        self.billing = Billing(DATA + "/billing", zone)
        self.recorder = Recorder(self.ring, readings, settings=settings, billing=self.billing,
                                 max_pending=max_pending or MAX_PENDING,
                                 log=(lambda t, code, params: events(t, "recorder", code, params))
                                 if events else None)
        self.outboxes = []

    def outbox(self, name):
        """A durable cursor over the ring for one consumer (the MQTT uplink); its module joins
        the resident set (it may be asked for inside a request: PUT /api/mqtt)."""
        from gateway.core.ticks import unix_time

        Outbox = ondemand.keep("gateway.core.outbox").Outbox
        box = Outbox(self.ring, DATA + "/outbox", name, clock=unix_time, min_persist_s=30)
        self.outboxes.append(box)
        self.recorder.on_flush = lambda last_id: [b.notify(last_id) for b in self.outboxes]
        return box

    def set_zone(self, name):
        from gateway.core import tz

        self.billing.zone = tz.get(name)

    def before_reboot(self):
        self.recorder.flush()
        self.billing.flush()
        for b in self.outboxes:
            b.commit()
