"""SunSpec core: model tables, point decoding, discovery, the specs a sunspec meter is read with
(scale-factor registers applied by registers.finish). The comparison with pysunspec2 itself is
tests/integration/test_sunspec_pysunspec2.py."""
import asyncio

from _assert import raises

from gateway.core import registers, sunspec


def test_tables_have_the_lengths_of_the_standard():
    lengths = {1: 66, 101: 50, 103: 50, 111: 60, 113: 60, 124: 24, 201: 105, 203: 105,
               211: 124, 214: 124, 802: 62}
    for mid, n in lengths.items():
        t = sunspec.table(mid)
        assert t["len"] == n and mid in t["ids"]
        pts = sunspec.points(t, mid)
        assert pts[-1][3] + pts[-1][4] == n, mid
    assert sunspec.table(999) is None
    names = [p[0] for p in sunspec.points(sunspec.table(201), 201)]
    assert "PPVphAB" in names and "PhVphAB" not in names  # model 201's own point names
    assert "PhVphAB" in [p[0] for p in sunspec.points(sunspec.table(203), 203)]


def test_encode_then_decode_applies_scale_factors_and_not_implemented():
    words = sunspec.encode(203, {"W": 12345, "W_SF": -1, "PhVphA": 2305, "V_SF": -1,
                                 "TotWhImp": 1234567, "TotWh_SF": 0, "Hz": 5002, "Hz_SF": -2,
                                 "PF": 97, "PF_SF": 0})
    assert len(words) == 105
    d = sunspec.decode(203, words)
    assert d["W"] == 1234.5 and d["PhVphA"] == 230.5 and d["Hz"] == 50.02 and d["PF"] == 97
    assert d["TotWhImp"] == 1234567
    assert d["A"] is None and d["VA"] is None and d["WphA"] is None  # not implemented
    assert d["TotWhExp"] is None  # acc32 0: not implemented
    f = sunspec.decode(213, sunspec.encode(213, {"W": 1500.5, "Hz": 49.98}))
    assert f["W"] == 1500.5 and abs(f["Hz"] - 49.98) < 1e-4 and f["A"] is None
    c = sunspec.decode(1, sunspec.encode(1, {"Mn": "Fronius", "Md": "Smart Meter 63A",
                                             "SN": "12345678", "DA": 240}))
    assert (c["Mn"], c["Md"], c["SN"], c["DA"], c["Opt"]) == ("Fronius", "Smart Meter 63A",
                                                             "12345678", 240, None)


_device = sunspec.image


def _reader(image):
    async def read(fc, reg, count):
        if fc != 3 or any(reg + k not in image for k in range(count)):
            return None
        return [image[reg + k] for k in range(count)]

    return read


def test_discovery_walks_the_chain_at_each_base():
    img = _device([(1, {"Mn": "SunSpecTest", "Md": "Meter", "SN": "S1"}),
                   (203, {"W": 500, "W_SF": 0}), (124, {})], base=50000)
    found = asyncio.run(sunspec.discover(_reader(img)))
    assert found["base"] == 50000
    assert found["models"] == [[1, 50004], [203, 50072], [124, 50179]]
    assert (found["manufacturer"], found["model"], found["serial"]) == ("SunSpecTest", "Meter",
                                                                        "S1")
    assert asyncio.run(sunspec.discover(_reader({}))) is None


def test_a_sunspec_meter_is_read_with_its_scale_factors():
    img = _device([(1, {}), (203, {"W": -1234, "W_SF": 1, "PhVphA": 2301, "V_SF": -1,
                                   "TotWhImp": 12873400, "TotWhExp": 2210800, "TotWh_SF": 0,
                                   "PF": 97, "PF_SF": 0, "Hz": 4998, "Hz_SF": -2}),
                   (802, {"SoC": 645, "SoC_SF": -1, "V": 521, "V_SF": -1})])
    layout = asyncio.run(sunspec.discover(_reader(img)))["models"]
    specs = sunspec.specs(layout)
    quantities = [s["quantity"] for s in specs]
    assert len(quantities) == len(set(quantities))
    values = {}
    plan = registers.plan(specs, 10)
    for block in plan:
        regs = [img[block[1] + k] for k in range(block[2])]
        registers.extract(block, regs, values)
    registers.finish(plan, values)
    assert values == {"power_w": -12340, "voltage_l1": 230.1, "import_kwh": 12873.4,
                      "export_kwh": 2210.8, "power_factor": 0.97, "frequency_hz": 49.98,
                      "soc_pct": 64.5, "battery_v": 52.1}


def test_layouts_are_checked():
    assert sunspec.check_layout([[1, 40002], [203, 40070]]) == [[1, 40002], [203, 40070]]
    for bad in ([], "x", [[1]], [[0, 1]], [[1, 70000]], [[True, 1]], [[1, 2]] * 33):
        raises(ValueError, sunspec.check_layout, bad)
