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
    assert "gateway.app" in shipped


def test_the_import_walk_sees_lazy_and_on_demand_imports():
    imported = manifest.imported()
    assert "gateway.core.genset_config" in imported  # ondemand.call("gateway.core.genset_config")
    assert "gateway.web.api_meters" in imported  # the dispatch table's strings
    assert "gateway.services.captive_dns" in imported  # ondemand.keep(...) in app.run
