"""The device settings document: defaults and validation (configuration time only).

Nothing imports this module at module level: callers go through gateway.core.ondemand, e.g.
``ondemand.call("gateway.core.settings", "validate_settings", data, current)``, so it is on the
heap only while a settings document is being checked (boot, PUT /api/settings).
"""

from gateway.core import tz
from gateway.core.errors import ValidationError

SETTINGS_DEFAULTS = {
    "sample_interval_s": 600,
    "flush_interval_s": 60,
    "csv_separator": ";",
    "csv_decimal": ",",
    "timezone": tz.DEFAULT,
    "location": "",
}


def _int(d, key, lo, hi):
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v == int(v):
            v = int(v)
        else:
            raise ValidationError(key, "%s must be an integer" % key)
    if v < lo or v > hi:
        raise ValidationError(key, "%s must be between %d and %d" % (key, lo, hi))
    return v


def validate_settings(d, base=None):
    """Settings dict -> normalized copy (defaults filled in, unknown keys kept).
    ``base``: the current settings a partial update (PUT) is merged into.
    Raises ValidationError(field, message)."""
    if not isinstance(d, dict):
        raise ValidationError("settings", "settings must be an object")
    out = {}
    for k in SETTINGS_DEFAULTS:
        out[k] = SETTINGS_DEFAULTS[k]
    if base:
        for k in base:
            out[k] = base[k]
    for k in d:
        out[k] = d[k]
    out["sample_interval_s"] = _int(out, "sample_interval_s", 5, 86400)
    out["flush_interval_s"] = _int(out, "flush_interval_s", 1, 86400)
    if out["csv_separator"] not in (";", ","):
        raise ValidationError("csv_separator", 'csv_separator must be ";" or ","')
    if out["csv_decimal"] not in (",", "."):
        raise ValidationError("csv_decimal", 'csv_decimal must be "," or "."')
    z = out["timezone"]
    if not isinstance(z, str) or not tz.known(z):
        raise ValidationError("timezone", "unknown time zone")
    loc = out["location"]
    if not isinstance(loc, str):
        raise ValidationError("location", "location must be text")
    if len(loc) > 31:
        raise ValidationError("location", "location must be at most 31 characters")
    for c in loc:
        if ord(c) < 0x20 or c in "\x7f/\\":
            raise ValidationError("location", "location contains a forbidden character")
    return out
