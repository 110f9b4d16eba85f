"""Scenario files: the emulated world `dingate emulate --scenario FILE` runs.

A scenario is a JSON object::

    {
      "devices": [                                   # the emulated RS485 devices (see devices/)
        {"type": "sdm630", "address": 1, "name": "Main meter"},
        {"type": "sdm120", "address": 2, "profile": "pv", "peak_w": 3000},
        {"type": "battery", "address": 10, "soc_start": 35, "load_w": 900, "charge_w": 3500},
        {"type": "generic", "address": 20, "silent": true}
      ],
      "line": {"baud": 9600, "parity": "N", "stop": 1},   # the devices' side of the bus
      "wifi": {"networks": [{"ssid": "Home", "rssi": -55, "password": "pw"}]},
      "time_scale": 1.0,                             # simulated seconds per real second
      "seed": 1,                                     # random noise and fault draws
      "start_time": 1767225600,                      # optional: simulated epoch at start
      "setup": {                                     # optional: a new device's configuration
        "settings": {"location": "Demo site"},       #   PUT /api/settings
        "meters": [{"name": "Battery", "address": 10, "profile": "generic", ...}],  # POSTed
        "genset": {"mode": "auto", "soc_source": {"meter": "Battery"}},  # PUT /api/genset
        "mqtt": {...}                                #   PUT /api/mqtt
      }
    }

The setup is applied through the HTTP API as an installer would, the first time a new device
boots (emulator/setup_api.py). The generator's ``soc_source.meter`` and ``voltage.meter`` may
name a meter of the setup: the device's id for it is sent.

Every device takes the fault keys ``turnaround_ms``, ``slow``, ``silent``, ``flap``,
``crc_error_rate`` and ``noise_rate`` (see ``FAULT_KEYS``).  Unknown top-level sections
(``wifi``, and whatever the rest of the emulator consumes) are kept as plain dicts in
``Scenario.sections``.  Every error is a :class:`ScenarioError` naming the field, e.g.
``demo.json: devices[2].address: must be an integer 1..247, got 300``.
"""

from __future__ import annotations

import json
import math
import os

from .devices.codec import RANGES, register_count

DEVICE_TYPES = ("sdm630", "sdm630mct", "sdm120", "battery", "generic")
PARITIES = ("N", "E", "O")
VALUE_TYPES = ("u16", "s16", "u32", "s32", "u64", "f32")
WORD_ORDERS = ("big", "little")
METER_PROFILES = ("load", "pv", "constant")

# keys every device takes
COMMON_KEYS = ("type", "address", "name", "comment", "description")
FAULT_KEYS = ("turnaround_ms", "slow", "silent", "flap", "crc_error_rate", "noise_rate")
# keys per device type (besides COMMON_KEYS and FAULT_KEYS)
TYPE_KEYS = {
    "sdm630": ("profile", "power_w", "base_w", "peak_w", "noise", "import_kwh", "export_kwh",
               "voltage", "frequency", "power_factor"),
    "sdm120": ("profile", "power_w", "base_w", "peak_w", "noise", "import_kwh", "export_kwh",
               "voltage", "frequency", "power_factor"),
    "battery": ("mode", "soc_start", "soc_profile", "capacity_wh", "load_w", "charge_w",
                "nominal_v", "generator_running"),
    "generic": ("registers", "profile", "power_w", "base_w", "peak_w", "noise", "import_kwh"),
}
TYPE_KEYS["sdm630mct"] = TYPE_KEYS["sdm630"]  # the SDM630's map, its own product code


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``field`` names the offending field ("" for the file)."""

    def __init__(self, field: str, message: str, source: str | None = None):
        self.field = field
        self.source = source
        where = f"{source}: " if source else ""
        where += f"{field}: " if field else ""
        super().__init__(where + message)


class Scenario:
    """A validated scenario.

    devices     list of normalised device dicts (defaults filled in, see ``_device``)
    line        {"baud", "bits", "parity", "stop"} of the devices' side, or None (they follow
                whatever the gateway's UART is set to)
    time_scale  simulated seconds per real second
    seed        integer seed for noise and fault draws
    start_time  simulated epoch at start, or None (wall clock)
    sections    every other top-level key, as plain JSON values (e.g. sections["wifi"])
    raw         the whole document as loaded
    """

    def __init__(self, raw: dict, source: str | None = None):
        self.raw = raw
        self.source = source
        self.devices: list[dict] = []
        self.line: dict | None = None
        self.time_scale = 1.0
        self.seed = 1
        self.start_time: float | None = None
        self.sections: dict = {}

    def get(self, key, default=None):
        """A top-level value of the document (any section, known or not)."""
        return self.raw.get(key, default)

    def __getitem__(self, key):
        return self.raw[key]

    def __contains__(self, key):
        return key in self.raw

    @property
    def wifi(self) -> dict:
        return self.raw.get("wifi") or {"networks": []}

    @property
    def wifi_networks(self) -> list:
        """The scenario's Wi-Fi networks: [{"ssid", "rssi", "password"}, ...]."""
        return list(self.wifi.get("networks") or [])

    def __repr__(self):
        return (f"Scenario({self.source or '<dict>'}: {len(self.devices)} devices, "
                f"line={self.line}, time_scale={self.time_scale})")


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Read and validate a scenario file."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ScenarioError("", f"cannot read: {exc.strerror or exc}", os.path.basename(source))
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError("", f"not valid JSON: {exc.msg} at line {exc.lineno} column "
                                f"{exc.colno}", os.path.basename(source))
    return parse_scenario(raw, source=os.path.basename(source))


load = load_scenario


def parse_scenario(raw, source: str | None = None) -> Scenario:
    """Validate a scenario already loaded as a dict."""
    v = _Validator(source)
    if not isinstance(raw, dict):
        raise ScenarioError("", "the scenario must be a JSON object", source)
    sc = Scenario(raw, source)

    devices = raw.get("devices", [])
    if not isinstance(devices, list):
        v.fail("devices", "must be a list of device objects")
    seen: dict[int, int] = {}
    names: dict[str, int] = {}
    for i, dev in enumerate(devices):
        d = _device(v, f"devices[{i}]", dev)
        if d["address"] in seen:
            v.fail(f"devices[{i}].address",
                   f"address {d['address']} already used by devices[{seen[d['address']]}]")
        seen[d["address"]] = i
        if d["name"] in names:
            v.fail(f"devices[{i}].name",
                   f"name {d['name']!r} already used by devices[{names[d['name']]}]")
        names[d["name"]] = i
        sc.devices.append(d)

    if raw.get("line") is not None:
        sc.line = _line(v, "line", raw["line"])

    if "time_scale" in raw:
        sc.time_scale = v.number("time_scale", raw["time_scale"], lo=0, lo_open=True)
    if "seed" in raw:
        sc.seed = v.integer("seed", raw["seed"])
    if raw.get("start_time") is not None:
        sc.start_time = v.number("start_time", raw["start_time"], lo=0)
    if "wifi" in raw:
        _wifi(v, "wifi", raw["wifi"])

    known = ("devices", "line", "time_scale", "seed", "start_time")
    sc.sections = {k: val for k, val in raw.items() if k not in known}
    return sc


# --------------------------------------------------------------------------- validation


class _Validator:
    def __init__(self, source):
        self.source = source

    def fail(self, field, message):
        raise ScenarioError(field, message, self.source)

    def number(self, field, value, lo=None, hi=None, lo_open=False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            self.fail(field, f"must be a number, got {value!r}")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            self.fail(field, f"must be {'>' if lo_open else '>='} {lo}, got {value!r}")
        if hi is not None and value > hi:
            self.fail(field, f"must be <= {hi}, got {value!r}")
        return float(value)

    def integer(self, field, value, lo=None, hi=None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            rng = f" {lo}..{hi}" if lo is not None and hi is not None else ""
            self.fail(field, f"must be an integer{rng}, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.fail(field, f"must be an integer {lo}..{hi}, got {value!r}")
        return value

    def boolean(self, field, value) -> bool:
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, got {value!r}")
        return value

    def string(self, field, value, min_len=0, max_len=None) -> str:
        if not isinstance(value, str):
            self.fail(field, f"must be a string, got {value!r}")
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            self.fail(field, f"must be {min_len}..{max_len} characters, got {len(value)}")
        return value

    def choice(self, field, value, choices):
        if value not in choices:
            self.fail(field, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    def obj(self, field, value) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"must be an object, got {type(value).__name__}")
        return value


def _line(v: _Validator, field: str, raw) -> dict:
    v.obj(field, raw)
    for k in raw:
        if k not in ("baud", "bits", "parity", "stop"):
            v.fail(f"{field}.{k}", "unknown key (expected baud, bits, parity, stop)")
    return {
        "baud": v.integer(f"{field}.baud", raw.get("baud", 9600), 300, 4_000_000),
        "bits": v.choice(f"{field}.bits", raw.get("bits", 8), (7, 8)),
        "parity": v.choice(f"{field}.parity", raw.get("parity", "N"), PARITIES),
        "stop": v.choice(f"{field}.stop", raw.get("stop", 1), (1, 2)),
    }


def _wifi(v: _Validator, field: str, raw) -> None:
    v.obj(field, raw)
    nets = raw.get("networks", [])
    if not isinstance(nets, list):
        v.fail(f"{field}.networks", "must be a list")
    for i, net in enumerate(nets):
        f = f"{field}.networks[{i}]"
        v.obj(f, net)
        if "ssid" not in net:
            v.fail(f"{f}.ssid", "is required")
        v.string(f"{f}.ssid", net["ssid"], 1, 32)
        if "rssi" in net:
            v.integer(f"{f}.rssi", net["rssi"], -120, 0)
        if net.get("password") is not None:
            v.string(f"{f}.password", net["password"])


def _device(v: _Validator, field: str, raw) -> dict:
    v.obj(field, raw)
    if "type" not in raw:
        v.fail(f"{field}.type", f"is required (one of {', '.join(DEVICE_TYPES)})")
    typ = v.choice(f"{field}.type", raw["type"], DEVICE_TYPES)
    if "address" not in raw:
        v.fail(f"{field}.address", "is required (1..247)")
    allowed = COMMON_KEYS + FAULT_KEYS + TYPE_KEYS[typ]
    for k in raw:
        if k not in allowed and not k.startswith("_"):
            v.fail(f"{field}.{k}", f"unknown key for a {typ} device (allowed: "
                                   f"{', '.join(allowed)})")
    d = dict(raw)
    d["address"] = v.integer(f"{field}.address", raw["address"], 1, 247)
    d["name"] = v.string(f"{field}.name", raw.get("name") or f"{typ}-{d['address']}", 1, 31)

    # faults
    d["turnaround_ms"] = v.number(f"{field}.turnaround_ms", raw.get("turnaround_ms", 3.0), 0,
                                  10_000)
    slow = raw.get("slow", 0)
    if slow is True:
        slow = 200
    d["slow"] = v.number(f"{field}.slow", slow if slow is not False else 0, 0, 60_000)
    d["silent"] = v.boolean(f"{field}.silent", raw.get("silent", False))
    if raw.get("flap") is not None:
        f = v.obj(f"{field}.flap", raw["flap"])
        for k in f:
            if k not in ("period_s", "duty"):
                v.fail(f"{field}.flap.{k}", "unknown key (expected period_s, duty)")
        d["flap"] = {
            "period_s": v.number(f"{field}.flap.period_s", f.get("period_s", 60), 0,
                                 lo_open=True),
            "duty": v.number(f"{field}.flap.duty", f.get("duty", 0.5), 0, 1),
        }
    else:
        d["flap"] = None
    d["crc_error_rate"] = v.number(f"{field}.crc_error_rate", raw.get("crc_error_rate", 0), 0, 1)
    d["noise_rate"] = v.number(f"{field}.noise_rate", raw.get("noise_rate", 0), 0, 1)

    if typ in ("sdm630", "sdm630mct", "sdm120", "generic"):
        _meter_keys(v, field, raw, d, typ)
    if typ == "battery":
        _battery_keys(v, field, raw, d)
    if typ == "generic":
        d["registers"] = _generic_registers(v, f"{field}.registers", raw.get("registers", []))
    return d


def _meter_keys(v, field, raw, d, typ):
    d["profile"] = v.choice(f"{field}.profile", raw.get("profile", "load"), METER_PROFILES)
    three = typ in ("sdm630", "sdm630mct")
    d["peak_w"] = v.number(f"{field}.peak_w", raw.get("peak_w", 6000 if three else 2000), 0,
                           1e6)
    d["base_w"] = v.number(f"{field}.base_w", raw.get("base_w", 400 if three else 150), 0, 1e6)
    d["power_w"] = v.number(f"{field}.power_w", raw.get("power_w", 1000), -1e6, 1e6)
    d["noise"] = v.number(f"{field}.noise", raw.get("noise", 0.03), 0, 1)
    d["import_kwh"] = v.number(f"{field}.import_kwh", raw.get("import_kwh", 0), 0)
    if typ != "generic":
        d["export_kwh"] = v.number(f"{field}.export_kwh", raw.get("export_kwh", 0), 0)
        d["voltage"] = v.number(f"{field}.voltage", raw.get("voltage", 230), 50, 500)
        d["frequency"] = v.number(f"{field}.frequency", raw.get("frequency", 50), 40, 70)
        d["power_factor"] = v.number(f"{field}.power_factor", raw.get("power_factor", 0.95),
                                     0.05, 1)


def _battery_keys(v, field, raw, d):
    mode = raw.get("mode") or ("profile" if raw.get("soc_profile") is not None else "physics")
    d["mode"] = v.choice(f"{field}.mode", mode, ("physics", "profile"))
    d["soc_start"] = v.number(f"{field}.soc_start", raw.get("soc_start", 50), 0, 100)
    d["capacity_wh"] = v.number(f"{field}.capacity_wh", raw.get("capacity_wh", 10_000), 0,
                                1e8, lo_open=True)
    d["load_w"] = v.number(f"{field}.load_w", raw.get("load_w", 800), 0, 30_000)
    d["charge_w"] = v.number(f"{field}.charge_w", raw.get("charge_w", 3000), 0, 30_000)
    d["nominal_v"] = v.number(f"{field}.nominal_v", raw.get("nominal_v", 51.2), 5, 600)
    d["generator_running"] = v.boolean(f"{field}.generator_running",
                                       raw.get("generator_running", False))
    if d["mode"] == "profile":
        prof = raw.get("soc_profile")
        f = f"{field}.soc_profile"
        if not isinstance(prof, list) or not prof:
            v.fail(f, "mode 'profile' needs a non-empty list of [t_s, soc] points")
        pts = []
        last_t = None
        for i, p in enumerate(prof):
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                v.fail(f"{f}[{i}]", f"must be a [t_s, soc] pair, got {p!r}")
            t = v.number(f"{f}[{i}][0]", p[0], 0)
            s = v.number(f"{f}[{i}][1]", p[1], 0, 100)
            if last_t is not None and t <= last_t:
                v.fail(f"{f}[{i}][0]", f"times must increase, {t} after {last_t}")
            last_t = t
            pts.append((t, s))
        d["soc_profile"] = pts
    else:
        if raw.get("soc_profile") is not None:
            v.fail(f"{field}.soc_profile", "only used with mode 'profile'")
        d["soc_profile"] = None


def _generic_registers(v, field, raw) -> list:
    if not isinstance(raw, list):
        v.fail(field, "must be a list of register objects")
    out = []
    used: dict[int, int] = {}
    for i, r in enumerate(raw):
        f = f"{field}[{i}]"
        v.obj(f, r)
        for k in r:
            if k not in ("register", "type", "word_order", "value", "writable", "quantity"):
                v.fail(f"{f}.{k}", "unknown key (expected register, type, word_order, value, "
                                   "writable)")
        reg = r.get("register")
        if isinstance(reg, str):
            try:
                reg = int(reg, 0)
            except ValueError:
                v.fail(f"{f}.register", f"not a register number: {reg!r}")
        reg = v.integer(f"{f}.register", reg, 0, 65535)
        typ = v.choice(f"{f}.type", r.get("type", "u16"), VALUE_TYPES)
        wo = v.choice(f"{f}.word_order", r.get("word_order", "big"), WORD_ORDERS)
        val = v.number(f"{f}.value", r.get("value", 0))
        nregs = register_count(typ)
        if reg + nregs > 65536:
            v.fail(f"{f}.register", "runs past register 65535")
        lo, hi = RANGES[typ]
        if typ != "f32" and val != int(val):
            v.fail(f"{f}.value", f"must be an integer for {typ}, got {r.get('value')!r}")
        if not lo <= val <= hi:
            v.fail(f"{f}.value", f"out of range for {typ}: {r.get('value')!r}")
        for a in range(reg, reg + nregs):
            if a in used:
                v.fail(f"{f}.register", f"register {a} overlaps {field}[{used[a]}]")
            used[a] = i
        out.append({"register": reg, "type": typ, "word_order": wo,
                    "value": r.get("value", 0) if typ != "f32" else val,
                    "writable": v.boolean(f"{f}.writable", r.get("writable", False))})
    return out
