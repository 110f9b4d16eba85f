"""Inverter alarms: codes of the seed manuals decoded to EN/FR/NL, fault registers counted,
appearances and clearances logged with the device (issue 18)."""
import asyncio

from gateway.core import alarms, profiles, registers
from gateway.core.event_codes import text
from gateway.services.alarms import AlarmMonitor

# the IMEON codes of the IMA-BOX manual (section 9): 1-112 with its gaps
IMEON = (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 22, 23, 24, 25, 26, 27, 30, 32) \
    + tuple(range(35, 79)) + tuple(range(87, 113))


def test_every_imeon_code_decodes_in_three_languages():
    for code in IMEON:
        texts = [alarms.text("imeon", code, lang) for lang in ("en", "fr", "nl")]
        for t in texts:
            assert t.startswith("%d " % code) and len(t) > len("%d " % code) + 3, t
        assert len(set(texts)) == 3, texts  # really translated
    assert alarms.text("imeon", 71) == "71 Battery disconnected."
    assert alarms.text("imeon", 71, "fr") == "71 Batterie déconnectée."
    assert alarms.text("imeon", 71, "nl") == "71 Batterij losgekoppeld."
    assert alarms.text("imeon", 112) == "112 Neutral / Ground wires are reversed."
    assert alarms.text("imeon", 8) == "8 (unknown code)"  # not in the manual
    assert alarms.text("imeon", 8, "fr") == "8 (code inconnu)"


def test_aura_fault_and_warning_codes_decode():
    for code in (0, 1, 2) + tuple(range(4, 21)) + (32,):
        for lang in ("en", "fr", "nl"):
            assert alarms.text("aura_f", code, lang).startswith("F%02d " % code)
    for code in range(29):
        assert alarms.text("aura_w", code, "nl").startswith("W%02d " % code)
    assert alarms.text("aura_f", 5, "fr") == "F05 Tension bus haute"
    assert alarms.text("aura_f", 5) == "F05 Bus voltage high"
    assert alarms.text("aura_f", 11, "fr") == "F11 Surtension continue onduleur (DC)"
    assert alarms.text("aura_w", 28, "fr") == "W28 Transformateur de courant (TC) inversé"
    assert alarms.text("aura_w", 12, "nl") == "W12 Ventilatorfout"
    assert alarms.text("aura_f", 3) == "F03 (unknown code)"
    assert alarms.text(None, 7) == "alarm 7"


def test_inverter_profiles_decode_their_fault_registers_in_three_languages():
    """Huawei SUN2000 (Alarm 1-3, one bit each: codes 0-47) and Growatt (fault code register 40,
    warning bits register 64): every code has its text in en, fr and nl."""
    for name, tables in (("huawei_sun2000", ["huawei"] * 3), ("growatt", ["growatt_f", "growatt_w"])):
        faults = profiles.faults({"profile": name})
        assert [f["table"] for f in faults] == tables, name
    sizes = {"huawei": list(range(48)), "growatt_f": list(range(1, 33)),
             "growatt_w": list(range(10))}
    for table, codes in sizes.items():
        assert table in alarms.TABLES
        for code in codes:
            texts = [alarms.text(table, code, lang) for lang in alarms.LANGS]
            assert len(set(texts)) == 3, (table, code, texts)  # translated, not copied
            assert all("inconnu" not in t and "unknown" not in t for t in texts), (table, code)
        assert "unknown code" in alarms.text(table, codes[-1] + 1)
    assert alarms.text("huawei", 8, "fr") == "A08 Sous-tension réseau (ID 2033)"
    assert alarms.text("growatt_f", 26, "nl") == "F26 PV-isolatie laag"
    assert alarms.text("growatt_w", 0) == "W00 Fan warning"
    # Growatt's warning word: 0x0101 is a fan warning and a PV short circuit
    warn = profiles.faults({"profile": "growatt"})[1]
    assert list(alarms.codes(warn, 0x0101)) == [0, 8]
    assert alarms.active(profiles.faults({"profile": "growatt"}), {"_fault0": 29, "_fault1": 2}) \
        == {("growatt_f", 29), ("growatt_w", 1)}


def test_fault_words_give_codes():
    bits = {"kind": "bits", "first": 16}
    assert alarms.codes(bits, 0) == ()
    assert alarms.codes(bits, 0b1001) == [16, 19]
    assert alarms.codes({"kind": "code"}, 42) == (42,)
    faults = [{"kind": "bits", "table": "aura_f", "first": 0},
              {"kind": "bits", "table": "aura_f", "first": 16},
              {"kind": "code", "table": "imeon"}]
    got = alarms.active(faults, {"_fault0": 0b100000, "_fault1": 0, "_fault2": 71})
    assert got == {("aura_f", 5), ("imeon", 71)}
    appeared, cleared = alarms.changes({("aura_f", 5), ("aura_f", 2)}, got)
    assert appeared == [("imeon", 71)] and cleared == [("aura_f", 2)]
    assert alarms.event_name("aura_f", 5, "fr") == "F05 Tension bus haute"
    assert alarms.event_name("imeon", 71) == "71 Battery disconnected"  # no final full stop


def test_solis_status_register_holds_states_below_its_alarm_codes():
    """Solis' 33095: 0x0003 is "generating" (a state, no alarm), 0x1015 is alarm 1015 NO-Grid,
    the code the inverter display shows; every code has its words in three languages."""
    status, = profiles.faults({"profile": "solis_hybrid"})
    assert (status["register"], status["kind"], status["table"]) == (33095, "code", "solis")
    assert alarms.codes(status, 3) == () and alarms.codes(status, 0x100E) == ()
    assert alarms.codes(status, 0x1015) == (0x1015,)
    assert alarms.text("solis", 0x1015) == "1015 No grid (NO-Grid)"
    assert alarms.text("solis", 0x1010, "fr") == "1010 Surtension réseau (OV-G-V)"
    assert alarms.text("solis", 0x2011, "nl") == "2011 Communicatie met de meter verbroken"
    assert alarms.text("solis", 0x1099) == "1099 (unknown code)"
    table = alarms._table("solis")["codes"]
    assert len(table) >= 50 and min(int(c) for c in table) == status["min"]
    for code in table:
        texts = [alarms.text("solis", int(code), lang) for lang in alarms.LANGS]
        assert len(set(texts)) == 3, texts


def test_a_magnitude_takes_its_sign_from_a_direction_register():
    """Solis' battery power (33149) is a magnitude, 33135 says 0 charging, 1 discharging."""
    specs = profiles.registers({"profile": "solis_hybrid"})
    plan = registers.plan(specs, 10)
    for direction, want in ((0, 1500), (1, -1500)):
        values = {"battery_w": 1500, "_batt_dir": direction, "inverter_state": 3, "_fault0": 3}
        hidden = {}
        registers.finish(plan, values, hidden)
        assert values == {"battery_w": want, "inverter_state": 3, "alarms": 0}
        assert hidden == {"_batt_dir": direction, "_fault0": 3}
    values = {"battery_w": 1500}  # the direction not read: no value rather than a wrong sign
    assert registers.finish(plan, values) == {}


INVERTER = {"title": "test inverter", "kind": "inverter", "source": "test", "function": 4,
            "type": "u16", "registers": [["power_w", 0]],
            "faults": [{"register": 10, "type": "u32", "kind": "bits", "table": "aura_f"},
                       {"register": 12, "kind": "bits", "table": "aura_w"},
                       {"function": 3, "register": 5, "kind": "code", "table": "imeon"}]}


def _with_test_profile(fn):
    """``fn()`` with the library holding one more profile, INVERTER as "x_inverter"."""
    read = profiles._read
    profiles._read = lambda name: INVERTER if name == "x_inverter" else read(name)
    names = profiles.names()
    names.append("x_inverter")
    try:
        return fn()
    finally:
        names.remove("x_inverter")
        profiles._read = read
        profiles.forget([n for n in profiles._cache if n != "x_inverter"])


def test_the_poller_counts_alarms_and_keeps_the_fault_words_apart():
    def check():
        specs = profiles.registers({"profile": "x_inverter"})
        assert [s["quantity"] for s in specs] == ["power_w", "_fault0", "_fault1", "_fault2"]
        assert specs[1]["type"] == "u32" and specs[1]["function"] == 4
        assert specs[3]["function"] == 3 and specs[3]["type"] == "u16"
        plan = registers.plan(specs, 10)
        values = {"power_w": 1500, "_fault0": (1 << 5) | (1 << 31), "_fault1": 0,
                  "_fault2": 71}
        hidden = {}
        registers.finish(plan, values, hidden)
        assert values == {"power_w": 1500, "alarms": 3}
        assert hidden == {"_fault0": (1 << 5) | (1 << 31), "_fault1": 0, "_fault2": 71}
        return hidden

    _with_test_profile(check)


class _Poller:
    def __init__(self):
        self.words = {}

    def hidden(self, mid):
        return self.words.get(mid)


def test_the_monitor_logs_what_appeared_and_cleared():
    def check():
        poller = _Poller()
        log = []
        meters = [{"id": "4", "profile": "x_inverter"}, {"id": "5", "profile": "sdm630"}]
        mon = AlarmMonitor(poller, lambda: meters, lambda *e: log.append(e), lambda: "fr")
        mon.check()
        assert log == []  # not read yet
        poller.words["4"] = {"_fault0": 1 << 5, "_fault1": 0, "_fault2": 0}
        mon.check()
        assert log == [("alarm", "meter 4", "alarm.on", {"alarm": "F05 Tension bus haute"})]
        mon.check()
        assert len(log) == 1  # unchanged: nothing new
        poller.words["4"] = {"_fault0": 0, "_fault1": 1 << 28, "_fault2": 97}
        mon.check()
        assert log[1:] == [
            ("alarm", "meter 4", "alarm.on",
             {"alarm": "W28 Transformateur de courant (TC) inversé"}),
            ("alarm", "meter 4", "alarm.on",
             {"alarm": "97 Communication perdue entre l'onduleur et le compteur (Smart Meter)"}),
            ("alarm", "meter 4", "alarm.off", {"alarm": "F05 Tension bus haute"}),
        ]
        assert text("alarm.off", log[-1][3]) == "F05 Tension bus haute: cleared"

    _with_test_profile(check)


def test_identify_reads_each_signature_once():
    calls = []

    async def read(fc, reg, count):
        calls.append((fc, reg, count))
        if reg == 30000:
            text = b"SUN2000-10KTL-M1"
            text += b"\0" * (2 * count - len(text))
            return [text[i] << 8 | text[i + 1] for i in range(0, 2 * count, 2)]
        return None

    got = asyncio.run(profiles.identify(read))
    assert got == ("huawei_sun2000", "SUN2000-10KTL-M1")
    assert len(calls) == len(set(calls))


def test_home_assistant_gets_a_problem_binary_sensor_for_alarms():
    import json

    from gateway.core import ha_discovery

    dev = ha_discovery.device("AB12", "1.0")
    meter = {"id": "4", "name": "Inverter", "quantities": ["power_w", "alarms"]}
    items = list(ha_discovery.meter_configs("dingate/AB12", dev, "1.0", meter))
    topics = [t for t, _ in items]
    node = dev["identifiers"][0]
    assert "homeassistant/binary_sensor/%s/m4_alarms/config" % node in topics
    assert "homeassistant/sensor/%s/m4_power_w/config" % node in topics
    cfg = json.loads([p for t, p in items if "binary_sensor" in t][0])
    assert cfg["device_class"] == "problem" and "state_class" not in cfg
    assert cfg["payload_on"] == "ON" and "value_json.alarms" in cfg["value_template"]
    assert list(ha_discovery.topics(node, [meter], genset=False)) == topics


def test_a_meter_lists_its_own_fault_registers():
    from _assert import raises

    from gateway.core.errors import ValidationError
    from gateway.core.meters import validate_meter

    faults = [{"function": 4, "register": 33116, "type": "u32", "kind": "bits",
               "table": "aura_f"}, {"register": 33120, "kind": "bits", "table": "aura_w"}]
    m = validate_meter({"address": 5, "profile": "solis_hybrid", "faults": faults}, [])
    assert m["faults"][1] == {"register": 33120, "function": 3, "type": "u16", "kind": "bits",
                              "table": "aura_w", "first": 0}
    specs = profiles.registers(m)
    hidden = [s for s in specs if s["quantity"].startswith("_fault")]
    assert [(s["function"], s["register"], s["type"]) for s in hidden] == [
        (4, 33116, "u32"), (3, 33120, "u16")]
    assert profiles.faults(m) == m["faults"]
    g = validate_meter({"address": 6, "profile": "generic", "faults": faults[:1], "registers": [
        {"quantity": "power_w", "register": 1}]}, [])
    assert [s["quantity"] for s in profiles.registers(g)] == ["power_w", "_fault0"]
    for bad, word in (([{"register": -1}], "register"), ([{"register": 1, "kind": "x"}], "kind"),
                      ([{"register": 1, "table": "nope"}], "table"), ("x", "list"),
                      ([{"register": 1}] * 5, "list"), ([{"register": 1, "type": "f32"}], "type"),
                      ([{"register": 1, "kind": "code", "min": 0}], "min")):
        e = raises(ValidationError, validate_meter, {"address": 7, "profile": "growatt",
                                                     "faults": bad}, [])
        assert e.field == "faults" and word in str(e), (bad, str(e))
