"""Inverter alarms into the event log: after each poll cycle, the meters whose profile exposes
fault registers are compared with the cycle before; an alarm that appeared or cleared is one
event (type "alarm", source the meter, text decoded from the profile's code table in the
gateway's language), which the event log keeps with its time and the MQTT uplink publishes as
an event. The count of active alarms is the meter's quantity ``alarms`` (registers.finish),
Home Assistant's "problem" binary sensor (ha_discovery.py).
"""
from gateway.core import ondemand, profiles


class AlarmMonitor:
    """``meters()``: the configured meters; ``event(type, source, code, params)``: the event log
    (codes "alarm.on"/"alarm.off", param ``alarm`` the alarm's text in the gateway's language);
    ``lang()``: "en", "fr" or "nl"."""

    def __init__(self, poller, meters, event, lang=lambda: "en"):
        self.poller = poller
        self.meters = meters
        self.event = event
        self.lang = lang
        self.active = {}  # meter id -> set of (table, code) active at the last read

    def check(self):
        """Compare each alarm-capable meter's last read with the one before (on_cycle hook)."""
        seen = set()
        for cfg in self.meters():
            faults = profiles.faults(cfg)
            if not faults:
                continue
            mid = cfg["id"]
            seen.add(mid)
            hidden = self.poller.hidden(mid)
            if hidden is None:
                continue  # not read yet: nothing is known
            # resident once an alarm-capable meter is read (never dropped by a request's end)
            alarms = ondemand.keep("gateway.core.alarms")
            now = alarms.active(faults, hidden)
            before = self.active.get(mid, set())
            if now == before:
                continue
            appeared, cleared = alarms.changes(before, now)
            source = "meter %s" % mid
            lang = self.lang()
            for table, code in appeared:
                self.event("alarm", source, "alarm.on", {"alarm": alarms.event_name(table, code, lang)})
            for table, code in cleared:
                self.event("alarm", source, "alarm.off", {"alarm": alarms.event_name(table, code, lang)})
            self.active[mid] = now
        for mid in [m for m in self.active if m not in seen]:
            del self.active[mid]  # meter removed or its profile changed
