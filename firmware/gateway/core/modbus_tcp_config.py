"""Modbus TCP server settings (stored as "modbus_tcp"): defaults and validation of PUT
/api/modbus-tcp (configuration time: only the on-demand API module imports this).

``{"enabled": bool (default false), "port": 1..65535 (default 502)}``. PUT is a partial update;
unknown keys are refused, the read-only ``state`` of GET is ignored.
"""
from gateway.core import check
from gateway.core.errors import ValidationError

STORE_KEY = "modbus_tcp"
DEFAULT_PORT = 502
KEYS = ("enabled", "port")
READ_ONLY = ("state",)


def defaults():
    return {"enabled": False, "port": DEFAULT_PORT}


def validate(update, stored=None, taken=()):
    """The new stored settings from the PUT body ``update`` over ``stored``; ValidationError.
    ``taken``: ports the gateway already listens on (its web server)."""
    check.obj(None, update)
    cfg = defaults()
    for k in KEYS:
        if stored and k in stored:
            cfg[k] = stored[k]
    check.known_keys(update, KEYS + READ_ONLY)
    if "enabled" in update:
        cfg["enabled"] = check.boolean("enabled", update["enabled"])
    if "port" in update:
        cfg["port"] = check.integer("port", update["port"], 1, 65535)
    if ("port" in update or cfg["enabled"]) and cfg["port"] in taken:
        raise ValidationError("port", "port %d is already used by the gateway" % cfg["port"],
                              "unique")
    return cfg
