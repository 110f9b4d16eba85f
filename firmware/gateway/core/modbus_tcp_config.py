"""Modbus TCP server settings (stored as "modbus_tcp"): defaults and validation of PUT
/api/modbus-tcp (configuration time: only the on-demand API module imports this).

``{"enabled": bool (default false), "port": 1..65535 (default 502)}``. PUT is a partial update;
unknown keys are refused, the read-only ``state`` of GET is ignored.
"""
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
    if not isinstance(update, dict):
        raise ValidationError(None, "a JSON object is expected", "format")
    cfg = defaults()
    for k in KEYS:
        if stored and k in stored:
            cfg[k] = stored[k]
    for k in update:
        if k not in KEYS and k not in READ_ONLY:
            raise ValidationError(k, "unknown setting", "unknown")
    if "enabled" in update:
        v = update["enabled"]
        if v is not True and v is not False:
            raise ValidationError("enabled", "must be true or false", "boolean")
        cfg["enabled"] = v
    if "port" in update:
        v = update["port"]
        if isinstance(v, float) and -1e15 < v < 1e15 and v == int(v):  # not inf/nan (1e309)
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValidationError("port", "must be an integer", "integer")
        if v < 1 or v > 65535:
            raise ValidationError("port", "must be between 1 and 65535", "range",
                                  {"min": 1, "max": 65535})
        if v in taken:
            raise ValidationError("port", "port %d is already used by the gateway" % v, "unique")
        cfg["port"] = v
    return cfg
