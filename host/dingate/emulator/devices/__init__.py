"""Emulated RS485 devices: the catalogue of device types a scenario names.

Each device is a plain model (values evolving with a simulation clock) plus a pymodbus
``SimDevice`` whose ``action`` hook refreshes the registers from the model on every access, so
the answers on the wire come out of a real pymodbus server (see bus.PymodbusBackend). One job a
module:

    base.py      the common device: address, faults (silent, flap, slow, CRC errors), the
                 model's time steps, the pymodbus hook
    eastron.py   SDM630 / SDM630MCT / SDM120 meters (their register maps in the module docstring)
    battery.py   the battery inverter/charger reporting its state of charge
    generic.py   every data type and word order at documented registers
    codec.py     register encoding (pymodbus's codec: an oracle independent of the firmware)
    clock.py     simulated time (SimClock, ManualClock)
    profiles.py  the daily power curves the meters follow

The names below are this package's interface (bus.py, scenario.py, dingate.testing, the tests).
"""

from __future__ import annotations

from .base import Device
from .battery import Battery
from .clock import ManualClock, SimClock
from .codec import DATATYPES, RANGES, decode_value, encode_value, register_count
from .eastron import SDM120, SDM630, SDM630MCT, EastronMeter
from .generic import GENERIC_FIXED, GenericDevice
from .profiles import daily_power

__all__ = ["DATATYPES", "DEVICE_CLASSES", "GENERIC_FIXED", "RANGES", "SDM120", "SDM630", "SDM630MCT", "Battery",
           "Device", "EastronMeter", "GenericDevice", "ManualClock", "SimClock", "daily_power",
           "decode_value", "devices_from_scenario", "encode_value", "make_device",
           "register_count"]

DEVICE_CLASSES = {"sdm630": SDM630, "sdm630mct": SDM630MCT, "sdm120": SDM120, "battery": Battery,
                  "generic": GenericDevice}


def make_device(spec: dict, clock=None, seed: int = 1, line: dict | None = None) -> Device:
    """One device from a (validated) scenario device dict."""
    return DEVICE_CLASSES[spec["type"]](spec, clock, seed, line)


def devices_from_scenario(scenario, clock=None) -> list[Device]:
    """All devices of a scenario sharing one SimClock (time_scale/start_time of the scenario)."""
    if clock is None:
        clock = SimClock(scenario.time_scale, scenario.start_time)
    return [make_device(d, clock, scenario.seed, scenario.line) for d in scenario.devices]
