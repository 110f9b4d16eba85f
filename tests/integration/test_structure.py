"""The firmware's shape, read from its source: the layers import downwards only, and the Device
declares every attribute in __init__ (nothing else adds one; docs/decisions/0005)."""
import ast
import os

from dingate import manifest

LAYER = {"core": 0, "lib": 0, "drivers": 1, "services": 2, "web": 3}
HARDWARE = ("machine", "network", "esp32", "esp")
DEVICE_NAMES = ("ctx", "dev", "device")


def _tree(path):
    with open(path) as f:
        return ast.parse(f.read())


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def _layer(name):
    parts = name.split(".")
    return LAYER.get(parts[1]) if len(parts) > 2 and parts[0] == "gateway" else None


def test_layers_import_downwards_and_only_drivers_touch_hardware():
    bad = []
    for name, path in manifest.modules().items():
        own = _layer(name)
        if own is None:
            continue
        for imp in _imports(_tree(path)):
            if imp.split(".")[0] in HARDWARE and not name.startswith("gateway.drivers."):
                bad.append("%s imports %s" % (name, imp))
            other = _layer(imp + ".x") if imp.count(".") == 1 else _layer(imp)
            if other is not None and other > own:
                bad.append("%s imports %s (a higher layer)" % (name, imp))
    assert bad == []


def _declared():
    tree = _tree(manifest.modules()["gateway.app"])
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Device")
    names = set()
    for item in cls.body:
        if isinstance(item, ast.FunctionDef):
            names.add(item.name)  # methods and properties
            if item.name == "__init__":
                for node in ast.walk(item):
                    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                            and node.value.id == "self" and isinstance(node.ctx, ast.Store)):
                        names.add(node.attr)
    return names


def test_device_attributes_are_declared_in_init():
    declared = _declared()
    assert {"meters", "storage", "panel", "clock", "before_reboot", "upload_busy", "genset",
            "mqtt", "services", "web", "modbus_tcp"} <= declared
    added = []
    for name, path in manifest.modules().items():
        for node in ast.walk(_tree(path)):
            if not (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)):
                continue
            target = node.value
            dev = (isinstance(target, ast.Name) and target.id in DEVICE_NAMES) or (
                isinstance(target, ast.Attribute) and target.attr in ("dev", "_dev")
                and isinstance(target.value, ast.Name) and target.value.id == "self")
            if dev and node.attr not in declared and not _is_ssl_context(name, node):
                added.append("%s sets %s.%s" % (name, ast.unparse(target), node.attr))
            if isinstance(node, ast.Attribute) and name != "gateway.app" and dev and \
                    node.attr.startswith("_"):
                added.append("%s sets a private %s.%s" % (name, ast.unparse(target), node.attr))
    assert added == []


def _is_ssl_context(module, node):
    # lib/mqtt.py names its ssl.SSLContext ``ctx``: not the Device
    return module == "gateway.lib.mqtt" and node.attr in ("verify_mode", "check_hostname")


def test_no_getattr_guards_on_the_device():
    found = []
    for name, path in manifest.modules().items():
        for node in ast.walk(_tree(path)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr", "setattr") and node.args
                    and isinstance(node.args[0], ast.Name) and node.args[0].id in DEVICE_NAMES):
                found.append("%s: %s" % (name, ast.unparse(node)))
    assert found == []


def test_test_only_code_stays_on_the_host():
    mods = manifest.modules()
    assert "gateway.core.mqtt_server_packets" not in mods
    assert os.path.exists(os.path.join(os.path.dirname(manifest.__file__), "testing",
                                       "mqtt_server_packets.py"))
    rtu = mods["gateway.services.rtu"]
    src = open(rtu).read()
    assert "class StreamPort" not in src and "def open_tcp" not in src
