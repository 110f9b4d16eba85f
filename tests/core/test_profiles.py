"""The device library as data (issue 18): files load on demand, rows are well formed, and the
profiles no package on PyPI implements are pinned to their source documents (the others are
compared row by row in tests/integration/test_profile_sources.py)."""
from _assert import raises

from gateway.core import profiles, quantities, registers

# (quantity, function, register, type, scale) from each profile's source document
PINS = {
    "dtsu666": ("CHINT DTSU666", 15, [("voltage_l1", 3, 0x2006, "f32", 0.1),
                                       ("current_l1", 3, 0x200C, "f32", 0.001),
                                       ("power_w", 3, 0x2012, "f32", 0.1),
                                       ("frequency_hz", 3, 0x2044, "f32", 0.01),
                                       ("import_kwh", 3, 0x401E, "f32", 1),
                                       ("export_kwh", 3, 0x4028, "f32", 1)]),
    "em24": ("Carlo Gavazzi EM24", 16, [("voltage_l1", 3, 0x00, "s32", 0.1),
                                        ("current_l1", 3, 0x0C, "s32", 0.001),
                                        ("power_w", 3, 0x28, "s32", 0.1),
                                        ("frequency_hz", 3, 0x33, "u16", 0.1),
                                        ("import_kwh", 3, 0x34, "s32", 0.1),
                                        ("export_kwh", 3, 0x4E, "s32", 0.1)]),
    "em340": ("Carlo Gavazzi EM330/EM340", 16, [("power_w", 3, 0x28, "s32", 0.1),
                                                ("import_kwh", 3, 0x34, "s32", 0.1)]),
    "iem3155": ("Schneider Electric iEM3100", 16, [("current_l1", 3, 2999, "f32", 1),
                                                   ("voltage_l1", 3, 3027, "f32", 1),
                                                   ("power_w", 3, 3059, "f32", 1000),
                                                   ("frequency_hz", 3, 3109, "f32", 1),
                                                   ("import_kwh", 3, 3203, "u64", 0.001)]),
    "finder_7m": ("Finder 7M.24-7M.38", 6, [("voltage_l1", 4, 2500, "f32", 1),
                                            ("current_l1", 4, 2516, "f32", 1)]),
    "orno_we516": ("ORNO OR-WE-516", 16, [("voltage_l1", 3, 0x0E, "f32", 1),
                                          ("power_w", 3, 0x1C, "f32", 1000),
                                          ("power_factor", 3, 0x34, "f32", 1),
                                          ("import_kwh", 3, 0x108, "f32", 1),
                                          ("export_kwh", 3, 0x110, "f32", 1)]),
    "pro380": ("Inepro PRO380", 16, [("voltage_l1", 3, 0x5002, "f32", 1),
                                     ("power_w", 3, 0x5012, "f32", 1000),
                                     ("import_kwh", 3, 0x600C, "f32", 1),
                                     ("export_kwh", 3, 0x6018, "f32", 1)]),
    "solis_hybrid": ("Ginlong Solis hybrid", 21, [("yield_kwh", 4, 33029, "u32", 1),
                                                  ("power_w", 4, 33079, "s32", 1),
                                                  ("frequency_hz", 4, 33094, "u16", 0.01),
                                                  ("battery_v", 4, 33133, "u16", 0.1),
                                                  ("soc_pct", 4, 33139, "u16", 1),
                                                  ("battery_w", 4, 33149, "s32", 1),
                                                  ("_batt_dir", 4, 33135, "u16", 1),
                                                  ("_fault0", 4, 33095, "u16", 1)]),
}


def test_profiles_without_an_independent_implementation_are_pinned():
    for name, (source, count, rows) in PINS.items():
        p = profiles.load(name, keep=False)
        assert p["source"].startswith(source), name
        specs = dict((s["quantity"], s) for s in profiles.registers({"profile": name}, False))
        assert len(specs) == count, (name, len(specs))
        for q, fc, reg, type_, scale in rows:
            s = specs[q]
            assert (s["function"], s["register"], s["type"]) == (fc, reg, type_), (name, q)
            assert abs(s.get("scale", 1) - scale) < 1e-12, (name, q)


def test_every_library_file_is_a_well_formed_profile():
    names = profiles.names()
    assert names == sorted(names) and len(names) >= 20
    for name in names:
        if name in profiles.BUILTIN:
            continue
        p = profiles.load(name, keep=False)
        assert p["kind"] in ("meter", "inverter") and p["title"] and p["source"]
        assert 1 <= p.get("max_registers", 125) <= 125
        seen = set()
        specs = profiles.registers({"profile": name}, False)
        used = set(s.get("neg") or s.get("sf") for s in specs)  # hidden rows others refer to
        for s in specs:
            q = s["quantity"]
            assert q not in seen, (name, q)
            seen.add(q)
            assert q.startswith("_fault") or quantities.known(q) or q in used, (name, q)
            assert s["function"] in (3, 4) and s["type"] in registers.TYPES, (name, q)
            assert s.get("word_order", "big") in registers.WORD_ORDERS, (name, q)
            assert s.get("scale", 1) != 0 and "unit" not in s, (name, q)
            assert 0 <= s["register"] <= 0x10000 - registers.words(s["type"]), (name, q)
        info = profiles.info(name)
        assert info["name"] == name and info["quantities"]
        assert not [q for q in info["quantities"] if q[0] == "_"], name


def test_profiles_load_on_demand_and_only_those_in_use_stay():
    profiles.forget()
    profiles.registers({"profile": "em24"}, keep=False)
    assert "em24" not in profiles._cache
    profiles.registers({"profile": "sdm120"})
    assert list(profiles._cache) == ["sdm120"]
    profiles.catalogue()
    assert list(profiles._cache) == ["sdm120"]  # listing the library keeps nothing
    profiles.forget(keep=())
    assert profiles._cache == {}
    raises(ValueError, profiles.registers, {"profile": "nope"})
    raises(ValueError, profiles.registers, {"profile": "../boards/emulator"})


def test_device_settings_come_from_the_profile():
    assert profiles.setting({"profile": "huawei_sun2000"}, "timeout_ms") == 1000
    assert profiles.setting({"profile": "sdm630"}, "max_registers") == 40
    assert profiles.setting({"profile": "sdm630"}, "turnaround_ms") is None
    assert profiles.setting({"profile": "nope"}, "timeout_ms") is None
    assert profiles.max_count({"profile": "generic"}) == 125


def test_signatures_match_id_text_and_values():
    sigs = dict(profiles.signatures())
    assert sigs["huawei_sun2000"]["text"] == "SUN2000"
    text = [0x5355, 0x4E32, 0x3030, 0x302D, 0x3130, 0]  # "SUN2000-10"
    assert profiles.match(sigs["huawei_sun2000"], text) == "SUN2000-10"
    assert profiles.match(sigs["huawei_sun2000"], [0x4142]) is None
    assert profiles.match(sigs["huawei_sun2000"], None) is None
    assert profiles.match({"register": 11, "values": [1648, 1649], "label": "model"},
                          [1649]) == "model 1649"
    assert profiles.match({"register": 11, "values": [1648]}, [7]) is None


# the bus scan's signatures: (function, register, id values or text) from the source each cites
SIGNATURES = {
    "sdm120": (3, 0xFC02, [32]), "sdm230": (3, 0xFC02, [43]), "sdm630": (3, 0xFC02, [112]),
    "sdm630mct": (3, 0xFC02, [121, 136]), "sdm72d": (3, 0xFC02, [132]),
    "sdm72dv2": (3, 0xFC02, [137, 135]), "abb_b21": (3, 0x8960, "B21"),
    "abb_b23": (3, 0x8960, "B23"), "em24": (3, 0x000B, [1648, 1649, 1650, 1651, 1652, 1653]),
    "pro380": (3, 0x1010, [0x2007]), "huawei_sun2000": (3, 30000, "SUN2000"),
    "iem3155": (3, 49, "iEM3155"),
}


def test_signatures_are_pinned_and_cite_their_source():
    sigs = dict(profiles.signatures())
    assert sorted(sigs) == sorted(SIGNATURES)
    for name, (fc, reg, want) in SIGNATURES.items():
        sig = sigs[name]
        assert (sig.get("function", 3), sig["register"]) == (fc, reg), name
        assert sig.get("values", sig.get("text")) == want, name
        assert len(sig["source"]) > 40, name  # where the register fact comes from
        if "values" in sig:
            assert sig["label"] and sig.get("type", "u16") in registers.TYPES, name
        else:
            assert 1 <= sig["count"] <= 20, name
    # the Eastron meters share their id register: each product code names one profile
    codes = [c for n, (fc, reg, v) in SIGNATURES.items() if reg == 0xFC02 for c in v]
    assert len(codes) == len(set(codes))
    # a B21's text ("B21 ") matches only the B21
    b21 = [0x4232, 0x3120]
    assert profiles.match(sigs["abb_b21"], b21) == "B21"
    assert profiles.match(sigs["abb_b23"], b21) is None
    assert profiles.match(sigs["sdm630mct"], [121]) == "Eastron product code 121"


def test_sdm630mct_is_an_alias_read_exactly_as_sdm630():
    assert profiles.exists("sdm630mct")
    mct = profiles.registers({"profile": "sdm630mct"}, False)
    assert mct == profiles.registers({"profile": "sdm630"}, False)
    p = profiles.load("sdm630mct", keep=False)
    base = profiles.load("sdm630", keep=False)
    assert p["title"].startswith("Eastron SDM630MCT") and p["title"] != base["title"]
    assert p["source"] != base["source"]
    for k in ("function", "type", "word_order", "max_registers"):
        assert p[k] == base[k], k
    assert profiles.max_count({"profile": "sdm630mct"}) == profiles.max_count({"profile": "sdm630"})
    info = profiles.info("sdm630mct")
    assert info["alias"] == "sdm630" and info["quantities"] == profiles.info("sdm630")["quantities"]
    assert "alias" not in profiles.info("sdm630")
    assert "sdm630mct" in [c["name"] for c in profiles.catalogue()]
    # its own signature (the Eastron product code), not the SDM630's
    sigs = dict(profiles.signatures())
    assert sigs["sdm630mct"]["values"] == [121, 136] and sigs["sdm630"]["values"] == [112]


def test_a_bad_alias_is_refused():
    files = {"x_loop": {"alias": "x_loop"}, "x_none": {"alias": "nope"},
             "x_two": {"alias": "sdm630mct"}, "x_ok": {"alias": "sdm120", "title": "Mine"}}
    read = profiles._file
    profiles._file = lambda name: dict(files[name]) if name in files else read(name)
    profiles.names().extend(sorted(files))
    try:
        raises(ValueError, profiles.load, "x_loop", False)
        raises(ValueError, profiles.load, "x_none", False)
        raises(ValueError, profiles.load, "x_two", False)  # an alias of an alias
        ok = profiles.load("x_ok", False)
        assert ok["title"] == "Mine" and ok["registers"] == profiles.load("sdm120", False)["registers"]
    finally:
        for n in files:
            profiles.names().remove(n)
        profiles._file = read


def test_a_row_scaled_by_a_scale_factor_register():
    sf_profile = {"title": "t", "kind": "meter", "source": "t", "function": 3, "type": "s16",
                  "registers": [["power_w", 0, {"sf": "_w_sf"}], ["_w_sf", 1],
                                ["voltage_l1", 2, {"type": "u16", "sf": "_v_sf"}], ["_v_sf", 3]]}
    read = profiles._read
    profiles._read = lambda name: sf_profile if name == "x_sf" else read(name)
    profiles.names().append("x_sf")
    try:
        specs = profiles.registers({"profile": "x_sf"}, keep=False)
        assert profiles.info("x_sf")["quantities"] == ["power_w", "voltage_l1"]
    finally:
        profiles.names().remove("x_sf")
        profiles._read = read
    plan = registers.plan(specs, 10)
    values = registers.extract(plan[0], [12345, 0xFFFF, 2311, 0xFFFF], {})
    hidden = {}
    registers.finish(plan, values, hidden)
    assert values == {"power_w": 1234.5, "voltage_l1": 231.1}
    assert hidden == {"_w_sf": -1, "_v_sf": -1}
