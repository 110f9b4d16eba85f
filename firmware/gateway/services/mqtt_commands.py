"""Remote commands over MQTT (``<base>/cmd/<name>``), loaded for one command only.

    genset/mode                  "auto" | "on" | "off"
    genset/start                 seconds of a manual run, 0 = until stopped (mode "on")
    genset/stop                  mode "off" (through the cool-down)
    settings/sample_interval_s   seconds, as PUT /api/settings
    meter/<id>/enabled           true | false
    output/<id>/set              ON | OFF (also on/off, true/false): a configured plain relay
                                 output (services/outputs.py); its command is not written to flash

Every command goes through the same validation as the HTTP API (ValidationError/ValueError ->
the error on ``<base>/cmd/result``) and is logged "by MQTT". A command that changes nothing
writes nothing to flash. The result is the new value.
"""
from gateway.core import check
from gateway.core.errors import ValidationError


def _int(value, field):
    return check.integer(field, value, text=True)


def _bool(value, field):
    """JSON true/false, or the text of a plain MQTT payload ("true", "false")."""
    if value in ("true", "false"):
        return value == "true"
    return check.boolean(field, value)


def _switch(value):
    """ON/OFF as Home Assistant's switch sends it, on/off, or a boolean."""
    if isinstance(value, str) and value.lower() in ("on", "off"):
        return value.lower() == "on"
    return _bool(value, "value")


def _output(dev, oid, value):
    svc = dev.outputs
    if svc is None or not svc.configured(oid):
        raise ValidationError("output", "no configured output %s" % oid, "unknown")
    return svc.switch(oid, _switch(value), "MQTT")


def _genset(dev, change):
    if dev.genset is None:
        raise ValueError("generator control is not configured")
    cfg = dev.genset.controller.config
    if all(cfg.get(k) == v for k, v in change.items()):
        return cfg["mode"]
    old = cfg["mode"]
    new = dev.genset.set_config(change)
    dev.event("genset", "genset", "gs.mode", {"from": old, "to": new["mode"], "by": "MQTT"})
    return new["mode"]


def run(dev, name, value):
    """Carry out command ``name`` with ``value``; returns the resulting value."""
    if name == "genset/mode":
        return _genset(dev, {"mode": value})
    if name == "genset/start":
        return _genset(dev, {"mode": "on", "manual_run_s": _int(value or 0, "manual_run_s")})
    if name == "genset/stop":
        return _genset(dev, {"mode": "off"})
    if name == "settings/sample_interval_s":
        v = _int(value, "sample_interval_s")
        if dev.settings.get("sample_interval_s") != v:
            dev.save_settings({"sample_interval_s": v})
            dev.event("config", "settings", "interval", {"s": v, "by": "MQTT"})
        return dev.settings["sample_interval_s"]
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "output" and parts[2] == "set":
        return _output(dev, parts[1], value)
    if len(parts) == 3 and parts[0] == "meter" and parts[2] == "enabled":
        meter = dev.meters.get(parts[1])
        if meter is None:
            raise ValidationError("meter", "no meter %s" % parts[1], "unknown")
        v = _bool(value, "enabled")
        if meter.get("enabled", True) != v:
            dev.meters.update(parts[1], {"enabled": v})
            dev.event("config", "meters", "meter.on" if v else "meter.off",
                      {"name": parts[1], "by": "MQTT"})
        return v
    raise ValueError("unknown command")
