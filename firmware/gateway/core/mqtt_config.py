"""MQTT uplink settings: defaults, validation of GET|PUT /api/mqtt, the public (secret-free) view.

A stored config is a plain dict with every key of :data:`KEYS`. ``validate(update, stored,
serial)`` returns the new stored dict (nothing is mutated) or raises
``ValidationError(field, message)``. PUT is a partial update: absent keys keep their stored
value. The password is write-only: :func:`public_view` never returns it (only
``password_set``), and an absent, ``null`` or empty password keeps the stored one, unless the
request changes ``host`` or ``port``: the stored password is then dropped (it is sent only to the
broker it was given for). Setting ``user`` to "" drops the password too (no authentication).
"""
from gateway.core import check
from gateway.core.errors import ValidationError

DEFAULT_PORT = 1883
KEYS = ("enabled", "host", "port", "user", "password", "tls", "tls_verify", "ca",
        "base_topic", "discovery", "discovery_prefix", "client_id", "keepalive",
        "clean_session", "live_interval_s")
# Keys GET returns that a client may send back unchanged in a PUT; ignored.
READ_ONLY = ("password_set", "status")

MAX_HOST = 253
MAX_USER = 128
MAX_PASSWORD = 256
MAX_TOPIC = 128
MAX_CLIENT_ID = 64
MAX_CA = 8192


def default_base_topic(serial):
    return "dingate/" + _sanitize(serial)


def default_client_id(serial):
    return "dingate-" + _sanitize(serial)


def _sanitize(serial):
    out = []
    for ch in str(serial or "gateway"):
        out.append(ch if _id_char(ch) else "_")
    return "".join(out)[:40] or "gateway"


def _id_char(ch):
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9") or ch in "-_."


def defaults(serial=""):
    """A complete stored config with every default (uplink enabled, no host yet)."""
    return {
        "enabled": True,
        "host": "",
        "port": DEFAULT_PORT,
        "user": "",
        "password": "",
        "tls": False,
        "tls_verify": True,
        "ca": "",
        "base_topic": default_base_topic(serial),
        "discovery": True,
        "discovery_prefix": "homeassistant",
        "client_id": default_client_id(serial),
        "keepalive": 60,
        "clean_session": False,
        "live_interval_s": 10,
    }


def public_view(cfg):
    """What GET /api/mqtt returns: everything but the password, plus ``password_set``."""
    out = {}
    for k in KEYS:
        if k != "password" and k in cfg:
            out[k] = cfg[k]
    out["password_set"] = bool(cfg.get("password"))
    return out


def is_active(cfg):
    """True when the uplink should run: enabled and a broker host is set. A document without
    "enabled" is enabled: the default (``defaults()``), the one rule for every caller."""
    return cfg.get("enabled", True) is not False and bool(cfg.get("host"))


# ------------------------------------------------------------------ field checks








def _host(v):
    v = check.text("host", v, MAX_HOST, none_ok=True).strip()
    if not v:
        return v
    if "://" in v:
        raise ValidationError("host", "give the host name only, without a scheme", "host")
    if v[0] == "[" and v[-1] == "]":
        v = v[1:-1]
    if ":" in v:  # IPv6 literal
        for ch in v:
            if not (("0" <= ch <= "9") or ("a" <= ch.lower() <= "f") or ch in ":."):
                raise ValidationError("host", "not a valid IPv6 address (the port goes in 'port')",
                                      "host")
        if v.count(":") < 2:
            raise ValidationError("host", "give the port in 'port', not in the host", "host")
        return v
    for label in v.split("."):
        if not label or len(label) > 63:
            raise ValidationError("host", "not a valid host name or address", "host")
        if label[0] == "-" or label[-1] == "-":
            raise ValidationError("host", "a host name label cannot start or end with '-'", "host")
        for ch in label:
            if not (("a" <= ch.lower() <= "z") or ("0" <= ch <= "9") or ch in "-_"):
                raise ValidationError("host", "not a valid host name or address", "host")
    return v


def validate_topic_prefix(field, v, allow_empty=False):
    """A topic used as a prefix: no wildcards, no '$' start, no empty level, no trailing '/'."""
    v = check.text(field, v, MAX_TOPIC, 0 if allow_empty else 1, none_ok=True)
    if not v:
        return v
    if "+" in v or "#" in v:
        raise ValidationError(field, "must not contain the wildcards + or #", "format")
    if v[0] == "$":
        raise ValidationError(field, "must not start with '$'", "format")
    if v[0] == "/" or v[-1] == "/" or "//" in v:
        raise ValidationError(field, "must not start or end with '/' or have an empty level",
                              "format")
    if " " in v:
        raise ValidationError(field, "must not contain spaces", "format")
    return v


def _client_id(v):
    v = check.text("client_id", v, MAX_CLIENT_ID, none_ok=True)
    for ch in v:
        if not _id_char(ch):
            raise ValidationError("client_id", "use letters, digits, '-', '_' or '.' only",
                                  "chars", {"chars": "A-Z a-z 0-9 - _ ."})
    return v


# ------------------------------------------------------------------ validate


def validate(update, stored=None, serial=""):
    """Apply the PUT body ``update`` to ``stored`` (defaults if None) -> new stored config.

    Unknown keys are refused (a typo must not pass silently), except the read-only keys of
    :func:`public_view` which are ignored so a client can send back what it got.
    """
    check.obj("", update)
    base = defaults(serial)
    if stored:
        for k in KEYS:
            if k in stored:
                base[k] = stored[k]
    cfg = dict(base)
    check.known_keys(update, KEYS + READ_ONLY)
    u = update
    if "enabled" in u:
        cfg["enabled"] = check.boolean("enabled", u["enabled"])
    if "host" in u:
        cfg["host"] = _host(u["host"])
    if "port" in u:
        cfg["port"] = DEFAULT_PORT if u["port"] in (None, "") else check.integer("port", u["port"], 1, 65535, text=True)
    if "user" in u:
        cfg["user"] = check.text("user", u["user"], MAX_USER, none_ok=True)
        if not cfg["user"]:
            cfg["password"] = ""
    if cfg["host"] != base["host"] or cfg["port"] != base["port"]:
        # the password belongs to the broker it was given for: a new destination gets it only
        # when the same request sets it again (else an installer could redirect it to himself)
        cfg["password"] = ""
    if "password" in u and u["password"] not in (None, ""):
        if not cfg["user"]:
            raise ValidationError("password", "a password needs a user name",
                                  "needs", {"other": "user"})
        cfg["password"] = check.text("password", u["password"], MAX_PASSWORD, none_ok=True)
    if "tls" in u:
        cfg["tls"] = check.boolean("tls", u["tls"])
    if "tls_verify" in u:
        cfg["tls_verify"] = check.boolean("tls_verify", u["tls_verify"])
    if "ca" in u:
        ca = u["ca"] if u["ca"] is not None else ""
        if not isinstance(ca, str):
            raise ValidationError("ca", "must be a PEM text", "format")
        if len(ca) > MAX_CA:
            raise ValidationError("ca", "must be at most %d characters" % MAX_CA,
                                  "maxlen", {"max": MAX_CA})
        ca = ca.strip()
        if ca and "-----BEGIN CERTIFICATE-----" not in ca:
            raise ValidationError("ca", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
                                  "format")
        cfg["ca"] = ca
    if "base_topic" in u:
        t = validate_topic_prefix("base_topic", u["base_topic"], allow_empty=True)
        cfg["base_topic"] = t or default_base_topic(serial)
    if "discovery" in u:
        cfg["discovery"] = check.boolean("discovery", u["discovery"])
    if "discovery_prefix" in u:
        t = validate_topic_prefix("discovery_prefix", u["discovery_prefix"], allow_empty=True)
        cfg["discovery_prefix"] = t or "homeassistant"
    if "client_id" in u:
        cfg["client_id"] = _client_id(u["client_id"]) or default_client_id(serial)
    if "keepalive" in u:
        cfg["keepalive"] = check.integer("keepalive", u["keepalive"], 5, 3600, text=True)
    if "clean_session" in u:
        cfg["clean_session"] = check.boolean("clean_session", u["clean_session"])
    if "live_interval_s" in u:
        cfg["live_interval_s"] = check.integer("live_interval_s", u["live_interval_s"], 0, 86400, text=True)
    return cfg
