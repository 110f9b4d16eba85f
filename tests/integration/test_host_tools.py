"""Host tools against the emulated device: build images, the REPL port (real mpremote), deploy,
provision, and flash's esptool command line."""
import gzip
import http.server
import io
import json
import os
import re
import sys
import threading
import time

import pytest
import requests

from dingate import boards, build, espimage, flash, fsimage, paths, provision
from dingate.paths import BUILD
from dingate.testing.clitools import BIN, dingate, mpremote, run
from dingate.testing.emuproc import with_repl_port

MP_SCRIPT_ROMFS_LIST = """
import sys, vfs, os
with open(sys.argv[1], 'rb') as f:
    vfs.mount(vfs.VfsRom(f.read()), '/rom')
def walk(d):
    for e in os.ilistdir(d):
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            walk(p)
        else:
            print(p[4:], e[3])
walk('/rom')
"""


# --- build ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built():
    path, files = build.build("emulator")
    return boards.load("emulator"), files


def test_fs_image_mounts_and_holds_every_module_as_mpy_v6(built):
    board, files = built
    _off, _size, block, count = boards.fs_geometry(board)
    with open(os.path.join(BUILD, "emulator", "fs.img"), "rb") as f:
        fs = fsimage.open_image(f.read(), block, count)
    on_image = set(fsimage.walk_files(fs))
    modules = [p for p, _src, how in build.sources(board) if how == "mpy"]
    assert len(modules) > 40 and "/lib/gateway/app.mpy" in modules
    assert "/lib/microdot/microdot.mpy" in modules
    for path in modules:
        assert path in on_image, path
        data = fsimage.read_file(fs, path)
        assert data == files[path]
        # 'M', format 6, feature byte 0 = bytecode only (no native code: loads on the ESP32's
        # xtensa as on x64; the sub-version field is only set with native code), 31-bit small ints
        assert data[:4] == b"M\x06\x00\x1f", (path, data[:4])
    for path in ("/boot.py", "/main.py", "/board.json", "/manifest.json", "/www/index.html.gz"):
        assert path in on_image, path
    manifest = json.loads(fsimage.read_file(fs, "/manifest.json"))
    assert set(manifest) == set(files) - {"/manifest.json"}


def test_micropython_loads_format_6_3():
    out = run(paths.micropython(required=True), "-c",
              "import sys; print(sys.implementation._mpy)").stdout
    mpy = int(out)
    assert mpy & 0xFF == 6 and (mpy >> 8) & 3 == 3  # format 6, sub-version 3: what mpy-cross makes


def test_romfs_image_lists_the_same_modules(built, tmp_path):
    _board, files = built
    script = tmp_path / "romls.py"
    script.write_text(MP_SCRIPT_ROMFS_LIST)
    out = run(paths.micropython(required=True), str(script),
              os.path.join(BUILD, "emulator", "romfs.img")).stdout
    listed = dict(line.rsplit(" ", 1) for line in out.splitlines())
    lib = {p: len(d) for p, d in files.items() if p.startswith("/lib/")}
    assert {p: int(n) for p, n in listed.items()} == lib


# --- flash: the esptool command line ------------------------------------------------------------

def _fake_firmware(tmp_path, table):
    """A merged ESP32 image: ESP32 image headers at 0x1000 and at the app, the partition table
    at 0x8000 (dingate.espimage; the stock boards' flashing is in test_boards_flash.py)."""
    path = tmp_path / "firmware.bin"
    path.write_bytes(espimage.blank_firmware("esp32", table))
    return str(path)


ROMFS_TABLE = [("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
               ("factory", 0, 0, 0x10000, 0x1A0000), ("romfs", 1, 0x8F, 0x1B0000, 0x70000),
               ("vfs", 1, 0x81, 0x220000, 0x1E0000)]
STOCK_TABLE = [("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
               ("factory", 0, 0, 0x10000, 0x1F0000), ("vfs", 1, 0x81, 0x200000, 0x200000)]


def _stage(board, tmp_path):
    """The board's build images in a folder of their own (build/ stays the emulator's)."""
    files = build.render(board)
    _off, _size, block, count = boards.fs_geometry(board)
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "fs.img").write_bytes(fsimage.make_image(files, block, count))
    (stage / "romfs.img").write_bytes(build.romfs_image(files, boards.romfs_geometry(board)[1]))
    return str(stage)


@pytest.mark.parametrize("name", ["emulator", "esp32-devkitc-max485"])
def test_flash_esptool_arguments_for_each_board(name, tmp_path):
    board = boards.load(name)
    calls = []
    if board["chip"] == "emulator":
        with pytest.raises(flash.FlashError, match="not a chip"):
            flash.flash("/dev/ttyUSB0", name, "fw.bin", run=calls.append)
        return
    stage = _stage(board, tmp_path)
    fw = _fake_firmware(tmp_path, ROMFS_TABLE)
    assert flash.flash("/dev/ttyUSB0", name, fw, run=lambda argv: calls.append(argv) or 0,
                       stage=stage) == 0
    romfs_img = os.path.join(stage, "romfs.img")
    fs_img = os.path.join(stage, "fs-used.img")  # up to its last used block
    assert calls == [[sys.executable, "-m", "esptool",
                      "--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800",
                      "--before", "default-reset", "--after", "hard-reset",
                      "write-flash", "--erase-all", "--flash-size", "4MB",
                      "0x1000", fw, "0x1b0000", romfs_img, "0x220000", fs_img]]
    # every argument is one esptool accepts (its own parser, no device needed)
    help_text = run(sys.executable, "-m", "esptool", "write-flash", "--help").stdout
    for opt in ("--erase-all", "--flash-size"):
        assert opt in help_text


def test_flash_refuses_a_firmware_without_the_romfs_partition(tmp_path):
    stage = _stage(boards.load("esp32-devkitc-max485"), tmp_path)
    fw = _fake_firmware(tmp_path, STOCK_TABLE)
    with pytest.raises(flash.FlashError, match="no romfs partition"):
        flash.flash("/dev/ttyUSB0", "esp32-devkitc-max485", fw, run=lambda argv: 0, stage=stage)


def test_flash_without_firmware_says_which_build_the_board_needs():
    res = dingate("flash", "--port", "/dev/ttyUSB0", "--board", "esp32-devkitc-max485", check=False)
    assert res.returncode != 0
    assert "DINGATE_ESP32_LEAN, MicroPython >= 1.26.0" in res.stderr
    assert "romfs partition" in res.stderr and "0x1B0000" in res.stderr
    assert "--firmware" in res.stderr


# --- the emulated device's USB serial port ------------------------------------------------------

@pytest.fixture(scope="module")
def device(tmp_path_factory):
    with with_repl_port(str(tmp_path_factory.mktemp("hosttools") / "state")) as emu:
        yield emu


def test_mpremote_ls_exec_cp_against_the_repl_port(device, tmp_path):
    port = device.repl_port
    out = mpremote(port, "fs", "ls", ":").stdout
    for name in ("board.json", "boot.py", "main.py", "lib/", "www/", "rom/"):
        assert name in out, out
    assert "host/" not in out  # the emulator's view of the PC's files is not on the serial line
    out = mpremote(port, "exec", "import sys; print(sys.implementation.name, 6 * 7)").stdout
    assert "micropython 42" in out
    src = tmp_path / "note.txt"
    src.write_bytes(b"written by mpremote\n" * 200)
    mpremote(port, "cp", str(src), ":/note.txt")
    back = tmp_path / "back.txt"
    mpremote(port, "cp", ":/note.txt", str(back))
    assert back.read_bytes() == src.read_bytes()
    # it landed in the emulated flash image: the littlefs the firmware mounts at /
    board = boards.load("emulator")
    _off, _size, block, count = boards.fs_geometry(board)
    with open(os.path.join(device.state_dir, "flash.img"), "rb") as f:
        fs = fsimage.open_image(f.read(), block, count)
    assert fsimage.read_file(fs, "/note.txt") == src.read_bytes()
    out = mpremote(port, "romfs", "query").stdout
    size = boards.romfs_geometry(board)[1]
    assert "ROMFS0 partition has size %d bytes" % size in out and "ROMFS image size" in out
    # errors come back as on a board
    res = mpremote(port, "exec", "1/0", check=False)
    assert res.returncode != 0 and "ZeroDivisionError" in res.stdout + res.stderr


def test_ctrl_c_interrupts_the_firmware_and_ctrl_d_reboots_it(device):
    import socket

    with socket.create_connection(("127.0.0.1", device.repl_port), timeout=10) as s:
        def read_until(token, timeout=15):
            buf = b""
            deadline = time.monotonic() + timeout
            while token not in buf:
                assert time.monotonic() < deadline, buf
                s.settimeout(max(0.1, deadline - time.monotonic()))
                chunk = s.recv(4096)
                assert chunk, buf
                buf += chunk
            return buf

        s.sendall(b"\x02")  # friendly REPL banner (the board sits in the REPL after mpremote)
        read_until(b">>> ")
        s.sendall(b"\x04")  # soft reset: main.py runs, the firmware serves again
        read_until(b"soft reboot")
        read_until(b"http: listening")
        device.wait_ready(30)
        s.sendall(b"\x03")  # Ctrl-C: KeyboardInterrupt in the firmware's loop, then the REPL
        out = read_until(b">>> ")
        assert b"KeyboardInterrupt" in out
        s.sendall(b"6 * 7\r")
        assert b"42" in read_until(b"42\r\n>>> ")
        with pytest.raises(requests.RequestException):
            requests.get(device.url + "/api/status", timeout=2)


def test_console_attaches_to_the_repl(device):
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: `dingate console` on a terminal, as a person runs it
        os.execv(os.path.join(BIN, "dingate"),
                 ["dingate", "console", "--port", "socket://127.0.0.1:%d" % device.repl_port])
    try:
        def read_until(token, timeout=15):
            buf = b""
            deadline = time.monotonic() + timeout
            while token not in buf:
                assert time.monotonic() < deadline, buf
                if select.select([fd], [], [], 0.1)[0]:
                    buf += os.read(fd, 4096)
            return buf

        read_until(b"Use Ctrl-] or Ctrl-x to exit this shell")
        os.write(fd, b"\r")
        read_until(b">>> ")
        os.write(fd, b"for i in range(3):\r")
        read_until(b"...     ")  # auto-indent, as the board's REPL
        os.write(fd, b"print(i * 7)\r\r")
        assert b"0\r\n7\r\n14\r\n>>> " in read_until(b"14\r\n>>> ")
        os.write(fd, b"\x1d")  # Ctrl-]: leave
        _pid, status = os.waitpid(pid, 0)
        pid = None
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)


def test_deploy_plan_units():
    from dingate import deploy

    files = {"/lib/a.mpy": b"a", "/lib/b.mpy": b"b", "/www/i.html.gz": b"i", "/board.json": b"{}"}
    sha = deploy._sha
    have = {"/lib/a.mpy": sha(b"a"), "/lib/b.mpy": sha(b"old"), "/lib/gone.mpy": "x",
            "/data/keep.bin": "y", "/www/i.html.gz": sha(b"i")}
    write, remove = deploy.plan(files, have)
    assert write == ["/board.json", "/lib/b.mpy"] and remove == ["/lib/gone.mpy"]
    rom = {"/rom/lib/a.mpy": sha(b"a"), "/rom/lib/b.mpy": sha(b"b"), "/rom/emu/m.mpy": "z"}
    assert deploy.romfs_plan(files, rom) == (False, ["/rom/emu/m.mpy"])
    rom["/rom/lib/b.mpy"] = sha(b"old")
    assert deploy.romfs_plan(files, rom)[0] is True
    build_board = json.dumps({"name": "x", "http": {"port": 80}, "pins": 1}).encode()
    dev = json.dumps({"name": "x", "http": {"port": 8090}, "pins": 0})
    assert json.loads(deploy.board_file_for(build_board, dev)) == {
        "name": "x", "http": {"port": 8090}, "pins": 1}
    other = json.dumps({"name": "y", "http": {"port": 8090}})
    assert deploy.board_file_for(build_board, other) == build_board


@pytest.fixture(scope="module")
def device_files(device):
    """What the emulated device holds: the build as the emulator renders it (its board file binds
    its own HTTP port); the deploy tests change it step by step, as a developer would."""
    return build.render(boards.load("emulator"),
                        {"http": {"host": "127.0.0.1", "port": device.http_port}})


def _emulator_tree(files, tmp_path, change=None):
    if change:
        change(files)
    root = tmp_path / "tree"
    build.write_tree(files, str(root))
    return str(root), files


def _deploy_report(out):
    written = re.findall(r"^  \+ (\S+) \(", out, re.M)
    m = re.search(r"ROMFS (rewritten|unchanged)", out)
    return written, m.group(1)


def test_the_emulator_runs_that_very_build(device):
    # deploy builds for the board the device names (emulator) and compares every file and the
    # ROMFS by hash: nothing differs (the board file keeps the device's own HTTP port)
    out = dingate("deploy", "--port", "socket://127.0.0.1:%d" % device.repl_port).stdout
    assert "built " in out and "for board emulator" in out
    written, romfs = _deploy_report(out)
    assert written == [] and romfs == "unchanged", out
    device.wait_ready(40)


def test_deploy_sends_only_a_changed_web_asset(device, device_files, tmp_path):
    marker = "deployed-asset-%d" % os.getpid()

    def change(files):
        html = gzip.decompress(files["/www/index.html.gz"]).decode()
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(html.replace("</body>", "<!-- %s --></body>" % marker).encode())
        files["/www/index.html.gz"] = buf.getvalue()

    root, _files = _emulator_tree(device_files, tmp_path, change)
    out = dingate("deploy", "--port", "socket://127.0.0.1:%d" % device.repl_port,
                  "--build-dir", root).stdout
    written, romfs = _deploy_report(out)
    assert written == ["/www/index.html.gz", "/manifest.json"], out
    assert romfs == "unchanged"
    page = device.wait_for(lambda: marker in requests.get(device.url + "/", timeout=2).text,
                           timeout=40, what="the deployed page served")
    assert page


def test_deploy_of_a_changed_module_rewrites_the_romfs(device, device_files, tmp_path):
    version = "9.9.%d" % (os.getpid() % 1000)
    src = tmp_path / "__init__.py"
    src.write_text('"""dingate gateway firmware."""\nVERSION = "%s"\n' % version)

    def change(files):
        files["/lib/gateway/__init__.mpy"] = build.compile_module(str(src), "/lib/gateway/__init__.mpy")

    root, _files = _emulator_tree(device_files, tmp_path, change)
    out = dingate("deploy", "--port", "socket://127.0.0.1:%d" % device.repl_port,
                  "--build-dir", root).stdout
    written, romfs = _deploy_report(out)
    assert written == ["/lib/gateway/__init__.mpy", "/manifest.json"], out
    assert romfs == "rewritten", out
    assert "kept from the board" not in out  # the emulated chip's modules are not in the ROMFS
    st = device.wait_for(lambda: requests.get(device.url + "/api/status", timeout=2).json()
                         ["firmware"] == version, timeout=40, what="the new module running")
    assert st
    # the code runs from the new ROMFS (before /lib on sys.path), as on the board
    out = dingate("deploy", "--port", "socket://127.0.0.1:%d" % device.repl_port,
                  "--build-dir", root).stdout
    assert _deploy_report(out) == ([], "unchanged"), out
    device.wait_ready(40)


def _provision(device, out_dir):
    res = dingate("provision", "--port", "socket://127.0.0.1:%d" % device.repl_port,
                  "--out", str(out_dir))
    text = res.stdout
    admin = re.search(r"admin login\s+: admin / (\S+)", text).group(1)
    ap = re.search(r"Wi-Fi password\s+: (\S+)", text).group(1)
    serial = re.search(r"serial\s+: (\S+)", text).group(1)
    label = re.search(r"label\s+: (\S+)", text).group(1)
    return serial, ap, admin, label


def _login(device, password):
    return requests.post(device.url + "/api/login", json={"user": "admin", "password": password},
                         timeout=10).status_code


def test_provision_gives_fresh_secrets_the_device_takes(device, tmp_path):
    old_admin = device.admin_password
    serial, ap1, admin1, label = _provision(device, tmp_path)
    mac = device.label()["mac"].replace(":", "")
    assert serial == "DG" + mac[-6:].upper()
    assert len(ap1) >= 12 and len(admin1) >= 12 and ap1 != admin1
    assert device.wait_for(lambda: _login(device, admin1) == 200, timeout=40,
                           what="login with the provisioned admin password")
    assert _login(device, old_admin) == 401
    with open(label, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(label) as img:
        assert img.width > 300 and img.height > 150
    # the AP password reached the device's identity (the Wi-Fi AP it opens)
    assert provision.wifi_qr_text("dingate-" + serial, ap1) == "WIFI:T:WPA;S:dingate-%s;P:%s;;" % (
        serial, ap1)
    # a second run: new, different secrets; the first admin password no longer works
    serial2, ap2, admin2, _label2 = _provision(device, tmp_path)
    assert serial2 == serial and ap2 != ap1 and admin2 != admin1
    assert device.wait_for(lambda: _login(device, admin2) == 200, timeout=40,
                           what="login with the second provisioned password")
    assert _login(device, admin1) == 401
    # the passwords went to the console print and the label only: not to the device's log
    log = device.log()
    for secret in (ap1, admin1, ap2, admin2):
        assert secret not in log


def test_wifi_qr_text_escapes_special_characters():
    assert provision.wifi_qr_text('a;b', 'p:w\\"') == 'WIFI:T:WPA;S:a\\;b;P:p\\:w\\\\\\";;'


class _Device(http.server.BaseHTTPRequestHandler):
    """A stand-in for the device's API in the scenario setup's tests: JSON in and out, quiet."""

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        if code == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")

    def log_message(self, *a):
        pass


def _setup_against(device, setup):
    """dingate emulate's scenario setup (emulator/setup_api.py) applied to a ``device`` (a
    _Device class) as user "admin", password "pw"; the problems it reports."""
    from dingate.emulator import setup_api

    srv = http.server.HTTPServer(("127.0.0.1", 0), device)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        return setup_api.apply("http://127.0.0.1:%d" % srv.server_port, "admin", "pw", setup)
    finally:
        srv.shutdown()
        srv.server_close()


def test_scenario_setup_reports_a_device_that_drops_the_connection():
    """dingate emulate's scenario setup (emulator/setup_api.py) against a device that answers its
    status but closes every other connection without a word (a WROOM out of heap does): the
    problem is reported, the tool does not crash."""

    class Dropping(_Device):
        def do_GET(self):
            self.answer(200, {})

        def do_POST(self):
            self.close_connection = True  # nothing sent

    problems = _setup_against(Dropping, {"meters": [{"name": "M", "address": 1, "profile": "sdm120"}]})
    assert problems == ["login refused: no answer (RemoteDisconnected)"], problems


def test_scenario_setup_names_the_generator_meters_by_the_ids_the_device_gave():
    """A scenario names the generator's SOC and voltage meter as the page shows it; the setup
    sends the id the device gave that meter, whatever ids it gives (not the order of a list)."""
    seen = []

    class Device(_Device):
        def do_GET(self):
            self.answer(200, {})

        def do_POST(self):
            body = self.body()
            seen.append(("POST", self.path, body))
            if self.path == "/api/login":
                return self.answer(200, {"csrf": "t", "must_change": False})
            self.answer(201, dict(body, id=str(40 + len(seen))))

        def do_PUT(self):
            seen.append(("PUT", self.path, self.body()))
            self.answer(200, {})

    problems = _setup_against(Device, {
        "meters": [{"name": "Main", "address": 1}, {"name": "Battery", "address": 10}],
        "genset": {"mode": "auto", "soc_source": {"meter": "Battery", "quantity": "soc_pct"},
                   "voltage": {"enabled": True, "meter": "Main"}}})
    assert problems == []
    ids = {b["name"]: str(40 + i) for i, (_, path, b) in enumerate(seen, 1) if path == "/api/meters"}
    assert ids == {"Main": "42", "Battery": "43"}
    genset = [b for m, path, b in seen if path == "/api/genset"]
    assert genset == [{"mode": "auto", "soc_source": {"meter": "43", "quantity": "soc_pct"},
                       "voltage": {"enabled": True, "meter": "42"}}]


def test_scenario_setup_sends_again_after_busy_what_did_not_take_effect():
    """A device short of heap answers 503 "busy" with Retry-After, maybe after the write took
    effect. The setup sends its login and its PUTs again (the same twice is one); a password
    change or a new meter only once it has checked that it did not take effect (a login with the
    new password, the meters listed), so there is no second meter and no refused old password."""
    sent = []
    device = {"password": "pw", "meters": []}

    class Busy(_Device):
        def _write(self):
            body = self.body()
            sent.append((self.command, self.path, time.monotonic()))
            first = [(m, p) for m, p, _ in sent].count((self.command, self.path)) == 1
            if self.path in ("/api/me/password", "/api/users/admin"):  # then the answer fails
                device["password"] = body["password"]
            if first:
                return self.answer(503, {"error": "busy, try again", "code": "busy"})
            if self.path == "/api/login":
                ok = body["password"] == device["password"]
                return self.answer(200 if ok else 401, {"must_change": True} if ok else {})
            if self.path == "/api/meters":
                device["meters"].append(dict(body, id=str(len(device["meters"]) + 1)))
                return self.answer(201, device["meters"][-1])
            self.answer(200, {})

        do_POST = do_PUT = _write

        def do_GET(self):
            sent.append(("GET", self.path, time.monotonic()))
            self.answer(200, device["meters"] if self.path == "/api/meters" else {})

    problems = _setup_against(Busy, {"settings": {"location": "Site"},
                                     "meters": [{"name": "M", "address": 1}]})
    assert problems == []
    asked = [(m, p) for m, p, _ in sent if p != "/api/status"]
    assert asked == [
        ("POST", "/api/login"), ("POST", "/api/login"),  # busy, then again
        ("PUT", "/api/me/password"), ("POST", "/api/login"),  # busy: it took effect, not again
        ("PUT", "/api/settings"), ("PUT", "/api/settings"),
        ("POST", "/api/meters"), ("GET", "/api/meters"), ("POST", "/api/meters"),  # not added yet
        ("PUT", "/api/users/admin"), ("PUT", "/api/users/admin")]
    logins = [t for _, p, t in sent if p == "/api/login"]
    assert logins[1] - logins[0] >= 0.9  # after Retry-After
    assert [m["name"] for m in device["meters"]] == ["M"] and device["password"] == "pw"
