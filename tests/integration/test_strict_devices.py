"""Strict and imperfect devices (issue 18): pymodbus-served devices that answer exception 02 for
every register they do not hold, refuse or ignore chosen blocks; the poller splits merged reads,
learns a plan per device, keeps the values of the blocks that worked ("partial")."""
import asyncio

import pytest

from dingate.testing.rtu_stream import open_tcp
from dingate.testing.scripted_master import ScriptedMaster
from dingate.testing.strict import StrictLine, device_from_specs, image_from_specs, plausible
from gateway.core import modbus, profiles, registers
from gateway.core.meters import validate_bus, validate_meter
from gateway.services.poller import Poller
from gateway.services.rtu import RtuMaster

NOW = 1795000000
BUS = validate_bus({"timeout_ms": 250, "retries": 0, "interval_ms": 100})
GENERIC = [
    {"quantity": "voltage_l1", "function": 3, "register": 0x10, "type": "u16", "scale": 0.1},
    {"quantity": "power_w", "function": 3, "register": 0x14, "type": "s32",
     "word_order": "little"},
    {"quantity": "import_kwh", "function": 3, "register": 0x1A, "type": "f32"},
    {"quantity": "current_l1", "function": 4, "register": 0x02, "type": "u16", "scale": 0.01},
]


def meter(address, profile, **kw):
    data = dict(kw, address=address, profile=profile)
    if profile == "generic":
        data.setdefault("registers", GENERIC)
    return validate_meter(data, [])


def specs(m):
    return profiles.registers(m)


def expected(m):
    """What the poller must read: each quantity's plausible value as the device stores it."""
    img = image_from_specs(specs(m))
    out = {}
    for s in specs(m):
        regs = [img[s["function"]][s["register"] + k] for k in range(registers.words(s["type"]))]
        out[s["quantity"]] = registers.decode(regs, s["type"], s.get("word_order", "big"),
                                              s.get("scale", 1))
    return out


@pytest.fixture(scope="module")
def line():
    devs = [
        device_from_specs(1, specs(meter(1, "sdm120"))),
        device_from_specs(2, specs(meter(2, "sdm630"))),
        device_from_specs(3, specs(meter(3, "generic"))),
        device_from_specs(4, specs(meter(4, "sdm630")), refuse=[(4, 0x46, 0x4B)]),
        device_from_specs(5, specs(meter(5, "sdm630")), ignore=[(4, 0x34, 0x35)]),
    ]
    peer = StrictLine(devs)
    yield peer
    peer.stop()


def poll(line, meters, cycles=1, plans=None, learned=None):
    async def main():
        port = await open_tcp("127.0.0.1", line.port)
        poller = Poller(RtuMaster(port), meters, BUS, clock=lambda: NOW,
                        load_plan=(plans or {}).get,
                        on_learn=(lambda mid, e: learned.append((mid, e))) if learned is not None
                        else None)
        try:
            for _ in range(cycles):
                await poller.poll_once()
            return poller.readings(), dict(poller.stats())
        finally:
            port.close()

    return asyncio.run(main())


def approx_dict(got, want):
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6), k


@pytest.mark.parametrize("address,profile", [(1, "sdm120"), (2, "sdm630"), (3, "generic")])
def test_strict_device_gives_every_quantity_from_the_first_cycle(line, address, profile):
    m = meter(address, profile)
    line.clear_log()
    readings, stats = poll(line, [m], cycles=2)
    r = readings[m["id"]]
    assert r["status"] == "ok", stats
    approx_dict(r["values"], expected(m))
    assert stats[m["id"]]["failing"] is None
    # the merged reads the device refused were split in cycle 1; cycle 2 asks only what works
    log = line.requests(address)
    plan = stats[m["id"]]["plan"] or registers.ranges(registers.plan(specs(m), BUS["max_gap"]))
    assert log[-len(plan):] == [tuple(b) for b in plan]
    img = image_from_specs(specs(m))
    for fc, start, count in plan:  # every read of the plan is of registers the device has
        assert all(a in img[fc] for a in range(start, start + count))


def test_sdm120_plan_is_learned_and_kept_per_device(line):
    m = meter(1, "sdm120")
    learned = []
    _r, stats = poll(line, [m], learned=learned)
    plan = stats[m["id"]]["plan"]
    assert plan is not None and len(plan) > len(registers.plan(specs(m), BUS["max_gap"], 40))
    assert learned and learned[-1][0] == m["id"] and learned[-1][1]["blocks"] == plan
    # given back at the next start: no refused read at all
    line.clear_log()
    readings, stats2 = poll(line, [m], plans={m["id"]: learned[-1][1]})
    assert readings[m["id"]]["status"] == "ok" and stats2[m["id"]]["plan"] == plan
    assert line.requests(1) == [tuple(b) for b in plan]
    # a change of the meter's reads (its own max_registers) forgets it
    learned.clear()
    changed = dict(m, max_registers=10)
    _r, stats3 = poll(line, [changed], plans={m["id"]: {"key": "0000", "blocks": plan}},
                      learned=learned)
    assert learned[0] == (m["id"], None)


def test_refused_block_leaves_the_meter_partial_with_the_other_values(line):
    m = meter(4, "sdm630")
    readings, stats = poll(line, [m], cycles=3)
    r = readings[m["id"]]
    assert r["status"] == "partial" and r["ts"] == NOW
    want = expected(m)
    for q in ("frequency_hz", "import_kwh", "export_kwh"):
        del want[q]
    approx_dict(r["values"], want)
    st = stats[m["id"]]
    assert st["failing"] == [[4, 0x46, 6]]  # one gap-free block: refused as a whole
    assert "exception 2" in st["error"]


def test_block_met_by_silence_is_split_and_the_rest_read(line):
    m = meter(5, "sdm630")
    readings, stats = poll(line, [m], cycles=2)
    r = readings[m["id"]]
    assert r["status"] == "partial"
    want = expected(m)
    del want["power_w"]
    approx_dict(r["values"], want)
    assert stats[m["id"]]["failing"] == [[4, 0x34, 2]]
    assert "no response" in stats[m["id"]]["error"]


def test_device_settings_from_meter(line):
    m = meter(2, "sdm630", max_registers=4, timeout_ms=300, retries=1, turnaround_ms=5)
    assert m["max_registers"] == 4 and m["turnaround_ms"] == 5
    line.clear_log()
    readings, _stats = poll(line, [m])
    assert readings[m["id"]]["status"] == "ok"
    assert max(c for _f, _r, c in line.requests(2)) <= 4


def test_plausible_helper_is_what_the_image_holds():
    assert plausible("voltage_l2") == 231.5 and plausible("power_w") == 1234.5


# ---- bus scan ----


def _with_text(device, function, register, text, count):
    """``device`` with ``text`` (an id string) in ``count`` registers at ``register``."""
    raw = text.encode().ljust(2 * count, b"\0")
    image = device.holding if function == 3 else device.inputs
    for k in range(count):
        image[register + k] = raw[2 * k] << 8 | raw[2 * k + 1]
    return device


def _scan_world():
    """Six devices of different families: address -> (device, profile the scan must name).
    Eastron meters and the DTSU666 are told apart by plausible values at their registers, the
    Huawei inverter and the Schneider meter by their profiles' signatures (id text), the
    SunSpec device by its "SunS" marker."""
    from dingate.testing.strict import StrictDevice, sunspec_image

    sunspec = StrictDevice(7, holding=sunspec_image("Fronius", "Symo 5.0-3-M", "SN123456"))
    sig = dict(profiles.signatures())
    huawei = _with_text(device_from_specs(11, specs(meter(11, "huawei_sun2000"))), 3,
                        sig["huawei_sun2000"]["register"], "SUN2000-5KTL-L1",
                        sig["huawei_sun2000"]["count"])
    iem = _with_text(device_from_specs(12, specs(meter(12, "iem3155"))), 3,
                     sig["iem3155"]["register"], "iEM3155", sig["iem3155"]["count"])
    return {
        3: (device_from_specs(3, specs(meter(3, "sdm120"))), "sdm120"),
        5: (device_from_specs(5, specs(meter(5, "sdm630"))), "sdm630"),
        7: (sunspec, "sunspec" if "sunspec" in profiles.names() else None),
        11: (huawei, "huawei_sun2000"),
        12: (iem, "iem3155"),
        16: (device_from_specs(16, specs(meter(16, "dtsu666"))), "dtsu666"),
    }


def test_scan_finds_and_identifies_six_families_while_polling_goes_on():
    from gateway.services.scan import BusScan

    world = _scan_world()
    peer = StrictLine([d for d, _p in world.values()])
    polled = [meter(3, "sdm120"), dict(meter(5, "sdm630"), id="2")]

    async def main():
        port = await open_tcp("127.0.0.1", peer.port)
        master = RtuMaster(port)
        poller = Poller(master, polled, BUS, clock=lambda: NOW)
        scan = BusScan(master, probe_timeout_ms=250)
        task = asyncio.create_task(poller.run())
        try:
            while poller.cycles < 2:  # the meters' split reads learned (one refusal each)
                await poller.cycle_event.wait()
            before = {a: master.counters(a) for a in (3, 5)}
            scan.start(1, 20)
            poller.extra = scan
            seen = []
            for _ in range(1200):
                seen.append(scan.state()["progress"])
                if not scan.state()["running"]:
                    break
                await asyncio.sleep(0.05)
            cycles = poller.cycles
            readings = poller.readings()
            after = {a: master.counters(a) for a in (3, 5)}
            return scan.state(), seen, cycles, readings, set(master._counters), before, after
        finally:
            task.cancel()
            port.close()

    try:
        state, seen, cycles, readings, counted, before, after = asyncio.run(main())
    finally:
        peer.stop()
    assert state["running"] is False and state["progress"] == 1.0
    assert seen == sorted(seen) and any(0 < p < 1 for p in seen)
    got = {f["address"]: f for f in state["found"]}
    assert sorted(got) == sorted(world)
    for a, (_d, profile) in world.items():
        assert got[a]["profile"] == profile, got[a]
    assert "Fronius Symo 5.0-3-M" in got[7]["detail"] and "SN123456" in got[7]["detail"]
    assert "voltage_l3" in got[5]["detail"]
    assert cycles >= 3  # polling went on
    assert all(r["status"] == "ok" for r in readings.values())
    assert counted <= {3, 5}  # probed addresses leave no counters behind
    # the scan's reads (other profiles' registers, refused by these strict meters) are the
    # scan's own traffic: the polled meters' counters show only their polling, all answered
    for a, c in after.items():
        assert c["requests"] > before[a]["requests"], (a, c)
        for k in ("exceptions", "timeouts", "wrong_frames"):
            assert c[k] == before[a][k], (a, before[a], c)
    sc = state["counters"]
    assert sc["exceptions"] > 0 and sc["timeouts"] > 0, sc  # refused reads; silent addresses
    assert sc["requests"] == sum(sc[k] for k in sc if k != "requests"), sc


def _with_id(device, register, words):
    for k, w in enumerate(words):
        device.holding[register + k] = w
    return device


def test_scan_tells_apart_devices_of_one_register_map_by_their_id_registers():
    """Devices whose values fit several profiles (an SDM630, its CT variant and an SDM72D-M v2 read
    the same registers; an EM24 and an EM340 too) are named by their id registers: the emulator's
    own Eastron meters (product code at 0xFC02), an ABB B23 (type text at 0x8960), an EM24 (model
    id at 0x000B) and a PRO380 (model id at 0x1010), each as its profile's signature cites."""
    from dingate.emulator.devices import make_device
    from gateway.services.scan import BusScan

    def strict(address, profile):
        return device_from_specs(address, specs(meter(address, profile)))

    world = {
        1: (make_device({"type": "sdm630", "address": 1}), "sdm630", "Eastron product code 112"),
        2: (make_device({"type": "sdm630mct", "address": 2}), "sdm630mct",
            "Eastron product code 121"),
        3: (make_device({"type": "sdm120", "address": 3}), "sdm120", "Eastron product code 32"),
        4: (_with_id(strict(4, "sdm72dv2"), 0xFC02, [137]), "sdm72dv2",
            "Eastron product code 137"),
        5: (_with_id(strict(5, "abb_b23"), 0x8960, [0x4232, 0x3320]), "abb_b23", "B23"),
        6: (_with_id(strict(6, "em24"), 0x000B, [1650]), "em24", "Carlo Gavazzi model id 1650"),
        7: (_with_id(strict(7, "pro380"), 0x1010, [0x2007]), "pro380", "Inepro model id 8199"),
        8: (strict(8, "em340"), "em24", None),  # no id register: its values fit EM24 and EM340
    }
    peer = StrictLine([d for d, _p, _t in world.values()])

    async def main():
        port = await open_tcp("127.0.0.1", peer.port)
        master = RtuMaster(port)
        master.configure(BUS)
        scan = BusScan(master, probe_timeout_ms=250)
        scan.start(1, 9)
        try:
            while await scan.step():
                pass
            return scan.state()
        finally:
            port.close()

    try:
        state = asyncio.run(main())
    finally:
        peer.stop()
    got = {f["address"]: f for f in state["found"]}
    assert sorted(got) == sorted(world)
    for a, (_d, profile, detail) in world.items():
        assert got[a]["profile"] == profile, got[a]
        if detail is not None:
            assert got[a]["detail"] == detail, got[a]
    assert "also fits: em340" in got[8]["detail"]  # told by values only: said so


LIBRARY = [n for n in profiles.names() if n not in ("generic", "sunspec")]


@pytest.mark.parametrize("profile", LIBRARY)
def test_every_library_profile_reads_every_quantity_from_a_strict_device(profile):
    m = meter(9, profile)
    peer = StrictLine([device_from_specs(9, specs(m))])
    try:
        readings, stats = poll(peer, [m], cycles=2)
    finally:
        peer.stop()
    r = readings[m["id"]]
    assert r["status"] == "ok", stats[m["id"]]
    want = {q: v for q, v in expected(m).items() if not q.startswith("_")}
    # "alarms": the count of active fault codes, derived from the fault registers (alarms.py)
    approx_dict({q: v for q, v in r["values"].items() if q != "alarms"}, want)


# ---- dead meters ----


def test_dead_meters_back_off_and_are_probed_one_at_a_time():
    one = [{"quantity": "power_w", "function": 4, "register": 0, "type": "f32"}]
    ms = []
    for a in range(1, 9):
        ms.append(validate_meter({"address": a, "profile": "generic", "registers": one}, ms))
    dead = {2, 4, 6, 8}
    line = ScriptedMaster({a: [modbus.NoResponse("silent")] for a in dead})  # the others answer
    poller = Poller(line, ms, BUS, clock=lambda: NOW, offline_after=2, probe_every=2,
                    max_backoff=8)
    per_cycle = []

    async def main():
        for _ in range(60):
            line.calls.clear()
            await poller.poll_once()
            per_cycle.append([a for a, _retries in line.calls if a in dead])

    asyncio.run(main())
    assert all(len(c) <= 1 for c in per_cycle[2:])  # after going offline: one probe a cycle
    late = [a for c in per_cycle[28:60] for a in c]  # back-off at its cap: 8 cycles apart
    assert sorted(set(late)) == sorted(dead) and len(late) <= 4 * (32 // 8 + 1)
    for a in dead:
        probes = [i for i, c in enumerate(per_cycle) if a in c and i >= 2]
        gaps = [b - a_ for a_, b in zip(probes, probes[1:])]
        assert gaps == sorted(gaps) and max(gaps) <= 8 + 3  # growing, capped (a wait or 3)
    assert all(poller.readings()[m["id"]]["status"] == "ok" for m in ms if m["address"] not in dead)
