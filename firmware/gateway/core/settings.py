"""The device settings document: defaults and validation (configuration time only).

Nothing imports this module at module level: callers go through gateway.core.ondemand, e.g.
``ondemand.call("gateway.core.settings", "validate_settings", data, current)``, so it is on the
heap only while a settings document is being checked (boot, PUT /api/settings).
"""

from gateway.core import check, tz
from gateway.core.errors import ValidationError

SETTINGS_DEFAULTS = {
    "sample_interval_s": 600,
    "flush_interval_s": 60,
    "csv_separator": ";",
    "csv_decimal": ",",
    "timezone": tz.DEFAULT,
    "location": "",
    "ntp_server": "pool.ntp.org",  # "" = no NTP; "host" or "host:port" (IPv4 or a name)
    "language": "en",  # of the texts the device writes itself (inverter alarms in the event log)
    "http_port": 0,  # the page on this TCP port too (a router's port forwarding); 0 = none
    "host_name": "",  # a DNS name the page is also reached by (dynamic DNS), trusted as an Origin
}
LANGUAGES = ("en", "fr", "nl")




def _ntp_server(v):
    """"" (off), "host" or "host:port": a DNS name or an IPv4 address (the ESP32 has no IPv6)."""
    if not isinstance(v, str):
        raise ValidationError("ntp_server", "ntp_server must be text", "format")
    v = v.strip()
    if not v:
        return v
    if len(v) > 253:
        raise ValidationError("ntp_server", "ntp_server must be at most 253 characters",
                              "maxlen", {"max": 253})
    host, sep, port = v.partition(":")
    if sep:
        if not port.isdigit() or len(port) > 5 or not 0 < int(port) < 65536:
            raise ValidationError("ntp_server", "the port must be a number from 1 to 65535",
                                  "range", {"min": 1, "max": 65535})
    if not _host_ok(host):
        raise ValidationError("ntp_server",
                              "not a host name or IPv4 address (host or host:port)", "host")
    return v


def _host_ok(host):
    """A DNS name or IPv4 address: dot-separated labels each _label_ok."""
    for label in host.split("."):
        if not _label_ok(label):
            return False
    return True


def _label_ok(label):
    """One dot-separated part of a host name or IPv4 address: 1-63 of a-z, 0-9, "-" (not first
    or last)."""
    if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
        return False
    for c in label:
        if not ("a" <= c.lower() <= "z" or "0" <= c <= "9" or c == "-"):
            return False
    return True


def validate_settings(d, base=None):
    """Settings dict -> normalized copy (defaults filled in).
    ``base``: the current settings a partial update (PUT) is merged into; its unknown keys
    (a document stored by an older firmware) are dropped, while an unknown key in ``d`` is
    refused: the document holds only what the device knows, so it stays small.
    Raises ValidationError(field, message)."""
    if not isinstance(d, dict):
        raise ValidationError("settings", "settings must be an object", "format")
    for k in d:
        if k not in SETTINGS_DEFAULTS:
            raise ValidationError(str(k)[:40], "unknown setting", "unknown")
    out = {}
    for k in SETTINGS_DEFAULTS:
        out[k] = SETTINGS_DEFAULTS[k]
    if isinstance(base, dict):
        for k in base:
            if k in SETTINGS_DEFAULTS:
                out[k] = base[k]
    for k in d:
        out[k] = d[k]
    out["sample_interval_s"] = check.integer("sample_interval_s", out["sample_interval_s"], 5, 86400)
    out["flush_interval_s"] = check.integer("flush_interval_s", out["flush_interval_s"], 1, 86400)
    if out["csv_separator"] not in (";", ","):
        raise ValidationError("csv_separator", 'csv_separator must be ";" or ","', "choice",
                              {"choices": "; ,"})
    if out["csv_decimal"] not in (",", "."):
        raise ValidationError("csv_decimal", 'csv_decimal must be "," or "."', "choice",
                              {"choices": ", ."})
    z = out["timezone"]
    if not isinstance(z, str) or not tz.known(z):
        raise ValidationError("timezone", "unknown time zone", "unknown")
    loc = out["location"]
    if not isinstance(loc, str):
        raise ValidationError("location", "location must be text", "format")
    if len(loc) > 31:
        raise ValidationError("location", "location must be at most 31 characters",
                              "maxlen", {"max": 31})
    for c in loc:
        if ord(c) < 0x20 or c in "\x7f/\\":
            raise ValidationError("location", "location contains a forbidden character", "format")
    out["ntp_server"] = _ntp_server(out["ntp_server"])
    out["language"] = check.choice("language", out["language"], LANGUAGES)
    out["http_port"] = check.integer("http_port", out["http_port"], 0, 65535)
    out["host_name"] = _host_name(out["host_name"])
    return out


def _host_name(v):
    """"" or a DNS name (lower case): the page's address from outside (a router's port
    forwarding to a dynamic-DNS name), whatever port it uses there."""
    if not isinstance(v, str):
        raise ValidationError("host_name", "host_name must be text", "format")
    v = v.strip().lower()
    if len(v) > 253:
        raise ValidationError("host_name", "host_name must be at most 253 characters",
                              "maxlen", {"max": 253})
    if v and not _host_ok(v):
        raise ValidationError("host_name", "not a host name", "host")
    return v


def check_port_free(port, taken):
    """Settings "http_port" against the TCP ports the gateway already listens on."""
    if port and port in taken:
        raise ValidationError("http_port", "port %d is already used by the gateway" % port,
                              "unique")
