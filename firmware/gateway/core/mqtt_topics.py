"""The gateway's MQTT topic names, shared by services/uplink.py (resident while the uplink runs)
and core/ha_discovery.py (loaded only to announce Home Assistant discovery).

``<base>`` is the configured base_topic; a meter id becomes one topic level through safe().
"""

DEFAULT_PREFIX = "homeassistant"  # Home Assistant's discovery prefix


def safe(text):
    """Characters HA allows in node_id/object_id: [a-zA-Z0-9_-]; anything else becomes '_'."""
    out = []
    for ch in str(text):
        ok = ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9") or ch in "_-"
        out.append(ch if ok else "_")
    return "".join(out) or "_"


def node_id(serial):
    """The gateway's node_id (also its HA device identifier): ``dingate_<serial>``."""
    return "dingate_" + safe(serial)


def meter_topic(base, meter_id, leaf):
    """``<base>/meter/<id>/<leaf>`` (leaf: state, status or sample)."""
    return "%s/meter/%s/%s" % (base, safe(meter_id), leaf)


def availability_topic(base):
    return base + "/status"


def genset_state_topic(base):
    return base + "/genset/state"


def genset_command_topic(base):
    return base + "/cmd/genset/mode"


def output_state_topic(base, output_id):
    """``<base>/output/<id>/state``: a plain relay output's state (retained JSON)."""
    return "%s/output/%s/state" % (base, safe(output_id))


def output_command_topic(base, output_id):
    """``<base>/cmd/output/<id>/set``: ON/OFF (services/mqtt_commands.py)."""
    return "%s/cmd/output/%s/set" % (base, safe(output_id))
