"""The firmware's heap in ESP32 bytes, per board (docs/decisions/0003, "Per board, measured").

Three runs of bench/heap32_probe.py, the same .mpy files (build/emulator), the same imports:
  rom64  the emulator's 64-bit MicroPython, code executed in place from the ROMFS image
  fs64   the same interpreter, code from the filesystem (bytecode copied into the heap)
  fs32   the 32-bit MicroPython WebAssembly port (npm, bench/wasm32), code from its filesystem
Each measures the resident code (every module the running gateway keeps) and a data workload
(32 meters as the configuration holds them, their readings, 16 sessions, Unix-epoch times).

What the WebAssembly port cannot stand in for (docs/decisions/0003, appendix): it has no
VfsRom (no code-in-ROMFS run at 32 bits), and its floats are doubles taking 32 bytes (an
ESP32's single-precision float takes 16), so its data figures over-count. Hence: code in ROMFS
at 32 bits = the 64-bit ROMFS code over decision 0003's ratio for it (1.77, a native 32-bit
build); code from the filesystem = the larger of the WebAssembly port's measurement and the
64-bit one over 0003's 1.40; data = the rest of the 64-bit peak (heap_peak_bytes, bench/heap.py,
less the emulated hardware's modules, C modules on a chip) over 0003's 1.41 (Unix-epoch
integers). A board running its code from ROMFS needs rom32 + data32, from the filesystem
fs32 + data32. The WebAssembly port's own ratios are reported beside (heap32_*).

Each probe also loads and drops, twice, every other module the board ships (as
core/ondemand.py does) and reports what stays: the names on-demand code interns (qstrs) are
never freed, so a gateway whose every page and service was used once keeps
``heap_ondemand_residue_esp32_bytes`` (ROMFS probe / 1.77) beyond its resident code. The peak
figures include only the part their load touched. The WebAssembly port cannot measure it: its
gc.collect() frees nothing within a run (a dropped 100 KB bytearray stays counted).

A board file that leaves features out ("features_left_out", the WROOM tier's) gets its own
figure: its resident code without those features' modules (probed again), and the data of its
own run (bench/heap.py on that board file, ``wroom_peak64``). ``heap_peak_bytes_esp32`` is the
WROOM tier's figure as its board file ships it; ``heap_peak_bytes_esp32_all_features`` the same
tier with every feature (the emulator board's run).
"""
import ast
import json
import os
import subprocess
import sys
import tempfile

from dingate import boards, paths
from dingate.paths import BUILD, ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
WASM = os.path.join(HERE, "wasm32")
STUBS = os.path.join(WASM, "stubs")
ROMFS_CODE_RATIO = 1.77  # docs/decisions/0003: 64-bit / 32-bit, code in ROMFS
FS_CODE_RATIO = 1.40  # the same, code from the filesystem
DATA_RATIO = 1.41  # the same, runtime data with Unix-epoch integers
# what the running gateway keeps imported (gateway.app.run and what it imports at module level)
RESIDENT = ("microdot", "gateway.app", "gateway.drivers.rs485", "gateway.services.meters",
            "gateway.web.captive", "gateway.web.pages", "gateway.services.storage",
            "gateway.drivers.relay", "gateway.core.genset", "gateway.services.genset",
            "gateway.services.mqtt_setup", "gateway.services.clock", "gateway.web.server",
            "gateway.services.uplink", "gateway.lib.mqtt")


LOAD_EXTRA = ("gateway.services.uplink",)  # optional services the WROOM tier's load runs (MQTT)


def wroom():
    """The WROOM tier's board file name (heap class "wroom")."""
    for name in boards.names():
        if (boards.load(name).get("heap") or {}).get("class") == "wroom":
            return name
    return None


def _resident(left_out=()):
    """The modules the WROOM tier's load keeps, without those of the features ``left_out``."""
    if not left_out:
        return _resident_all()
    from dingate import manifest

    feats = manifest.features()
    gone = set(m for f in left_out for m in feats.get(f, ()))
    return tuple(n for n in _resident_all() if n not in gone)


def _resident_all():
    """The modules the WROOM tier's load keeps: the firmware's declared resident set
    (gateway.app.RESIDENT) when it has one, else ours; and the optional ones it runs."""
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    try:
        with open(os.path.join(ROOT, "firmware", "gateway", "app.py")) as f:
            tree = ast.parse(f.read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    getattr(t, "id", None) == "RESIDENT" for t in node.targets):
                value = ast.literal_eval(node.value)
                names = list(value.values()) if isinstance(value, dict) else list(value)
                return tuple(["microdot", "gateway.app"] + names + list(LOAD_EXTRA))
    except (OSError, ValueError, SyntaxError):
        pass
    return RESIDENT


def _ondemand(left_out=()):
    """The gateway's modules a board with ``left_out`` ships (host/dingate/manifest.py): the
    probe loads and drops those not resident."""
    from dingate import manifest

    return sorted(n for n in manifest.shipped({"features_left_out": list(left_out)})
                  if n.startswith("gateway."))


def _script(lib, rom, stubs=STUBS, left_out=()):
    with open(os.path.join(HERE, "heap32_probe.py")) as f:
        text = f.read().replace("@LIB@", lib).replace("@ROM@", repr(bool(rom))).replace(
            "@RESIDENT@", ",".join(_resident(left_out))).replace("@STUBS@", stubs).replace(
            "@ONDEMAND@", ",".join(_ondemand(left_out)))
    fd, path = tempfile.mkstemp(suffix=".py", prefix="heap32-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def _parse(out, what):
    for line in out.splitlines():
        if line.startswith("PROBE "):
            return ast.literal_eval(line[6:])
    raise RuntimeError("%s probe failed:\n%s" % (what, out[-2000:]))


def probe64(rom, left_out=()):
    lib = os.path.join(BUILD, "emulator", "fs", "lib")
    script = _script(lib, rom, left_out=left_out)
    env = dict(os.environ, MICROPYPATH=STUBS)
    try:
        if rom:
            from dingate.emulator.runner import LAUNCHER

            env["DINGATE_ROMFS_IMAGE"] = os.path.join(BUILD, "emulator", "romfs.img")
            env["DINGATE_EMU"] = "{}"
            cmd = [sys.executable, LAUNCHER, "-X", "heapsize=8M", script]
        else:
            cmd = [paths.micropython(required=True), "-X", "heapsize=8M", script]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    finally:
        os.remove(script)
    return _parse(r.stdout + r.stderr, "64-bit %s" % ("ROMFS" if rom else "filesystem"))


def probe32():
    if not os.path.isdir(os.path.join(WASM, "node_modules")):
        raise RuntimeError("the 32-bit MicroPython is not installed: npm install in bench/wasm32 "
                           "(make setup does it)")
    script = _script("/lib", False, "/stubs")
    try:
        r = subprocess.run(["node", os.path.join(WASM, "run.mjs"), script,
                            os.path.join(BUILD, "emulator", "fs", "lib") + ":/lib",
                            STUBS + ":/stubs"], capture_output=True, text=True, cwd=WASM,
                           timeout=120, env=dict(os.environ))
    finally:
        os.remove(script)
    return _parse(r.stdout + r.stderr, "32-bit WebAssembly")


def run(peak64, wroom_peak64=None, wroom_live64=None):
    """Figures for the 64-bit true peak ``peak64`` (bench/heap.py's heap_peak_bytes, every
    feature) and ``wroom_peak64`` (the same load on the WROOM board file, its features left
    out; None: ``peak64``); ``wroom_live64``: that run's live heap after the load."""
    rom64, fs64 = probe64(True), probe64(False)
    fs32 = probe32()
    if fs32["bits"] != 32 or rom64["bits"] != 64:
        raise RuntimeError("word sizes: %s %s" % (rom64["bits"], fs32["bits"]))
    emu = boards.load("emulator")
    hw = emu["heap"].get("emulated_hardware_bytes", 0)
    code_rom32 = rom64["code"] / ROMFS_CODE_RATIO
    code_fs32 = max(fs32["code"], fs64["code"] / FS_CODE_RATIO)
    data64 = max(0, peak64 - hw - rom64["code"])
    data32 = data64 / DATA_RATIO
    residue_all = round(rom64["residue"] / ROMFS_CODE_RATIO)  # names left by on-demand code
    out = {
        "heap32_code_romfs_64_bytes": rom64["code"], "heap32_code_fs_64_bytes": fs64["code"],
        "heap32_code_fs_32_bytes": fs32["code"], "heap32_code_romfs_32_bytes": round(code_rom32),
        "heap32_code_fs_ratio": round(fs64["code"] / fs32["code"], 3),
        "heap32_data_64_bytes": fs64["data"], "heap32_data_32_bytes": fs32["data"],
        "heap32_data_ratio": round(fs64["data"] / fs32["data"], 3),
        "heap_peak_data_64_bytes": data64, "heap_peak_data_esp32_bytes": round(data32),
        "heap_peak_bytes_esp32_all_features": round(code_rom32 + data32),
        "heap_peak_data_esp32_all_features_bytes": round(data32),
        "heap_peak_bytes_esp32": round(code_rom32 + data32),
        "heap_peak_code_esp32_bytes": round(code_rom32), "heap_features_left_out": "",
        # what on-demand code leaves behind for good once every module was used (its qstrs)
        "heap32_ondemand_residue_romfs_64_bytes": rom64["residue"],
        "heap_ondemand_residue_esp32_all_features_bytes": residue_all,
        "heap_ondemand_residue_esp32_bytes": residue_all,  # the WROOM tier's below, if any
        "heap32_probe_failed_imports": ",".join(rom64["failed"]),
    }
    tier = wroom()
    for name in boards.names():
        b = boards.load(name)
        if b.get("chip") == "emulator":
            continue
        code, data = (code_rom32 if boards.code_location(b) == "romfs" else code_fs32), data32
        left = b.get("features_left_out") or ()
        residue = rom64["residue"]
        if left:  # its own resident set, and its own run's data for the WROOM tier
            mine = probe64(True, left)
            own, residue = mine["code"], mine["residue"]
            if boards.code_location(b) == "romfs":
                code = own / ROMFS_CODE_RATIO
            else:  # scaled by its share of the ROMFS probe
                code = code_fs32 * own / rom64["code"]
            if name == tier and wroom_peak64:
                data = max(0, wroom_peak64 - hw - own) / DATA_RATIO
            if name == tier and wroom_live64:  # what it keeps under the load, same split
                out["heap_live_bytes_esp32"] = round(code + max(0, wroom_live64 - hw - own)
                                                     / DATA_RATIO)
            out["heap_code_romfs_64_bytes_" + name] = own
        need = round(code + data)
        if name == tier:
            out["heap_ondemand_residue_esp32_bytes"] = round(residue / ROMFS_CODE_RATIO)
            out["heap_peak_bytes_esp32"] = need
            out["heap_peak_code_esp32_bytes"] = round(code)
            out["heap_peak_data_esp32_bytes"] = round(data)
            out["heap_features_left_out"] = ",".join(left)
        key = name  # the board file's name, as README "Memory" and bench/__init__.py spell the figure
        out["heap_peak_bytes_esp32_" + key] = need
        budget = (b.get("heap") or {}).get("bytes")
        if budget:
            out["heap_budget_bytes_" + key] = budget
            out["heap_headroom_bytes_" + key] = budget - need
    return out


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 0), indent=1))
