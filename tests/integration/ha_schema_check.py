"""Validate MQTT discovery configs with Home Assistant's own code (run by .venv-ha's python).

    .venv-ha/bin/python tests/integration/ha_schema_check.py configs.json

``configs.json``: ``[[topic, config], ...]``. Each config goes through the platform's
``DISCOVERY_SCHEMA`` (what HA applies to a discovery message: no key may be dropped as unknown)
and ``PLATFORM_SCHEMA_MODERN`` (strict: unknown keys are errors); a sensor's unit and
state_class must be among ``DEVICE_CLASS_UNITS`` / ``DEVICE_CLASS_STATE_CLASSES`` of its
device_class (what HA's sensor entity checks at runtime), a numeric sensor must carry
``suggested_display_precision``, an enum sensor neither unit nor state_class. Keys of later
HA versions (``NEWER_KEYS``) are left out of the strict check. Prints
``{"checked": n, "errors": [...], "version": ...}`` as JSON.
"""
import json
import sys

import voluptuous as vol
from homeassistant.components.binary_sensor import DEVICE_CLASSES_SCHEMA as BINARY_CLASSES
from homeassistant.components.mqtt import binary_sensor, select, sensor, switch
from homeassistant.components.sensor.const import (
    DEVICE_CLASS_STATE_CLASSES,
    DEVICE_CLASS_UNITS,
    SensorDeviceClass,
)
from homeassistant.components.switch import DEVICE_CLASSES_SCHEMA as SWITCH_CLASSES
from homeassistant.const import __version__

PLATFORMS = {"sensor": sensor, "select": select, "binary_sensor": binary_sensor,
             "switch": switch}
# keys later Home Assistant versions read that this one drops (ignored, not refused): a sensor's
# enum ``options`` (HA 2024.9, home-assistant/core pull 123248; device_class enum required)
NEWER_KEYS = {"sensor": ("options",)}


def _sensor_rules(cfg):
    dc = cfg.get("device_class")
    if dc == "enum":
        if "state_class" in cfg or "unit_of_measurement" in cfg:
            yield "enum sensor with a state_class or unit"
        if not cfg.get("options"):
            yield "enum sensor without options"
        return
    if cfg.get("suggested_display_precision") is None:
        yield "numeric sensor without suggested_display_precision"
    if dc is None:
        return
    dclass = SensorDeviceClass(dc)
    units = DEVICE_CLASS_UNITS.get(dclass)
    if units is not None and cfg.get("unit_of_measurement") not in units:
        yield "unit %r is not one of HA's for device_class %s" % (
            cfg.get("unit_of_measurement"), dc)
    states = DEVICE_CLASS_STATE_CLASSES.get(dclass)
    if states is not None and cfg.get("state_class") not in states:
        yield "state_class %r is not allowed for device_class %s" % (cfg.get("state_class"), dc)


def check(topic, cfg):
    comp = topic.split("/")[1]
    mod = PLATFORMS.get(comp)
    if mod is None:
        yield "no MQTT platform %r" % comp
        return
    try:
        kept = mod.DISCOVERY_SCHEMA(dict(cfg))
    except vol.Invalid as e:
        yield "DISCOVERY_SCHEMA: %s" % e
        return
    newer = NEWER_KEYS.get(comp, ())
    dropped = sorted(k for k in set(cfg) - set(kept) if k not in newer)
    if dropped:
        yield "keys HA drops as unknown: %s" % dropped
    try:
        mod.PLATFORM_SCHEMA_MODERN(dict((k, v) for k, v in cfg.items() if k not in newer))
    except vol.Invalid as e:
        yield "PLATFORM_SCHEMA_MODERN: %s" % e
    if comp == "sensor":
        for e in _sensor_rules(cfg):
            yield e
    elif comp in ("binary_sensor", "switch") and "device_class" in cfg:
        try:
            (BINARY_CLASSES if comp == "binary_sensor" else SWITCH_CLASSES)(cfg["device_class"])
        except vol.Invalid as e:
            yield "binary_sensor device_class: %s" % e


def main(path):
    with open(path) as f:
        items = json.load(f)
    errors = []
    for topic, cfg in items:
        for e in check(topic, cfg):
            errors.append("%s: %s" % (topic, e))
    print(json.dumps({"checked": len(items), "errors": errors, "version": __version__}))


if __name__ == "__main__":
    main(sys.argv[1])
