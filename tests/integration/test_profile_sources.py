"""The device library against independent implementations (issue 18), row by row.

Where a package on PyPI maps the same device, each row of our profile (register, function, type,
scale, meaning) must be the package's: sdm_modbus (Eastron), huawei-solar (SUN2000),
energymeter (ABB A/B series), growattRS232 (Growatt), solis (Solis hybrid, read through the
package's own code on the same register images). Their register tables are read from the
installed packages (sdm_modbus and growattRS232 no longer import with today's pymodbus, so their
tables are evaluated from the package's source with its enums stubbed: data, not code, is used).
Profiles with no such package cite their source document and are pinned in tests/core.
"""
import ast
import enum
import importlib.util
import os
import re
import types

import pytest

from gateway.core import profiles, quantities


def _site(pkg_file):
    spec = importlib.util.find_spec(pkg_file)
    assert spec is not None, "%s is not installed (test extras)" % pkg_file
    return os.path.dirname(spec.origin)


def specs(name):
    """The profile's rows by quantity (the fault registers apart: see profiles.faults)."""
    return dict((s["quantity"], s) for s in profiles.registers({"profile": name})
                if "fault" not in s)


# ---- Eastron: sdm_modbus ----

class _RT(enum.Enum):
    INPUT = 1
    HOLDING = 2


class _DT(enum.Enum):
    BITS = 1
    UINT8 = 2
    UINT16 = 3
    UINT32 = 4
    UINT64 = 5
    INT8 = 6
    INT16 = 7
    INT32 = 8
    INT64 = 9
    FLOAT16 = 10
    FLOAT32 = 11
    STRING = 12


def register_tables(path, ns):
    """{class name: {key: register tuple}}: each ``self.registers = {...}`` literal of the
    package source ``path``, its entries evaluated in ``ns`` (entries needing more are left
    out: value maps the comparison does not use)."""
    tree = ast.parse(open(path).read())
    out = {}
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "attr", None) == "registers":
                regs = {}
                for k, v in zip(node.value.keys, node.value.values):
                    try:
                        regs[ast.literal_eval(k)] = eval(compile(ast.Expression(v), path, "eval"),
                                                         dict(ns))
                    except NameError:
                        continue
                out[cls.name] = regs
    return out


def sdm_tables():
    """{class name: {key: (register, words, function, type, unit)}} from sdm_modbus/sdm.py."""
    path = os.path.join(os.path.dirname(importlib.util.find_spec("sdm_modbus").origin), "sdm.py")
    stub = types.SimpleNamespace(registerType=_RT, registerDataType=_DT)
    tables = register_tables(path, {"meter": stub, "float": float, "int": int})
    return {c: {k: (v[0], v[1], 4 if v[2] is _RT.INPUT else 3, v[3], v[6]) for k, v in t.items()}
            for c, t in tables.items()}


SDM_MEANING = {
    "voltage_l1": ("l1_voltage", "voltage"), "voltage_l2": ("l2_voltage",),
    "voltage_l3": ("l3_voltage",), "current_l1": ("l1_current", "current"),
    "current_l2": ("l2_current",), "current_l3": ("l3_current",),
    "power_l1": ("l1_power_active",), "power_l2": ("l2_power_active",),
    "power_l3": ("l3_power_active",),
    "power_w": ("total_power", "total_power_active", "power_active"),
    "apparent_va": ("total_power_apparent", "power_apparent"),
    "reactive_var": ("total_power_reactive", "power_reactive"),
    "power_factor": ("total_power_factor", "total_pf", "power_factor"), "frequency_hz": ("frequency",),
    "import_kwh": ("import_energy_active", "total_import_active_energy"),
    "export_kwh": ("export_energy_active", "total_export_active_energy"),
}
UNITS = {"V": "V", "A": "A", "W": "W", "VA": "VA", "VAr": "var", "": "", "Hz": "Hz",
         "kWh": "kWh"}


@pytest.mark.parametrize("name, cls", [("sdm120", "SDM120"), ("sdm230", "SDM230"),
                                       ("sdm630", "SDM630"), ("sdm630mct", "SDM630"),
                                       ("sdm72d", "SDM72"), ("sdm72dv2", "SDM72V2")])
def test_eastron_rows_match_sdm_modbus(name, cls):
    table = sdm_tables()[cls]
    for q, s in specs(name).items():
        keys = [k for k in SDM_MEANING[q] if k in table and table[k][2] == 4]  # input registers
        assert keys, "%s: sdm_modbus %s has no %s" % (name, cls, q)
        reg, words, fc, dtype, unit = table[keys[0]]
        assert (s["register"], s["function"]) == (reg, fc), (name, q)
        assert dtype is _DT.FLOAT32 and words == 2 and s["type"] == "f32", (name, q)
        assert s.get("word_order", "big") == "big" and s.get("scale", 1) == 1, (name, q)
        assert UNITS[unit] == quantities.unit(q), (name, q, unit)


# ---- Huawei SUN2000: huawei-solar ----

HUAWEI = {
    "pv1_v": "PV_01_VOLTAGE", "pv2_v": "PV_02_VOLTAGE", "pv_w": "INPUT_POWER",
    "voltage_l1": "PHASE_A_VOLTAGE", "voltage_l2": "PHASE_B_VOLTAGE",
    "voltage_l3": "PHASE_C_VOLTAGE", "current_l1": "PHASE_A_CURRENT",
    "current_l2": "PHASE_B_CURRENT", "current_l3": "PHASE_C_CURRENT", "power_w": "ACTIVE_POWER",
    "reactive_var": "REACTIVE_POWER", "power_factor": "POWER_FACTOR",
    "frequency_hz": "GRID_FREQUENCY", "temperature_c": "INTERNAL_TEMPERATURE",
    "inverter_state": "DEVICE_STATUS", "yield_kwh": "ACCUMULATED_YIELD_ENERGY",
    "soc_pct": "STORAGE_STATE_OF_CAPACITY", "battery_w": "STORAGE_CHARGE_DISCHARGE_POWER",
}


def test_huawei_rows_match_huawei_solar():
    from huawei_solar import register_names as rn
    from huawei_solar.registers import REGISTERS

    ours = specs("huawei_sun2000")
    assert set(ours) == set(HUAWEI)
    for q, key in HUAWEI.items():
        d = REGISTERS[getattr(rn, key)]
        s = ours[q]
        assert s["register"] == d.register and s["function"] == 3, q
        kind = type(d).__name__  # U16Register, I32Register, ...
        want = {"U16Register": "u16", "I16Register": "s16", "U32Register": "u32",
                "I32Register": "s32"}[kind]
        assert s["type"] == want, (q, kind)
        gain = getattr(d, "gain", 1)
        assert s.get("scale", 1) == pytest.approx(1 / gain), (q, gain)
    faults = [f["register"] for f in profiles.faults({"profile": "huawei_sun2000"})]
    assert faults == [REGISTERS[getattr(rn, "ALARM_%d" % i)].register for i in (1, 2, 3)]
    sig = profiles.load("huawei_sun2000")["signature"]
    assert sig["register"] == REGISTERS[rn.MODEL_NAME].register
    assert sig["count"] == REGISTERS[rn.MODEL_NAME].length


# ---- ABB A/B series: energymeter ----

ABB = {"import_kwh": "active_import", "export_kwh": "active_export",
       "voltage_l1": "voltage_l1_n", "voltage_l2": "voltage_l2_n", "voltage_l3": "voltage_l3_n",
       "current_l1": "current_l1", "current_l2": "current_l2", "current_l3": "current_l3",
       "power_w": "active_power_total", "power_l1": "active_power_l1",
       "power_l2": "active_power_l2", "power_l3": "active_power_l3",
       "reactive_var": "reactive_power_total", "apparent_va": "apparent_power_total",
       "frequency_hz": "frequency", "power_factor": "power_factor_total"}


@pytest.mark.parametrize("name", ["abb_b21", "abb_b23"])
def test_abb_rows_match_energymeter(name):
    import energymeter

    table = dict((r["name"], r) for r in energymeter.ABBMeter._REGS)
    ours = specs(name)
    assert len(ours) == (16 if name == "abb_b23" else 9)
    for q, s in ours.items():
        r = table[ABB[q]]
        assert s["register"] == r["start"] and s["function"] == 3, q
        from gateway.core import registers

        assert registers.words(s["type"]) == r["length"], q
        assert s.get("scale", 1) == pytest.approx(10 ** -r["decimals"]), q
        if q not in ("import_kwh", "export_kwh"):  # energies: u64 in ABB's document
            assert s["type"].startswith("s") == r["signed"], q


# ---- Growatt: growattRS232 ----

GROWATT = {"input_power": "pv_w", "input_1_voltage": "pv1_v", "input_1_power": "pv1_w",
           "input_2_voltage": "pv2_v", "input_2_power": "pv2_w", "output_power": "power_w",
           "frequency": "frequency_hz", "output_1_voltage": "voltage_l1",
           "output_1_amperage": "current_l1", "output_1_power": "power_l1",
           "output_2_voltage": "voltage_l2", "output_2_amperage": "current_l2",
           "output_2_power": "power_l2", "output_3_voltage": "voltage_l3",
           "output_3_amperage": "current_l3", "output_3_power": "power_l3",
           "output_energy_total": "yield_kwh", "temperature": "temperature_c"}


def growatt_rows():
    """{attribute: (register, words, scale)} from growattRS232's reading code and constants."""
    base = _site("growattRS232")
    spec = importlib.util.spec_from_file_location("growatt_const", os.path.join(base, "const.py"))
    const = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(const)
    src = open(os.path.join(base, "__init__.py")).read()
    starts = {"rir1": int(re.search(r"rir1 = .*read_input_registers\((\d+),", src).group(1)),
              "rir2": int(re.search(r"rir2 = .*read_input_registers\((\d+),", src).group(1))}
    out = {}
    pat = r"data\[(ATTR_\w+)\] = (rsdf|rssf)\((rir1|rir2), (\d+)(?:, (\d+))?\)"
    for attr, fn, block, idx, div in re.findall(pat, src):
        out[getattr(const, attr)] = (starts[block] + int(idx), 2 if fn == "rsdf" else 1,
                                     1 / int(div or 10))
    for attr, block, idx in re.findall(r"data\[(ATTR_\w+_CODE)\] = (rir1|rir2)\.registers\[(\d+)\]",
                                       src):
        out[getattr(const, attr)] = (starts[block] + int(idx), 1, 1)
    return out


def test_growatt_rows_match_growattrs232():
    table = growatt_rows()
    ours = specs("growatt")
    meaning = dict(GROWATT, status_code="inverter_state")
    assert set(ours) == set(meaning.values())
    for attr, q in meaning.items():
        reg, words, scale = table[attr]
        s = ours[q]
        assert (s["register"], s["function"]) == (reg, 4), q
        from gateway.core import registers

        assert registers.words(s["type"]) == words, q
        assert s.get("scale", 1) == pytest.approx(scale), q
    faults = [f["register"] for f in profiles.faults({"profile": "growatt"})]
    assert faults == [table["fault_code"][0], table["warning_code"][0]]


# ---- Solis hybrid (the Solarman logger's inverter): solis ----

SOLIS = {"dc_voltage_1": "pv1_v", "dc_voltage_2": "pv2_v", "temperture": "temperature_c",
         "power_generation": "pv_w", "batt_charge_level": "soc_pct",
         "batt_charge_rate": "battery_w"}


def read_image(meter, image, first):
    """Our reading of ``meter`` from a device whose input registers from ``first`` are
    ``image``: the profile's read plan, extracted and finished as the poller does."""
    from gateway.core import registers

    plan = registers.plan(profiles.registers(meter), 10, profiles.max_count(meter))
    values = {}
    for fn, start, count, items in plan:
        assert fn == 4
        registers.extract((fn, start, count, items), image[start - first:start - first + count],
                          values)
    return registers.finish(plan, values)


def test_solis_rows_read_as_the_solis_package_reads_them():
    """The ``solis`` package (a Solis hybrid client over the Solarman v5 logger) and our profile
    read the same register images: every quantity both map has the same value, battery power
    signed by its direction register (33135) in both."""
    import asyncio
    import random

    from solis.solis import Solis, SolisInfoRegs

    rng = random.Random(18)
    for trial in range(40):
        image = [rng.randrange(0x10000) for _ in range(286)]  # 33000..33285, what it reads
        image[93] &= 0x7FFF  # temperature: theirs u16, ours s16 (the document's)
        image[57] &= 0x7FFF  # DC power: theirs s32, ours u32 (the document's)
        image[135] = trial % 2  # battery direction: 0 charging, 1 discharging

        class Logger:
            def __init__(self, image):
                self.image = image

            async def read_input_registers(self, start, count):
                return self.image[start - 33000:start - 33000 + count]

        inverter = Solis.__new__(Solis)
        inverter.info_regs = SolisInfoRegs(Logger(image))
        asyncio.run(inverter.async_update())
        ours = read_image({"profile": "solis_hybrid"}, image, 33000)
        for attr, q in SOLIS.items():
            assert ours[q] == pytest.approx(getattr(inverter, attr)), (trial, attr, q)
    assert set(SOLIS.values()) < set(specs("solis_hybrid"))


def test_every_profile_row_is_well_formed():
    from gateway.core import registers

    for name in profiles.names():
        if name in profiles.BUILTIN:
            continue
        assert name == name.lower()
        p = profiles.load(name, keep=False)
        assert p.get("source") and p.get("title") and p.get("kind") in ("meter", "inverter")
        rows = [s for s in profiles.registers({"profile": name}, keep=False) if "fault" not in s]
        assert rows and len(set(s["quantity"] for s in rows)) == len(rows), name
        used = set(s.get("neg") or s.get("sf") for s in rows)  # hidden rows others refer to
        for s in rows:
            q = s["quantity"]
            assert quantities.known(q) or (q[0] == "_" and q in used), (name, q)
            assert s["function"] in (3, 4) and s["type"] in registers.TYPES, (name, s)
        assert registers.plan(rows, 10, profiles.max_count({"profile": name}))


# ---- SunSpec: solaredge_modbus (a SolarEdge inverter is SunSpec model 101-103, its meters 201-204) ----

def solaredge_tables():
    """{class name: {key: (register, words, type name)}} from solaredge_modbus' source."""
    path = importlib.util.find_spec("solaredge_modbus").origin
    enums = {"enum": enum}  # the package's own register type enums (its data, not its code)
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.ClassDef) and node.name in ("registerType", "registerDataType"):
            exec(compile(ast.Module([node], []), path, "exec"), enums)
    ns = {"registerType": enums["registerType"], "registerDataType": enums["registerDataType"],
          "self": types.SimpleNamespace(offset=0), "str": str, "int": int, "float": float,
          "INVERTER_STATUS_MAP": None, "BATTERY_STATUS_MAP": None}
    return {c: {k: (v[0], v[1], v[3].name) for k, v in t.items()}
            for c, t in register_tables(path, ns).items()}


# their SCALE is an alias of INT16 (same enum value)
SE_TYPES = {"UINT16": ("uint16", "enum16"), "INT16": ("int16", "sunssf"), "ACC32": ("acc32",),
            "UINT32": ("acc32", "uint32")}
SE_INVERTER = {"current": "A", "l1_current": "AphA", "l2_current": "AphB", "l3_current": "AphC",
               "current_scale": "A_SF", "l1_voltage": "PPVphAB", "l1n_voltage": "PhVphA",
               "l2n_voltage": "PhVphB", "l3n_voltage": "PhVphC", "voltage_scale": "V_SF",
               "power_ac": "W", "power_ac_scale": "W_SF", "frequency": "Hz",
               "frequency_scale": "Hz_SF", "power_apparent": "VA", "power_reactive": "VAr",
               "power_factor": "PF", "power_factor_scale": "PF_SF", "energy_total": "WH",
               "energy_total_scale": "WH_SF", "current_dc": "DCA", "voltage_dc": "DCV",
               "power_dc": "DCW", "power_dc_scale": "DCW_SF", "temperature": "TmpSnk",
               "temperature_scale": "Tmp_SF", "status": "St", "vendor_status": "StVnd"}
SE_METER = {"current": "A", "l1_current": "AphA", "l3_current": "AphC", "current_scale": "A_SF",
            "l1n_voltage": "PhVphA", "l3n_voltage": "PhVphC", "l12_voltage": "PhVphAB",
            "voltage_scale": "V_SF", "frequency": "Hz", "frequency_scale": "Hz_SF", "power": "W",
            "l1_power": "WphA", "l3_power": "WphC", "power_scale": "W_SF",
            "power_apparent": "VA", "power_reactive": "VAR", "power_factor": "PF",
            "power_factor_scale": "PF_SF", "export_energy_active": "TotWhExp",
            "import_energy_active": "TotWhImp", "energy_active_scale": "TotWh_SF",
            "energy_reactive_scale": "TotVArh_SF"}


@pytest.mark.parametrize("cls, model, mapping", [("Inverter", 103, SE_INVERTER),
                                                 ("Meter", 203, SE_METER)])
def test_sunspec_tables_match_solaredge_modbus(cls, model, mapping):
    from gateway.core import sunspec

    theirs = solaredge_tables()[cls]
    start = theirs["current"][0]  # the model's first point
    ours = dict((p[0], p) for p in sunspec.points(sunspec.table(model), model))
    for key, point in mapping.items():
        reg, words, dtype = theirs[key]
        name, stype, _sf, off, n = ours[point]
        assert (reg - start, words) == (off, n), (cls, key, point)
        assert stype in SE_TYPES[dtype], (cls, key, stype, dtype)


# ---- inverter alarm tables against the same packages ----

def _table(name):
    import json

    with open(os.path.join(profiles.DIR, "alarms", name + ".json")) as f:
        return json.load(f)


def test_huawei_alarm_table_is_huawei_solars_bit_for_bit():
    """Code 16 x word + bit of Alarm 1-3 (32008-32010) names the alarm huawei-solar decodes from
    that bit: each of our texts carries its Huawei alarm ID, in every language."""
    from huawei_solar import register_values as rv

    ours = _table("huawei")["codes"]
    theirs = {}
    for word, codes in enumerate((rv.ALARM_CODES_1, rv.ALARM_CODES_2, rv.ALARM_CODES_3)):
        for mask, alarm in codes.items():
            theirs[str(16 * word + mask.bit_length() - 1)] = alarm.id
    assert sorted(ours, key=int) == sorted(theirs, key=int)
    for code, aid in theirs.items():
        assert all(t.endswith("(ID %d)" % aid) for t in ours[code]), (code, aid, ours[code])
    first = [f["first"] for f in profiles.faults({"profile": "huawei_sun2000"})]
    assert first == [0, 16, 32]


GROWATT_SPELT = {"Residual I High": "Residual current high",
                 "Output High DCI": "Output DC current (DCI) high",
                 "AC V Outrange": "AC voltage out of range",
                 "AC F Outrange": "AC frequency out of range"}


def test_growatt_alarm_tables_are_growattrs232s():
    spec = importlib.util.spec_from_file_location(
        "growatt_const", os.path.join(_site("growattRS232"), "const.py"))
    const = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(const)
    faults = _table("growatt_f")["codes"]
    assert sorted(faults, key=int) == [str(c) for c in sorted(const.FAULTCODES) if c]
    for code, name in const.FAULTCODES.items():
        if not code:
            continue
        en = faults[str(code)][0].lower()
        if name.startswith("Generic Error Code"):  # theirs: "Generic Error Code: 1xx"
            assert en == "generic error code %s" % name.split(": ")[1], code
        else:  # their words, abbreviations spelt out
            assert en == GROWATT_SPELT.get(name, name).lower(), (code, name, en)
    warnings = _table("growatt_w")["codes"]
    named = [v for v, n in sorted(const.WARNINGCODES.items()) if v and n]
    assert [1 << int(b) for b in sorted(warnings, key=int)] == named  # one bit per warning
