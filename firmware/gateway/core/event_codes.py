"""Every event the firmware logs: its code and English text (the ONE table of event codes).

    dev.event("config", "users", "user.created", {"user": "ann", "by": "admin"})

The log stores the code and its params and builds the English text when read (GET /api/events
"text", MQTT, scripts); the page says it in the reader's language from "ev.<code>" of
firmware/www/lang-*.json (tests/core/test_event_codes.py checks every code has its words there).
A text param named ``why`` or ``error`` is an English device text (genset reason, Modbus error).
"""

TEXTS = {
    # device
    "boot": "boot (%(cause)s), firmware %(version)s",
    "reboot": "reboot: %(why)s",
    "prg": "PRG: %(action)s",
    "reset.kept": "factory reset (data kept)",
    "reset.erased": "factory reset (data erased)",
    "reset.asked": "factory reset requested by %(by)s",
    "store": "%(status)s: %(error)s",
    "task.crashed": "%(task)s crashed (%(n)d restarts): %(error)s",
    "task.stalled": "task %(task)s stalled or dead: the device will reset",
    "clock.page": "clock set by %(by)s from the page (%(jump)+d s)",
    "clock.ntp": "clock set by NTP from %(server)s (%(jump)+d s)",
    "wifi.state": "Wi-Fi %(from)s -> %(to)s",
    "wifi.set": "station set to %(ssid)s by %(by)s",
    "http.port": "the page cannot also listen on port %(port)d: %(error)s",
    "login": "%(user)s logged in from %(ip)s",
    "login.blocked": "failed logins for %(user)s from %(ip)s: blocked %(s)d s (%(n)d failed since boot)",
    # firmware
    "fw.refused": "update refused (%(status)d): %(error)s",
    "fw.failed": "update failed, nothing changed: %(error)s",
    "fw.received": "firmware %(version)s received from %(by)s (%(n)d files%(rom)s); rebooting to switch",
    "fw.switch": "%(why)s",
    # settings
    "settings": "settings changed by %(by)s",
    "interval": "sample interval %(s)d s by %(by)s",
    "restore": "configuration restored by %(by)s (%(docs)s); rebooting",
    "restore.note": "restore: %(note)s",
    "user.password": "%(user)s changed their password",
    "user.created": "user %(user)s created by %(by)s",
    "user.changed": "user %(user)s changed by %(by)s",
    "user.deleted": "user %(user)s deleted by %(by)s",
    "metrics.renewed": "metrics token renewed by %(by)s",
    "metrics.removed": "metrics token removed by %(by)s",
    "mqtt": "MQTT settings changed by %(by)s (broker %(host)s)",
    "mbtcp.on": "Modbus TCP server enabled, port %(port)d, by %(by)s",
    "mbtcp.off": "Modbus TCP server disabled, port %(port)d, by %(by)s",
    "mbtcp.error": "%(error)s",
    # meters and bus
    "meter.added": "meter %(name)s added (address %(address)d, %(profile)s) by %(by)s",
    "meter.changed": "meter %(name)s changed by %(by)s",
    "meter.deleted": "meter %(name)s deleted by %(by)s",
    "meter.on": "meter %(name)s enabled by %(by)s",
    "meter.off": "meter %(name)s disabled by %(by)s",
    "meter.status": "%(name)s: %(from)s -> %(to)s",
    "meter.failed": "%(name)s: %(from)s -> %(to)s (%(error)s)",
    "bus.set": "bus set to %(baud)d %(parity)s%(stop)d by %(by)s",
    "bus.scan": "bus scan of addresses %(lo)d..%(hi)d by %(by)s",
    "alarm.on": "%(alarm)s: appeared",
    "alarm.off": "%(alarm)s: cleared",
    # recorder and billing
    "rec.failed": "recorder: flash write failed (%(error)s)",
    "rec.clock_back": "recorder: clock went back, waiting for it to catch up",
    "bill.failed": "billing: flash write failed (%(error)s)",
    "bill.closed": "billing %(meter)s: month %(month)s closed",
    "bill.dropped": "billing %(meter)s: dropped 13 months after the meter was deleted",
    "bill.reset": "billing reset for a new tenant on %(name)s by %(by)s",
    "bill.tariffs": "tariffs changed by %(by)s",
    # generator
    "gs.configured": "generator control configured by %(by)s (mode %(mode)s)",
    "gs.changed": "genset settings changed by %(by)s",
    "gs.removed": "generator control removed by %(by)s",
    "gs.mode": "mode %(from)s -> %(to)s by %(by)s",
    "gs.state": "%(from)s → %(to)s: %(why)s",
    "gs.start": "start: %(why)s",
    "gs.retry": "start retry %(n)d/%(of)d: %(why)s",
    "gs.failed": "start attempt %(n)d failed: %(why)s",
    "gs.stop": "stop after %(s)d s: %(why)s",
    "gs.error": "error: %(error)s",
    "gs.cleared": "error cleared",
    "gs.cleared_by": "error cleared by mode %(mode)s",
    "gs.manual_end": "manual run ended (%(why)s), mode %(mode)s",
    "gs.reboot": "stopped by reboot",
    "gs.service_due": "service due: %(h)d run hours since the last service",
    "gs.serviced": "service recorded by %(by)s",
    "gs.bad_config": "bad genset config (%(field)s: %(error)s), using defaults, mode off",
    "gs.service": "genset service: %(error)s",
    # relay outputs
    "out.configured": "output %(id)s (%(name)s) configured by %(by)s",
    "out.removed": "output %(id)s removed by %(by)s",
    "out.on": "%(name)s switched on by %(by)s",
    "out.off": "%(name)s switched off by %(by)s",
}


def text(code, params):
    """The English text of event ``code`` with ``params`` (a dict); an unknown code or
    params that do not fit give the code and the params as they are."""
    t = TEXTS.get(code)
    if t is not None:
        try:
            return t % params
        except (KeyError, TypeError, ValueError):
            pass
    return "%s %s" % (code, params)
