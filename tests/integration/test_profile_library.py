"""Every profile of the device library read from a pymodbus-served strict device (issue 18).

One RTU line holds a device per library profile, each answering exception 02 for any register
its map does not hold; the firmware's poller (through the real RTU master) must read every
quantity of every profile, with each value as the device stores it. The bus scan's profile API
(``signatures``/``identify``) is checked against the same devices.
"""
import asyncio

import pytest

from dingate.testing.rtu_stream import open_tcp
from dingate.testing.strict import StrictLine, device_from_specs, image_from_specs
from gateway.core import alarms, profiles, registers
from gateway.core.meters import validate_bus, validate_meter
from gateway.services.poller import Poller
from gateway.services.rtu import RtuMaster

NOW = 1795000000
BUS = validate_bus({"timeout_ms": 300, "retries": 0, "interval_ms": 100})
LIBRARY = [n for n in profiles.names() if n not in profiles.BUILTIN]


def expected(specs):
    """Each visible quantity as the device stores it; ``alarms``: the codes its fault rows hold."""
    img = image_from_specs(specs)
    out = {}
    for s in specs:
        if "fault" in s:
            raw = registers.decode([img[s["function"]][s["register"]]], s["type"])
            out["alarms"] = out.get("alarms", 0) + len(alarms.codes(s["fault"], raw))
            continue
        regs = [img[s["function"]][s["register"] + k] for k in range(registers.words(s["type"]))]
        out[s["quantity"]] = registers.decode(regs, s["type"], s.get("word_order", "big"),
                                              s.get("scale", 1))
    for s in specs:  # a magnitude signed by its direction row; hidden rows are not shown
        if s.get("neg") and out[s["neg"]]:
            out[s["quantity"]] = -out[s["quantity"]]
    return dict((q, v) for q, v in out.items() if q[0] != "_")


def _text(text, n):
    raw = text.encode().ljust(2 * n, b"\0")
    return [raw[i] << 8 | raw[i + 1] for i in range(0, 2 * n, 2)]


def devices():
    out = []
    for i, name in enumerate(LIBRARY):
        dev = device_from_specs(i + 1, profiles.registers({"profile": name}))
        sig = profiles.load(name).get("signature")
        if sig:  # the identification text or id value the device carries
            if "text" in sig:
                words = _text(sig["text"] + "-TEST", sig["count"])
            else:
                words = registers.encode(sig["values"][-1], sig.get("type", "u16"),
                                         sig.get("word_order", "big"))
            image = dev.holding if sig.get("function", 3) == 3 else dev.inputs
            for k, w in enumerate(words):
                image[sig["register"] + k] = w
        out.append(dev)
    return out


@pytest.fixture(scope="module")
def line():
    peer = StrictLine(devices())
    yield peer
    peer.stop()


def test_the_library_has_the_devices_installers_meet():
    want = {"sdm72d", "sdm120", "sdm230", "sdm630", "sdm630mct", "dtsu666", "abb_b21", "abb_b23",
            "em24", "em340", "iem3155", "finder_7m", "orno_we516", "pro380", "solis_hybrid",
            "huawei_sun2000", "growatt", "sunspec", "generic"}
    assert want <= set(profiles.names())
    assert len(profiles.names()) >= 20


def test_every_quantity_of_every_profile_is_read_from_a_strict_device(line):
    meters = [validate_meter({"address": i + 1, "profile": n}, []) for i, n in enumerate(LIBRARY)]
    for i, m in enumerate(meters):
        m["id"] = str(i + 1)

    async def main():
        port = await open_tcp("127.0.0.1", line.port)
        poller = Poller(RtuMaster(port), meters, BUS, clock=lambda: NOW)
        try:
            await poller.poll_once()
            return poller.readings()
        finally:
            port.close()

    readings = asyncio.run(main())
    for i, name in enumerate(LIBRARY):
        r = readings[str(i + 1)]
        assert r["status"] == "ok", (name, r)
        want = expected(profiles.registers({"profile": name}))
        assert set(r["values"]) == set(want), name
        for q, v in want.items():
            assert r["values"][q] == pytest.approx(v, rel=1e-6), (name, q)
        assert not line.requests(i + 1) or all(c <= profiles.max_count(meters[i])
                                               for _, _, c in line.requests(i + 1))


def test_identify_finds_the_profiles_with_a_signature(line):
    async def main():
        port = await open_tcp("127.0.0.1", line.port)
        master = RtuMaster(port)
        master.configure(BUS)
        out = {}
        try:
            for i, name in enumerate(LIBRARY):
                async def read(fc, reg, count, a=i + 1):
                    try:
                        return await master.read_registers(a, fc, reg, count, 0, 300)
                    except Exception:
                        return None

                out[name] = await profiles.identify(read)
        finally:
            port.close()
        return out

    found = asyncio.run(main())
    with_sig = [n for n, _ in profiles.signatures()]
    assert {"huawei_sun2000", "iem3155", "sdm120", "sdm230", "sdm630", "sdm630mct", "sdm72d",
            "sdm72dv2"} <= set(with_sig)
    for name, got in found.items():
        if name in with_sig:
            assert got is not None and got[0] == name, (name, got)
            sig = profiles.load(name)["signature"]
            if "text" in sig:
                assert got[1].startswith(sig["text"])
            else:
                assert got[1] == "%s %d" % (sig["label"], sig["values"][-1]), (name, got)
        else:  # no false match: the others refuse or do not hold those registers
            assert got is None, (name, got)
