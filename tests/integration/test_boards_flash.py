"""Boards from stock MicroPython images (issue 15): every board builds; each chip board is flashed
by the real esptool through the emulated ROM bootloader and then boots the gateway from what was
written ("code": "filesystem" on the stock images, "romfs" on the lean tier 2 image); wrong-chip images and bad downloads are refused; a
filesystem board takes a firmware update from the page; provision and deploy work on a flashed
board."""
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading

import pytest
import requests

from dingate import boards, build, espimage, flash
from dingate.emulator.chipflash import FLASH_FILE
from dingate.paths import BUILD
from dingate.testing.clitools import BIN, dingate, run
from dingate.testing.emuproc import EmulatorProcess, free_port, with_repl_port
from dingate.testing.fw_bundle import version_bundle
from dingate.testing.poll import listening, wait_until

CHIPS = [n for n in boards.names() if boards.is_chip(boards.load(n))]
CHIP_NAMES = {"esp32": "ESP32", "esp32s3": "ESP32-S3"}
SUBTYPES = {"nvs": 2, "phy": 1, "factory": 0, "fat": 0x81}  # ESP-IDF's names in a partition CSV


def wait_port(port, proc, timeout=30):
    wait_until(lambda: listening(port, 1), timeout, "the emulator on port %d" % port, 0.1,
               process=proc)


class DownloadMode:
    """`dingate emulate --board NAME --download-mode` (BOOT held at reset) on a state dir."""

    def __init__(self, board, state_dir):
        self.port = free_port()
        self.log = open(os.path.join(state_dir + ".download.log"), "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "dingate"), "emulate", "--board", board, "--state-dir", state_dir,
             "--repl-port", str(self.port), "--download-mode"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port, self.proc)

    @property
    def url(self):
        return "socket://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()


@pytest.fixture(scope="module")
def bare_heap():
    """The heap a bare interpreter holds with asyncio (frozen on the chip: its objects are heap
    there too), by the emulator's launcher: what a board has before its boot.py."""
    from dingate.emulator.runner import LAUNCHER

    script = ("import gc, asyncio\nasyncio.StreamReader\ngc.collect()\n"
              "print('bare', gc.mem_alloc())\n")
    out = run(sys.executable, LAUNCHER, "-X", "heapsize=1M", "-c", script,
              env=dict(os.environ, DINGATE_EMU="{}")).stdout
    return int(re.search(r"bare (\d+)", out).group(1))


@pytest.fixture(scope="module")
def built():
    """`dingate build --board all`: every board, each bundle's path printed."""
    out = dingate("build", "--board", "all").stdout
    return out


def test_every_board_builds_with_the_contract_keys(built):
    for name in boards.names():
        board = boards.load(name)
        bundle = build.bundle_path(name)
        assert "firmware update bundle: %s" % bundle in built, built
        assert os.path.getsize(bundle) > 50000
        _off, fs_size, _b, _c = boards.fs_geometry(board)
        assert os.path.getsize(os.path.join(BUILD, name, "fs.img")) == fs_size
        code = boards.code_location(board)
        assert code in ("romfs", "filesystem")
        assert os.path.exists(os.path.join(BUILD, name, "romfs.img")) == (code == "romfs") or \
            code == "filesystem"  # a stale romfs.img of an older build may stay
        for key in ("chip", "micropython", "code", "flash", "heap", "rs485", "relays", "inputs",
                    "leds", "buttons"):
            assert key in board, (name, key)
        # the device's copy: what the firmware reads, none of what is for people or host tools
        with open(os.path.join(BUILD, name, "fs", "board.json")) as f:
            shipped = json.load(f)
        assert shipped == build.device_board(board) and shipped["rs485"] == board["rs485"]
        assert not set(shipped) & set(build.BOARD_HOST_ONLY), name
        assert "note" not in json.dumps(shipped) and "description" in board, name
        if boards.is_chip(board):
            mp = board["micropython"]
            assert mp["image"] and "variant" in mp and mp["min_version"], name
            assert espimage.chip_id(board) in (0, 9)
    tiers = {boards.load(n)["tier"]: n for n in boards.names()}
    assert {"1", "1b", "2", "emulator"} <= set(tiers)
    s3 = boards.load("esp32s3-devkitc-n16r8-max485")["micropython"]
    assert (s3["image"], s3["variant"]) == ("ESP32_GENERIC_S3", "SPIRAM_OCT")
    wrover = boards.load("esp32-wrover-max485")["micropython"]
    assert (wrover["image"], wrover["variant"]) == ("ESP32_GENERIC", "SPIRAM")
    # the DIN-rail product's RS485 has automatic direction: no DE pin
    ws = boards.load("waveshare-esp32-s3-relay-6ch")
    assert ws["rs485"]["de"] is None and ws["rs485"]["auto_direction"] is True
    assert len(ws["relays"]) == 6
    assert boards.load("esp32-devkitc-max485")["micropython"]["stock_image_fits"] is False


def _firmware(tmp_path, board, chip=None):
    """A merged image as micropython.org serves it: well-formed headers for ``chip`` and the
    board's stock partition table, no MicroPython in it."""
    path = tmp_path / ("fw-%s.bin" % (chip or board["chip"]))
    path.write_bytes(espimage.blank_firmware(chip or board["chip"], espimage.board_table(board)))
    return str(path)


@pytest.mark.parametrize("name", CHIPS)
def test_flash_a_board_through_the_rom_loader_then_boot_it(name, built, bare_heap, tmp_path):
    """Every stock-image board (tier 1, 1b), and the tier 2 board with the lean image's table
    and its ROMFS partition."""
    board = boards.load(name)
    state = str(tmp_path / "state")
    os.makedirs(state)
    other = "esp32" if board["chip"] == "esp32s3" else "esp32s3"
    rom = DownloadMode(name, state)
    try:
        out = run(sys.executable, "-m", "esptool", "--port", rom.url, "--before", "no_reset",
                  "--after", "no_reset", "--no-stub", "chip-id").stdout
        assert "Detecting chip type... %s\n" % CHIP_NAMES[board["chip"]] in out, out
        # an image for another chip is refused before anything is written, even unchecked
        for extra in ([], ["--skip-partition-check"]):
            res = dingate("flash", "--port", rom.url, "--board", name, "--firmware",
                          _firmware(tmp_path, board, other), *extra, check=False)
            assert res.returncode != 0 and "not for this board's %s" % board["chip"] in res.stderr
        assert _read(state, 0, 0x10000) == b"\xff" * 0x10000  # nothing was written
        res = dingate("flash", "--port", rom.url, "--board", name, "--firmware",
                      _firmware(tmp_path, board))
        assert "Hash of data verified" in res.stdout, res.stdout
    finally:
        rom.stop()
    fs_off = boards.fs_geometry(board)[0]
    with open(os.path.join(BUILD, name, "fs.img"), "rb") as f:
        head = f.read(1 << 16)
    assert _read(state, fs_off, len(head)) == head  # the build's littlefs image at the vfs offset
    with EmulatorProcess(state_dir=state, extra_args=["--board", name]) as emu:
        status = emu.wait_ready()
        assert status["board"] == name, status
        assert status["code"] == boards.code_location(board) == (
            "romfs" if board["tier"] == "2" else "filesystem"), status
        log = emu.log()
        assert "admin password (not provisioned)" in log  # a flashed board, not yet provisioned
    # the heap the emulation itself takes is what its allowance gives back, not more
    emulation = int(re.search(r"\[emuboot\] heap before boot.py: (\d+) bytes", log).group(1)) \
        - bare_heap
    assert emulation <= boards.emulated_hardware_bytes() <= emulation + 4096, emulation


def _read(state, offset, size):
    with open(os.path.join(state, FLASH_FILE), "rb") as f:
        f.seek(offset)
        return f.read(size)


def test_the_emulator_refuses_to_boot_a_flash_for_another_chip(tmp_path):
    """As the chip's ROM: the bootloader's header names another chip -> no boot."""
    name = "esp32s3-devkitc-n16r8-max485"
    board = boards.load(name)
    state = tmp_path / "state"
    state.mkdir()
    with open(state / FLASH_FILE, "wb") as f:
        f.write(b"\xff" * boards.flash_size(board))
    with open(state / FLASH_FILE, "r+b") as f:
        f.write(espimage.blank_firmware("esp32", espimage.board_table(board))[0x1000:])
    res = dingate("emulate", "--board", name, "--state-dir", str(state), "--http-port",
                  str(free_port()), "--control-port", str(free_port()), check=False, timeout=60)
    assert res.returncode != 0
    assert "would not boot this flash" in res.stdout + res.stderr


def test_flash_checks_the_chip_even_when_the_partition_check_is_skipped(built, tmp_path):
    name = "esp32-wrover-max485"
    board = boards.load(name)
    calls = []
    wrong = _firmware(tmp_path, board, "esp32s3")
    with pytest.raises(flash.FlashError, match="image for esp32s3"):
        flash.flash("/dev/ttyUSB0", name, wrong, check=False, run=calls.append)
    # a right-chip image whose table does not fit the board: refused checked, allowed unchecked
    table = espimage.board_table(board) + [("vfs", 1, 0x81, 0x300000, 0x100000)]
    odd = tmp_path / "odd.bin"
    odd.write_bytes(espimage.blank_firmware("esp32", table))
    with pytest.raises(flash.FlashError, match="vfs partition at 0x300000"):
        flash.flash("/dev/ttyUSB0", name, str(odd), run=calls.append)
    assert calls == []
    assert flash.flash("/dev/ttyUSB0", name, str(odd), check=False,
                       run=lambda argv: calls.append(argv) or 0) == 0
    argv = calls[0]
    assert argv[argv.index("--chip") + 1] == "esp32" and "--erase-all" in argv
    assert argv[-2:] == ["0x220000", os.path.join(BUILD, name, "fs-used.img")]
    assert argv[argv.index("--flash-size") + 1] == "4MB"


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def firmware_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **kw: _Files(*a, directory=str(root), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def test_flash_downloads_the_pinned_image_and_refuses_a_bad_checksum(built, tmp_path,
                                                                     firmware_server, monkeypatch):
    root, base = firmware_server
    name = "esp32s3-devkitc-n16r8-max485"
    board = boards.load(name)
    fname = "ESP32_GENERIC_S3-SPIRAM_OCT-test-%s.bin" % os.urandom(4).hex()
    data = espimage.blank_firmware("esp32s3", espimage.board_table(board))
    (root / fname).write_bytes(data)
    pinned = {k: v for k, v in board.items() if not k.startswith("_")}
    pinned["micropython"] = dict(pinned["micropython"], sha256=hashlib.sha256(data).hexdigest(),
                                 url="https://micropython.org/resources/firmware/" + fname)
    board_file = tmp_path / "pinned.json"
    board_file.write_text(json.dumps(pinned))
    env = dict(os.environ, **{flash.BASE_URL_ENV: base})
    bad = dict(pinned, micropython=dict(pinned["micropython"], sha256="0" * 64))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    res = dingate("flash", "--port", "socket://127.0.0.1:1", "--board", str(tmp_path / "bad.json"),
                  check=False, env=env)
    assert res.returncode != 0 and "refused (not the official image)" in res.stderr, res.stderr
    assert not os.path.exists(os.path.join(BUILD, "firmware-cache", fname))
    # the right checksum: downloaded (from the local server standing in for micropython.org)
    monkeypatch.setenv(flash.BASE_URL_ENV, base)
    calls = []
    assert flash.flash("/dev/ttyUSB0", str(board_file), run=lambda a: calls.append(a) or 0) == 0
    cached = os.path.join(BUILD, "firmware-cache", fname)
    assert cached in calls[0]
    with open(cached, "rb") as f:
        assert f.read() == data
    os.remove(cached)
    # no pin in the real board files (no internet where they were written): a clear message
    res = dingate("flash", "--port", "/dev/ttyUSB0", "--board", name, check=False)
    assert res.returncode != 0 and "--firmware" in res.stderr and "ESP32_GENERIC_S3" in res.stderr


def test_provision_and_deploy_on_a_flashed_board(built, tmp_path):
    name = "esp32s3-devkitc-n16r8-max485"
    board = boards.load(name)
    state = str(tmp_path / "state")
    os.makedirs(state)
    rom = DownloadMode(name, state)
    try:
        dingate("flash", "--port", rom.url, "--board", name, "--firmware", _firmware(tmp_path, board))
    finally:
        rom.stop()
    with with_repl_port(state, ["--board", name]) as emu:
        port = "socket://127.0.0.1:%d" % emu.repl_port
        out = dingate("provision", "--port", port, "--out", str(tmp_path / "labels")).stdout
        serial = re.search(r"serial\s+: (\S+)", out).group(1)
        admin_pw = re.search(r"admin login\s+: admin / (\S+)", out).group(1)
        emu.wait_for(lambda: requests.get(emu.url + "/api/status", timeout=2).json()["serial"]
                     == serial, timeout=60, what="the provisioned identity")
        emu.login("admin", admin_pw)
        res = dingate("deploy", "--port", port, timeout=300)
        assert "deployed %s" % name in res.stdout and "no ROMFS on this board" in res.stdout
        st = emu.wait_for(lambda: requests.get(emu.url + "/api/status", timeout=2).json(),
                          timeout=60, what="the board back after deploy")
        assert st["code"] == "filesystem" and st["serial"] == serial


def test_firmware_update_from_the_page_on_a_filesystem_board(tmp_path):
    name = "esp32s3-devkitc-n16r8-max485"
    with EmulatorProcess(state_dir=str(tmp_path / "state"), extra_args=["--board", name]) as emu:
        emu.login()
        data = version_bundle("0.1.0+fs-update", name)
        assert b"romfs.img" not in data[:4096]  # the code travels as /lib files
        r = emu.session.post(emu.url + "/api/firmware", data=data, timeout=120,
                             headers={"Content-Type": "application/octet-stream",
                                      "X-Firmware-SHA256": hashlib.sha256(data).hexdigest()})
        assert r.status_code == 200, r.text
        assert r.json()["reboot"] is True
        st = emu.wait_for(lambda: (lambda s: s["firmware"] == "0.1.0+fs-update" and s)(
            requests.get(emu.url + "/api/status", timeout=2).json()), timeout=90,
            what="the new firmware")
        assert st["code"] == "filesystem" and st["board"] == name
        emu.session = requests.Session()
        emu.login()
        events = json.dumps(emu.api("GET", "/api/events?limit=50").json())
        assert "update installed" in events, events


def test_the_lean_image_definition_matches_the_tier_2_board_file():
    """boards/micropython/DINGATE_ESP32_LEAN (built by CI in the ESP-IDF container, not here):
    its partition table is the board file's layout, ROMFS is on, the workflow builds it."""
    root = os.path.join(os.path.dirname(BUILD), "boards", "micropython")
    board = boards.load("esp32-devkitc-max485")
    rows = []
    with open(os.path.join(root, "DINGATE_ESP32_LEAN", "partitions-dingate-4MiB.csv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, ptype, sub, off, size = [c.strip() for c in line.split(",")[:5]]
                rows.append((name, {"app": 0, "data": 1}[ptype],
                             SUBTYPES[sub] if sub in SUBTYPES else int(sub, 0),
                             int(off, 0), int(size, 0)))
    assert rows == espimage.board_table(board)
    with open(os.path.join(root, "DINGATE_ESP32_LEAN", "mpconfigboard.cmake")) as f:
        assert "MICROPY_VFS_ROM=1" in f.read()
    with open(os.path.join(root, "build-image.yml")) as f:
        wf = f.read()
    assert "espressif/idf:" in wf and "BOARD_DIR=" in wf and "partitions-dingate-4MiB.csv" in wf


def test_rom_loader_checks_what_it_is_sent(tmp_path):
    """The emulated ROM loader refuses a data block whose checksum is wrong or out of sequence,
    as the chip's ROM does; esptool reads back (the ESP32's READ_FLASH_SLOW) what it wrote."""
    import struct

    from dingate.emulator.rom_loader import RomLoader, SpiFlash, slip, slip_frames

    rom = RomLoader("esp32", SpiFlash(str(tmp_path / "f.bin"), 4 << 20), say=lambda _t: None)

    def call(op, data, chk=0):
        request = slip_frames(bytearray(slip(struct.pack("<BBHI", 0, op, len(data), chk) + data)))
        out = bytearray(b"".join(rom.handle(request[0])))
        return slip_frames(out)[-1][8:]

    assert call(0x02, struct.pack("<IIII", 0x1000, 1, 0x400, 0x10000))[-4:-2] == b"\0\0"
    block = bytes(range(256)) * 4
    chk = 0xEF
    for b in block:
        chk ^= b
    bad = call(0x03, struct.pack("<IIII", len(block), 0, 0, 0) + block, chk ^ 1)
    assert bad[-4:-2] == b"\x01\x07"  # checksum error
    assert call(0x03, struct.pack("<IIII", len(block), 1, 0, 0) + block, chk)[-4] == 1  # sequence
    assert call(0x03, struct.pack("<IIII", len(block), 0, 0, 0) + block, chk)[-4:-2] == b"\0\0"
    assert call(0x0E, struct.pack("<II", 0x10000, 64))[:64] == block[:64]
    md5 = call(0x13, struct.pack("<IIII", 0x10000, len(block), 0, 0))[:32]
    assert md5 == hashlib.md5(block).hexdigest().encode()
    assert call(0x14, b"")[-4:-2] == b"\x01\x05"  # the ESP32's ROM has no GET_SECURITY_INFO


def test_esptool_resets_a_running_board_into_download_mode_over_rfc2217(tmp_path):
    """esptool's own automatic reset (DTR/RTS over RFC 2217, --before default-reset): the running
    board drops into the ROM loader, answers chip-id, and its hard reset afterwards boots the
    gateway again from flash."""
    name = "esp32s3-devkitc-n16r8-max485"
    port = free_port()
    emu = EmulatorProcess(state_dir=str(tmp_path / "state"),
                          extra_args=["--board", name, "--rfc2217-port", str(port)])
    try:
        emu.start()
        boots = emu.hw()["boots"]
        out = run(sys.executable, "-m", "esptool", "--port", "rfc2217://127.0.0.1:%d" % port,
                  "--no-stub", "chip-id").stdout
        assert "Detecting chip type... ESP32-S3" in out and "Hard resetting via RTS pin" in out, out
        log = emu.log()
        assert "ROM download mode" in log and "EN released: booting from flash" in log, log
        emu.wait_for(lambda: emu.hw()["boots"] > boots, timeout=60, what="a boot after the reset")
        again = emu.wait_ready()
        assert again["code"] == "filesystem" and again["reset_cause"] == "power-on"
    finally:
        emu.stop()
