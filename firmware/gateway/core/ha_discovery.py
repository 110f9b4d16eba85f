"""Home Assistant MQTT discovery configs for one gateway.

Schema: https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery and the ``sensor``,
``select`` and ``binary_sensor`` MQTT platform pages; every key below is the documented full
name (no abbreviations).

* One HA device per gateway: ``identifiers`` [node_id], name, manufacturer "dingate", model,
  sw_version (the same ``device`` block in every config links the entities to it).
* Per meter and quantity a ``sensor``: state from the live JSON state topic
  ``<base>/meter/<id>/state`` through ``value_template``; energy counters are
  ``device_class: energy`` + ``state_class: total_increasing`` + kWh (Energy dashboard).
  Classes, unit and ``suggested_display_precision`` (the catalogued ``decimals``) come from
  core/quantities.py; tests/integration/test_ha_schemas.py validates every config with HA's
  own MQTT discovery schemas and sensor unit/state-class tables.
  A meter with ``import_kwh`` also has its month's quarter-hour peak (``<base>/meter/<id>/peak``,
  retained: core/demand.py), a ``power`` sensor in kW.
  Plus one diagnostic ``enum`` sensor per meter for its link status
  (``<base>/meter/<id>/status``: ok|offline|error|disabled). A meter reporting ``alarms``
  (an inverter with fault registers) has a ``binary_sensor`` (``device_class: problem``) instead.
* The genset: a ``select`` (auto/on/off, command topic ``<base>/cmd/genset/mode``), a
  ``binary_sensor`` (``device_class: running``) for the relay and a diagnostic one
  (``device_class: problem``) for its service falling due, all from ``<base>/genset/state``.
* Each configured plain relay output: a ``switch`` (``<base>/output/<id>/state``, command topic
  ``<base>/cmd/output/<id>/set``, payloads ON/OFF), object id ``out_<id>``.
* Availability: every entity follows ``<base>/status`` (online/offline, retained, last will);
  meter sensors also follow their meter's status (``availability_mode: all``).

Config topics are ``<prefix>/<component>/<node_id>/<object_id>/config``, published retained;
an empty retained payload on the same topic deletes the entity. Builders are generators of
``(topic, payload_bytes)`` so only one payload exists at a time. :func:`index` / :func:`stale`
tell which configs announced earlier must be deleted (meters removed, discovery off).

A *meter* here is a dict with at least ``id`` and ``name`` and ``quantities``: a list of quantity
names or ``(quantity, unit)`` pairs (a generic register's own unit).
"""
import json

from gateway.core.mqtt_topics import (  # noqa: F401  (re-exported: the topic names are here too)
    DEFAULT_PREFIX,
    availability_topic,
    genset_command_topic,
    genset_state_topic,
    meter_topic,
    node_id,
    output_command_topic,
    output_state_topic,
)
from gateway.core.mqtt_topics import safe as _safe
from gateway.core.quantities import decimals, ha_spec, is_counter

MANUFACTURER = "dingate"
DEFAULT_MODEL = "DIN-rail energy gateway"
METER_STATUSES = ("ok", "partial", "offline", "error", "disabled")
GENSET_MODES = ("auto", "on", "off")
PROBLEM = "alarms"  # the quantity announced as a binary_sensor (device_class problem)
ENERGY_UNITS = ("Wh", "kWh", "MWh")
PEAK = "month_peak"  # the object id's suffix of a meter's quarter-hour peak sensor


def spec(quantity):
    """(entity name, device_class, state_class, unit) of a catalogued quantity, else None."""
    return ha_spec(quantity)


def device(serial, sw_version, model=DEFAULT_MODEL, name=None, configuration_url=None):
    """The HA ``device`` block shared by all entities of this gateway."""
    d = {
        "identifiers": [node_id(serial)],
        "name": name or ("dingate " + str(serial)),
        "manufacturer": MANUFACTURER,
        "model": model,
        "sw_version": str(sw_version),
    }
    if configuration_url:
        d["configuration_url"] = configuration_url
    return d


def topic_id(meter_id):
    """A meter id as one topic level: characters other than [a-zA-Z0-9_-] become '_'."""
    return _safe(meter_id)


def state_topic(base, meter_id):
    return meter_topic(base, meter_id, "state")


def status_topic(base, meter_id):
    return meter_topic(base, meter_id, "status")


def _gateway_availability(base):
    return {"topic": availability_topic(base), "payload_available": "online",
            "payload_not_available": "offline"}


def _common(base, dev, sw_version, uid, name):
    return {
        "name": name,
        "unique_id": uid,
        "availability": [_gateway_availability(base)],
        "device": dev,
        "origin": {"name": MANUFACTURER, "sw_version": str(sw_version)},
    }


def _quantity(q):
    """A quantities entry -> (name, unit or None)."""
    if isinstance(q, (tuple, list)):
        return q[0], (q[1] if len(q) > 1 else None)
    return q, None


def _meter_objects(meter):
    """(component, object_id, quantity or None) of every entity of a meter."""
    mid = "m" + _safe(meter["id"])
    for q in meter.get("quantities") or ():
        name, _ = _quantity(q)
        yield ("binary_sensor" if name == PROBLEM else "sensor"), mid + "_" + _safe(name), name
    if _has_peak(meter):
        yield "sensor", mid + "_" + PEAK, None
    yield "sensor", mid + "_meter_status", None


def _has_peak(meter):
    for q in meter.get("quantities") or ():
        if _quantity(q)[0] == "import_kwh":
            return True
    return False


def _topic(prefix, component, node, obj):
    return "%s/%s/%s/%s/config" % (prefix, component, node, obj)


def sensor_config(base, dev, sw_version, node, meter, quantity, unit=None):
    """Config dict of one meter quantity sensor."""
    mid = str(meter["id"])
    sp = spec(quantity)
    label, dclass, sclass, spec_unit = sp or _generic_spec(quantity, unit)
    cfg = _common(base, dev, sw_version,
                  "%s_m%s_%s" % (node, _safe(mid), _safe(quantity)),
                  "%s %s" % (meter.get("name") or ("meter " + mid), label))
    cfg["availability"].append({
        "topic": status_topic(base, mid),
        "payload_available": "ok",
        "payload_not_available": "offline",
        "value_template": "{{ 'ok' if value == 'ok' else 'offline' }}",
    })
    cfg["availability_mode"] = "all"
    cfg["state_topic"] = state_topic(base, mid)
    cfg["value_template"] = "{{ value_json.%s }}" % quantity
    if dclass:
        cfg["device_class"] = dclass
    if sclass:  # none for a state code (inverter_state): no statistics of its mean
        cfg["state_class"] = sclass
    u = spec_unit if sp else unit
    if u:
        cfg["unit_of_measurement"] = u
    cfg["suggested_display_precision"] = decimals(quantity)
    return cfg


def _generic_spec(quantity, unit):
    """HA classes of a quantity the catalogue does not hold (a generic register's own name):
    a counter (``_kwh``, ``_m3``, ...) is ``total_increasing``, an energy one in Wh/kWh/MWh
    also ``device_class: energy`` (usable by the Energy dashboard)."""
    label = quantity.replace("_", " ")
    if not is_counter(quantity):
        return label, None, "measurement", None
    return label, ("energy" if unit in ENERGY_UNITS else None), "total_increasing", None


def problem_config(base, dev, sw_version, node, meter):
    """Config dict of a meter's "problem" binary sensor: on while the device reports alarms
    (the quantity ``alarms``, the count of active inverter alarms: core/alarms.py)."""
    cfg = sensor_config(base, dev, sw_version, node, meter, PROBLEM)
    cfg.pop("state_class", None)
    del cfg["suggested_display_precision"]
    cfg["device_class"] = "problem"
    cfg["value_template"] = "{{ 'ON' if (value_json.%s | int(0)) > 0 else 'OFF' }}" % PROBLEM
    cfg["payload_on"] = "ON"
    cfg["payload_off"] = "OFF"
    return cfg


def meter_status_config(base, dev, sw_version, node, meter):
    """Config dict of a meter's diagnostic link-status enum sensor."""
    mid = str(meter["id"])
    cfg = _common(base, dev, sw_version, "%s_m%s_meter_status" % (node, _safe(mid)),
                  "%s status" % (meter.get("name") or ("meter " + mid)))
    cfg["state_topic"] = status_topic(base, mid)
    cfg["device_class"] = "enum"
    cfg["options"] = list(METER_STATUSES)
    cfg["entity_category"] = "diagnostic"
    return cfg


def peak_config(base, dev, sw_version, node, meter):
    """Config dict of a meter's month's quarter-hour peak (highest 15-minute average import):
    kept while the meter is silent (it is a month's figure), so only the gateway's availability."""
    mid = str(meter["id"])
    cfg = _common(base, dev, sw_version, "%s_m%s_%s" % (node, _safe(mid), PEAK),
                  "%s monthly peak (15 min)" % (meter.get("name") or ("meter " + mid)))
    cfg["state_topic"] = meter_topic(base, mid, "peak")
    cfg["value_template"] = "{{ value_json.kw }}"
    cfg["json_attributes_topic"] = cfg["state_topic"]  # its month and quarter (ts)
    cfg["device_class"] = "power"
    cfg["state_class"] = "measurement"
    cfg["unit_of_measurement"] = "kW"
    cfg["suggested_display_precision"] = 2
    return cfg


def _dump(cfg):
    return json.dumps(cfg).encode()


def meter_configs(base, dev, sw_version, meter, prefix=DEFAULT_PREFIX):
    """Generator of (topic, payload) for every entity of one meter."""
    node = dev["identifiers"][0]
    for q in meter.get("quantities") or ():
        name, unit = _quantity(q)
        if name == PROBLEM:
            yield (_topic(prefix, "binary_sensor", node, "m%s_%s" % (_safe(meter["id"]), name)),
                   _dump(problem_config(base, dev, sw_version, node, meter)))
            continue
        yield (_topic(prefix, "sensor", node, "m%s_%s" % (_safe(meter["id"]), _safe(name))),
               _dump(sensor_config(base, dev, sw_version, node, meter, name, unit)))
    if _has_peak(meter):
        yield (_topic(prefix, "sensor", node, "m%s_%s" % (_safe(meter["id"]), PEAK)),
               _dump(peak_config(base, dev, sw_version, node, meter)))
    yield (_topic(prefix, "sensor", node, "m%s_meter_status" % _safe(meter["id"])),
           _dump(meter_status_config(base, dev, sw_version, node, meter)))


def genset_select_config(base, dev, sw_version, node):
    cfg = _common(base, dev, sw_version, node + "_genset_mode", "genset mode")
    cfg["command_topic"] = genset_command_topic(base)
    cfg["state_topic"] = genset_state_topic(base)
    cfg["value_template"] = "{{ value_json.mode }}"
    cfg["options"] = list(GENSET_MODES)
    return cfg


def genset_relay_config(base, dev, sw_version, node):
    cfg = _common(base, dev, sw_version, node + "_genset_relay", "genset relay")
    cfg["state_topic"] = genset_state_topic(base)
    cfg["value_template"] = "{{ 'ON' if value_json.relay else 'OFF' }}"
    cfg["payload_on"] = "ON"
    cfg["payload_off"] = "OFF"
    cfg["device_class"] = "running"
    return cfg


def genset_service_config(base, dev, sw_version, node):
    cfg = _common(base, dev, sw_version, node + "_genset_service", "genset service due")
    cfg["state_topic"] = genset_state_topic(base)
    cfg["value_template"] = "{{ 'ON' if value_json.service_due else 'OFF' }}"  # no interval: OFF
    cfg["payload_on"] = "ON"
    cfg["payload_off"] = "OFF"
    cfg["device_class"] = "problem"
    cfg["entity_category"] = "diagnostic"
    return cfg


# the genset's entities: (component, object id, builder)
GENSET = (("select", "genset_mode", genset_select_config),
          ("binary_sensor", "genset_relay", genset_relay_config),
          ("binary_sensor", "genset_service", genset_service_config))


def genset_configs(base, dev, sw_version, prefix=DEFAULT_PREFIX):
    node = dev["identifiers"][0]
    for comp, obj, build in GENSET:
        yield _topic(prefix, comp, node, obj), _dump(build(base, dev, sw_version, node))


def output_switch_config(base, dev, sw_version, node, output):
    """Config dict of a plain relay output's switch (``output``: {"id", "name"})."""
    oid = str(output["id"])
    cfg = _common(base, dev, sw_version, "%s_out_%s" % (node, _safe(oid)),
                  output.get("name") or oid)
    cfg["command_topic"] = output_command_topic(base, oid)
    cfg["state_topic"] = output_state_topic(base, oid)
    cfg["value_template"] = "{{ 'ON' if value_json.on else 'OFF' }}"
    cfg["payload_on"] = "ON"
    cfg["payload_off"] = "OFF"
    cfg["device_class"] = "switch"
    return cfg


def _output_topic(prefix, node, oid):
    return _topic(prefix, "switch", node, "out_" + _safe(oid))


def configs(base, dev, sw_version, meters, prefix=DEFAULT_PREFIX, genset=True, outputs=()):
    """Generator of (topic, payload) for the whole gateway: genset first, then the plain
    outputs, then each meter."""
    if genset:
        for item in genset_configs(base, dev, sw_version, prefix):
            yield item
    node = dev["identifiers"][0]
    for o in outputs:
        yield (_output_topic(prefix, node, o["id"]),
               _dump(output_switch_config(base, dev, sw_version, node, o)))
    for m in meters:
        for item in meter_configs(base, dev, sw_version, m, prefix):
            yield item


def topics(node, meters, prefix=DEFAULT_PREFIX, genset=True, outputs=()):
    """Generator of the config topics :func:`configs` would publish (no payloads built)."""
    if genset:
        for comp, obj, _ in GENSET:
            yield _topic(prefix, comp, node, obj)
    for o in outputs:
        yield _output_topic(prefix, node, o["id"])
    for m in meters:
        for comp, obj, _ in _meter_objects(m):
            yield _topic(prefix, comp, node, obj)


def removals(node, meter, prefix=DEFAULT_PREFIX):
    """(topic, b"") pairs that delete a meter's entities (publish them retained)."""
    for comp, obj, _ in _meter_objects(meter):
        yield _topic(prefix, comp, node, obj), b""


def node_filter(node, prefix=DEFAULT_PREFIX):
    """Subscription filter that matches every config topic of this gateway."""
    return "%s/+/%s/+/config" % (prefix, node)


def is_wanted(topic, node, meters, prefix=DEFAULT_PREFIX, genset=True):
    """True if ``topic`` is one of the configs the gateway publishes now."""
    for t in topics(node, meters, prefix, genset):
        if t == topic:
            return True
    return False


# ---------------------------------------------------------------- what was published
#
# The gateway keeps a small retained *index* of what it announced (on <base>/discovery):
# {"genset": bool, "meters": {"<id>": "<quantity> <quantity> ..."}, "outputs": ["<id>", ...]}.
# At the next announcement the difference old -> new gives the configs to delete (meters
# removed, quantities dropped, or everything when discovery is switched off), without
# subscribing to every config. A meter's quantities are one string (32 meters' index parsed
# back is 32 strings, not 500); a list (the index of earlier versions) is read as well.


def index(meters, genset=True, outputs=()):
    """Index of the configs :func:`configs` publishes for ``meters`` (and ``outputs``)."""
    out = {}
    for m in meters:
        out[str(m["id"])] = " ".join(_quantity(q)[0] for q in (m.get("quantities") or ()))
    d = {"genset": bool(genset), "meters": out}
    if outputs:
        d["outputs"] = [str(o["id"]) for o in outputs]
    return d


def _index_meters(idx):
    ms = (idx or {}).get("meters") or {}
    return ms if isinstance(ms, dict) else {}


def _names(entry):
    """A meter's quantities in an index: "a b c" (or ["a", "b", "c"], earlier versions)."""
    if isinstance(entry, str):
        return entry.split()
    return [q for q in (entry or ()) if isinstance(q, str)] if isinstance(entry, list) else []


def stale(old, new, node, prefix=DEFAULT_PREFIX):
    """Generator of config topics present in index ``old`` but not in ``new`` (new may be None:
    everything is stale). Publish b"" retained on each to delete the entities."""
    if not isinstance(old, dict):
        return
    new = new if isinstance(new, dict) else {}
    if old.get("genset") and not new.get("genset"):
        for comp, obj, _ in GENSET:
            yield _topic(prefix, comp, node, obj)
    new_outs = new.get("outputs") or ()
    for oid in old.get("outputs") or ():
        if isinstance(oid, str) and oid not in new_outs:
            yield _output_topic(prefix, node, oid)
    new_ms = _index_meters(new)
    old_ms = _index_meters(old)
    for mid in old_ms:
        qs = _names(old_ms[mid])
        if mid in new_ms:
            keep = _names(new_ms[mid])
            qs = [q for q in qs if q not in keep]
            meter = {"id": mid, "quantities": qs}
            for comp, obj, q in _meter_objects(meter):
                if q is not None:
                    yield _topic(prefix, comp, node, obj)
        else:
            for comp, obj, _ in _meter_objects({"id": mid, "quantities": qs}):
                yield _topic(prefix, comp, node, obj)
