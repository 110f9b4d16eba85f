"""The device library end to end (issue 18), the firmware under the MicroPython unix port on an
outside line of strict devices: GET /api/profiles lists the library read from the board's files;
a SunSpec meter added without its layout is discovered on the line and read with its scale
factors; an inverter's alarm appears in /api/readings (``alarms``) and in the event log, then
clears; an AURA's fault words decode to the Solarman manual's codes, in French; a Solis' status
register gives its display's alarm codes and its battery power takes its sign from 33135; an
IMEON read with the installer's map shows the IMA-BOX manual's codes."""
import pytest

from dingate.testing.emuproc import EmulatorProcess
from dingate.testing.strict import StrictDevice, StrictLine, device_from_specs
from gateway.core import profiles, sunspec


def sunspec_device(address):
    return StrictDevice(address, holding=sunspec.image([
        (1, {"Mn": "TestCo", "Md": "M203", "SN": "77"}),
        (203, {"W": 2345, "W_SF": 0, "PhVphA": 2311, "V_SF": -1, "TotWhImp": 12873400,
               "TotWh_SF": 0})]))


# an AURA/Solis hybrid whose fault words the installer lists (from the inverter's document)
SOLIS = {"address": 4, "profile": "solis_hybrid", "name": "AURA",
         "faults": [{"function": 4, "register": 33116, "type": "u32", "kind": "bits",
                     "table": "aura_f"},
                    {"function": 4, "register": 33120, "type": "u32", "kind": "bits",
                     "table": "aura_w"}]}


@pytest.fixture(scope="module")
def line():
    huawei = device_from_specs(3, profiles.registers({"profile": "huawei_sun2000"}),
                               {"_fault0": 0, "_fault1": 0, "_fault2": 0})
    solis = device_from_specs(4, profiles.registers(SOLIS), {"_fault0": 0, "_fault1": 0})
    plain = device_from_specs(5, profiles.registers({"profile": "solis_hybrid"}),
                              {"battery_w": -800, "inverter_state": 3, "_fault0": 3})
    imeon = StrictDevice(6, holding={0: 2500, 10: 0})  # the installer's IMEON map: W, fault
    peer = StrictLine([sunspec_device(2), huawei, solis, plain, imeon])
    peer.huawei, peer.solis, peer.plain, peer.imeon = huawei, solis, plain, imeon
    yield peer
    peer.stop()


def test_library_sunspec_and_alarms_on_the_device(line, tmp_path):
    emu = EmulatorProcess(bus=line.url, state_dir=str(tmp_path / "state"))
    emu.scenario = None
    try:
        emu.start()
        emu.login()
        lib = emu.api("GET", "/api/profiles").json()
        names = [p["name"] for p in lib]
        assert len(lib) >= 20 and "sunspec" in names and "dtsu666" in names
        assert all(p["title"] for p in lib)
        assert next(p for p in lib if p["name"] == "huawei_sun2000")["faults"] is True
        mct = next(p for p in lib if p["name"] == "sdm630mct")  # found by its own name
        sdm630 = next(p for p in lib if p["name"] == "sdm630")
        assert mct["alias"] == "sdm630" and mct["title"].startswith("Eastron SDM630MCT")
        assert mct["quantities"] == sdm630["quantities"] and "alias" not in sdm630

        meter, = emu.create("/api/meters", {"name": "SunSpec meter", "address": 2,
                                            "profile": "sunspec"})
        assert meter["sunspec"] == [[1, 40004], [203, 40072]]
        bad = emu.api("POST", "/api/meters", {"name": "Nobody", "address": 9,
                                              "profile": "sunspec"})
        assert bad.status_code == 400 and bad.json()["field"] == "profile"
        inverter, = emu.add_meters({"name": "Huawei", "address": 3, "profile": "huawei_sun2000"})

        def both_read():
            rd = emu.api("GET", "/api/readings").json()
            ok = [v for v in rd.values() if v["status"] == "ok"]
            return rd if len(ok) == 2 else None

        rd = emu.wait_for(both_read, timeout=40, what="both devices read")
        ss = next(v for k, v in rd.items() if k != inverter)["values"]
        assert ss == {"power_w": 2345, "voltage_l1": 231.1, "import_kwh": 12873.4}
        assert rd[inverter]["values"]["alarms"] == 0

        line._in_loop(line.huawei.holding.__setitem__, 32009, 1 << 2)  # alarm 18 appears
        a18 = "A18 Low insulation resistance (ID 2062)"  # profiles/alarms/huawei.json
        emu.wait_for(lambda: emu.api("GET", "/api/readings").json()[inverter]["values"].get(
            "alarms") == 1, timeout=30, what="the alarm counted")

        def logged(word):
            ev = emu.api("GET", "/api/events?type=alarm").json()
            return [e for e in ev if word in e["text"]] or None

        ev = emu.wait_for(lambda: logged("appeared"), timeout=30, what="alarm event")
        assert ev[0]["source"] == "meter %s" % inverter and ev[0]["text"] == a18 + ": appeared"
        assert ev[0]["code"] == "alarm.on" and ev[0]["params"] == {"alarm": a18}
        line._in_loop(line.huawei.holding.__setitem__, 32009, 0)
        ev = emu.wait_for(lambda: logged("cleared"), timeout=30, what="alarm cleared")
        assert ev[0]["text"] == a18 + ": cleared"

        # the AURA: codes of the Solarman manual, in the gateway's language
        assert emu.api("PUT", "/api/settings", {"language": "fr"}).status_code == 200
        solis, = emu.add_meters(SOLIS)
        line._in_loop(line.solis.inputs.__setitem__, 33117, 1 << 5)  # F05
        line._in_loop(line.solis.inputs.__setitem__, 33120, 1 << 12)  # W28: bit 28 of the u32

        def appeared():
            ev = emu.api("GET", "/api/events?type=alarm").json()
            ev = [e for e in ev if e["source"] == "meter %s" % solis and e.get("code") == "alarm.on"]
            return ev if len(ev) >= 2 else None

        ev = emu.wait_for(appeared, timeout=40, what="both AURA alarms")
        # the alarm's own words in the gateway's language; "appeared" is the page's word
        names = sorted(e["params"]["alarm"] for e in ev)
        assert names == ["F05 Tension bus haute",
                         "W28 Transformateur de courant (TC) inversé"], names
        assert all(e["text"] == e["params"]["alarm"] + ": appeared" for e in ev)

        # a Solis as its profile reads it: battery power signed by its direction register, the
        # status register's alarm code (what the inverter display shows) in the event log
        plain, = emu.add_meters({"name": "Solis", "address": 5, "profile": "solis_hybrid"})
        r = emu.wait_for(lambda: emu.api("GET", "/api/readings").json()[plain].get("values"),
                         timeout=40, what="the Solis read")
        assert (r["battery_w"], r["inverter_state"], r["alarms"]) == (-800, 3, 0)
        line._in_loop(line.plain.inputs.__setitem__, 33095, 0x1015)

        def solis_alarm(code):
            ev = emu.api("GET", "/api/events?type=alarm").json()
            return [e for e in ev if e["source"] == "meter %s" % plain and e["code"] == code]

        ev = emu.wait_for(lambda: solis_alarm("alarm.on"), timeout=40, what="the Solis alarm")
        assert ev[0]["params"] == {"alarm": "1015 Pas de réseau (NO-Grid)"}
        line._in_loop(line.plain.inputs.__setitem__, 33095, 3)
        emu.wait_for(lambda: solis_alarm("alarm.off"), timeout=40, what="the Solis alarm cleared")

        # an IMEON (no public map: docs/device-library.md): generic rows and its fault register
        # from the map IMEON gives the installer, decoded with the IMA-BOX manual's codes
        imeon, = emu.add_meters({"name": "IMEON", "address": 6, "profile": "generic",
                                 "registers": [{"quantity": "power_w", "register": 0}],
                                 "faults": [{"register": 10, "kind": "code", "table": "imeon"}]})
        line._in_loop(line.imeon.holding.__setitem__, 10, 71)

        def imeon_alarm():
            ev = emu.api("GET", "/api/events?type=alarm").json()
            return [e for e in ev if e["source"] == "meter %s" % imeon] or None

        ev = emu.wait_for(imeon_alarm, timeout=40, what="the IMEON alarm")
        assert ev[0]["params"] == {"alarm": "71 Batterie déconnectée"}, ev[0]
        assert emu.api("GET", "/api/readings").json()[imeon]["values"] == {"power_w": 2500,
                                                                           "alarms": 1}
    finally:
        emu.stop()
