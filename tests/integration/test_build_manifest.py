"""The build ships exactly what the firmware imports, listed by feature in firmware/manifest.py
(dingate.manifest): no test-only or dead module on the board, none the firmware needs missing."""
from dingate import boards, build, manifest


def test_manifest_lists_exactly_the_imported_modules():
    feats = manifest.features()
    listed = [m for mods in feats.values() for m in mods]
    assert len(listed) == len(set(listed)), "a module is listed in two features"
    imported = manifest.imported()
    assert sorted(imported - set(listed)) == [], "imported but in no feature of firmware/manifest.py"
    assert sorted(set(listed) - imported) == [], "listed but never imported: dead or test-only"
    assert "base" in feats and "gateway.app" in feats["base"]


def test_the_build_ships_the_manifest_and_nothing_else():
    board = boards.load("emulator")
    shipped = set(p for p, _src, how in build.sources(board) if how == "mpy" and
                  p.startswith("/lib/gateway/"))
    want = set(manifest.source_path(m)[0] for m in manifest.shipped(board))
    assert shipped == want
    for test_only in ("/lib/gateway/core/mqtt_server_packets.mpy",):
        assert test_only not in shipped
    assert "/lib/gateway/lib/mqtt.mpy" in shipped and "/lib/gateway/core/check.mpy" in shipped


def test_a_feature_left_out_is_not_shipped():
    board = dict(boards.load("emulator"), features_left_out=["modbus_tcp"])
    shipped = manifest.shipped(board)
    assert "gateway.services.modbus_tcp" not in shipped and "gateway.core.modbus_map" not in shipped
    # the SunSpec map is the Modbus TCP server's (core/modbus_map.py serves it): it goes with it
    assert "gateway.core.sunspec_map" in manifest.features()["modbus_tcp"]
    assert "gateway.core.sunspec_map" not in shipped
    assert "gateway.core.sunspec" in shipped  # the field bus's SunSpec discovery stays
    assert "gateway.app" in shipped


def _reachable_without(left_out):
    """The modules boot.py and main.py reach when the walk never enters ``left_out``."""
    known = manifest.modules()
    seen = set()
    todo = list(manifest.SCRIPTS)
    while todo:
        n = todo.pop()
        if n not in seen and n not in left_out:
            seen.add(n)
            todo.extend(manifest.references(n, known[n], known) - seen)
    return seen - set(manifest.SCRIPTS)


def test_each_feature_holds_the_modules_only_it_reaches():
    """Leaving a feature out ships exactly what the firmware still reaches without it: no
    module stays behind that only the left-out feature imports (it belongs to that feature),
    none that the rest still reaches is taken away (it belongs to base or to both)."""
    board = boards.load("emulator")
    for feat, mods in manifest.features().items():
        if feat == "base":
            continue
        shipped = manifest.shipped(dict(board, features_left_out=[feat]))
        reach = _reachable_without(set(mods))
        assert sorted(shipped - reach) == [], (feat, "only reached through it: move to %s" % feat)
        assert sorted(reach - shipped) == [], (feat, "still reached without it: not its own")


def test_the_import_walk_sees_lazy_and_on_demand_imports():
    imported = manifest.imported()
    assert "gateway.core.genset_config" in imported  # ondemand.call("gateway.core.genset_config")
    assert "gateway.web.api_meters" in imported  # the dispatch table's strings
    assert "gateway.services.captive_dns" in imported  # ondemand.keep(...) in app.run
