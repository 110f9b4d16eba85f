"""The foundation end to end: the real firmware under MicroPython, its API, login, the flash image."""
import json
import os
import socket

import requests

from dingate import boards, fsimage
from dingate.testing.emuproc import EmulatorProcess, free_port


def _children_cmdlines(pid):
    """Command lines of every process below ``pid``."""
    out = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for k in kids:
            try:
                with open("/proc/%d/cmdline" % k, "rb") as f:
                    out.append(f.read().split(b"\0"))
            except OSError:
                pass
            todo.append(k)
    return out


def test_status_reports_micropython(emulator):
    st = emulator.api("GET", "/api/status").json()
    assert st["implementation"] == "micropython"
    assert st["firmware"]
    assert st["uptime_s"] >= 0
    assert st["mem_free"] > 0 and st["mem_alloc"] > 0
    assert st["wifi"]["mode"] in ("ap", "sta", "ap+sta")


def test_firmware_runs_in_micropython_with_heap_cap(emulator):
    board = boards.load("emulator")
    want = b"heapsize=" + boards.heapsize_arg(board).encode()
    cmds = _children_cmdlines(emulator.proc.pid)
    mp = [c for c in cmds if any(b"micropython" in a for a in c)]
    assert mp, cmds
    assert any(b"-X" in c and want in c for c in mp), mp
    # the heap the firmware sees is the capped one (the board's, plus the emulated hardware's)
    st = emulator.api("GET", "/api/status").json()
    heap = board["heap"]
    assert st["mem_free"] + st["mem_alloc"] <= heap["bytes"] + heap["emulated_hardware_bytes"]


def test_login_session_logout(emulator):
    s = requests.Session()
    r = s.post(emulator.url + "/api/login", json={"user": "admin", "password": "wrong-password"})
    assert r.status_code == 401
    assert r.json()["error"]
    assert s.get(emulator.url + "/api/me").status_code == 401
    r = s.post(emulator.url + "/api/login",
               json={"user": "admin", "password": emulator.admin_password})
    assert r.status_code == 200
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    me = s.get(emulator.url + "/api/me").json()
    assert me["user"] == "admin" and me["role"] == "admin"
    assert s.post(emulator.url + "/api/logout").status_code == 200
    assert s.get(emulator.url + "/api/me").status_code == 401


def test_unknown_user_and_wrong_password_look_the_same(emulator):
    a = requests.post(emulator.url + "/api/login", json={"user": "nobody", "password": "x" * 10})
    b = requests.post(emulator.url + "/api/login", json={"user": "admin", "password": "x" * 10})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_bad_input_is_400_with_json_error(emulator):
    r = requests.post(emulator.url + "/api/login", data=b"{not json",
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "error" in r.json()
    r = requests.get(emulator.url + "/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]


def test_cross_origin_write_is_refused(emulator):
    r = requests.post(emulator.url + "/api/login", headers={"Origin": "http://evil.example"},
                      json={"user": "admin", "password": emulator.admin_password})
    assert r.status_code == 403
    r = requests.post(emulator.url + "/api/login", headers={"Origin": emulator.url},
                      json={"user": "admin", "password": emulator.admin_password})
    assert r.status_code == 200
    # reached through a router's NAT by an address the device cannot know: same origin, allowed;
    # a name is not (a foreign page can rebind its name to the device, not an address)
    # by its network name (set before the radio starts: DHCP and mDNS give it), under any domain
    # a router adds; another device's name is refused
    emulator.login()
    name = emulator.api("GET", "/api/wifi").json()["hostname"]
    assert name == "dingate-" + emulator.label()["serial"].lower(), name
    for host, status in (("203.0.113.5:8088", 200), ("evil.example:8088", 403),
                         (name + ".fritz.box", 200), (name.upper() + ".home:8080", 200),
                         (name + ".local", 200), ("dingate-dg000000.fritz.box", 403)):
        r = requests.post(emulator.url + "/api/login", json={"user": "admin", "password": emulator.admin_password},
                          headers={"Origin": "http://" + host, "Host": host}, timeout=10)
        assert r.status_code == status, (host, r.text)
    # a dynamic-DNS name for a router's port forwarding: trusted once set, whatever its port
    fwd = "home.example.net:8443"
    login = lambda: requests.post(emulator.url + "/api/login", timeout=10,  # noqa: E731
                                  json={"user": "admin", "password": emulator.admin_password},
                                  headers={"Origin": "http://" + fwd, "Host": fwd})
    assert login().status_code == 403
    emulator.login()  # again: the logins above took the oldest sessions' places
    r = emulator.api("PUT", "/api/settings", {"host_name": "Home.Example.net"})
    assert r.status_code == 200 and r.json()["host_name"] == "home.example.net", r.text
    assert login().status_code == 200
    emulator.login()
    r = emulator.api("PUT", "/api/settings", {"host_name": "home.example.net:8443"})
    assert r.status_code == 400 and r.json()["field"] == "host_name"
    assert emulator.api("PUT", "/api/settings", {"host_name": ""}).status_code == 200
    assert login().status_code == 403


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def _second_port_events(emu, port):
    return [e for e in emu.api("GET", "/api/events?type=system&limit=20").json()
            if e.get("code") == "http.port" and e["params"]["port"] == port]


def test_second_http_port_for_port_forwarding(emulator):
    """Settings "http_port": the page on a second port too, opened and closed as the setting
    changes; a port the gateway listens on already is refused by name, one another program holds
    is logged and the page stays on its own port."""
    emu = emulator
    emu.login()
    main = int(emu.url.rsplit(":", 1)[1])
    port = free_port()
    r = emu.api("PUT", "/api/settings", {"http_port": port})
    assert r.status_code == 200 and r.json()["http_port"] == port, r.text
    emu.wait_for(lambda: emu.api("GET", "/api/system").json()["http_ports"] == [main, port],
                 what="the second port open")
    # a whole session through it, as a browser on the forwarded port does
    second = "http://127.0.0.1:%d" % port
    s = requests.Session()
    s.headers["Origin"] = second
    r = s.post(second + "/api/login", json={"user": "admin", "password": emu.admin_password}, timeout=10)
    assert r.status_code == 200, r.text
    s.headers["X-CSRF-Token"] = r.json()["csrf"]
    assert s.put(second + "/api/settings", json={"location": "Forwarded"}, timeout=10).status_code == 200
    assert emu.api("GET", "/api/settings").json()["location"] == "Forwarded"
    assert "<html" in s.get(second + "/", timeout=10).text.lower()
    # ports the gateway already listens on: the page's own, the Modbus TCP server's
    mb = emu.modbus_tcp_on()
    for taken in (main, mb):
        r = emu.api("PUT", "/api/settings", {"http_port": taken})
        assert r.status_code == 400 and r.json()["field"] == "http_port" and r.json()["code"] == "unique"
    r = emu.api("PUT", "/api/modbus-tcp", {"port": port})
    assert r.status_code == 400 and r.json()["field"] == "port", r.text
    assert emu.api("GET", "/api/settings").json()["http_port"] == port  # unchanged
    assert emu.api("PUT", "/api/modbus-tcp", {"enabled": False}).status_code == 200
    # a port another program holds: saved, logged, the page stays where it was
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        busy = other.getsockname()[1]
        assert emu.api("PUT", "/api/settings", {"http_port": busy}).status_code == 200
        emu.wait_for(lambda: _second_port_events(emu, busy), what="the http.port event")
        assert emu.api("GET", "/api/system").json()["http_ports"] == [main]
        assert not _connects(port)  # the old second port was closed first
    # 0: the page on its own port only
    assert emu.api("PUT", "/api/settings", {"http_port": port}).status_code == 200
    emu.wait_for(lambda: _connects(port), what="the second port open again")
    assert emu.api("PUT", "/api/settings", {"http_port": 0}).status_code == 200
    emu.wait_for(lambda: not _connects(port), what="the second port closed")
    assert emu.api("GET", "/api/system").json()["http_ports"] == [main]


def test_hardware_panel_answers(emulator):
    hw = emulator.hw()
    assert hw["relay"] in (True, False)
    assert set(hw["leds"]) >= {"net", "com", "ready"}
    page = requests.get(emulator.panel_url + "/", timeout=5)
    assert page.status_code == 200 and "/api/hw" in page.text


def _read_flash(state_dir):
    board = boards.load("emulator")
    _o, _s, block, count = boards.fs_geometry(board)
    with open(os.path.join(state_dir, "flash.img"), "rb") as f:
        return fsimage.open_image(f.read(), block, count)


def test_state_survives_reboot_and_passwords_are_hashed(tmp_path):
    state = str(tmp_path / "state")
    with EmulatorProcess(admin_password="first-password-1", state_dir=state) as emu:
        emu.login()
        r = emu.api("POST", "/api/users", {"user": "tenant", "password": "tenant-pass-1", "role": "user"})
        assert r.status_code == 201, r.text
        assert "password" not in r.json() and "hash" not in r.json()
    fs = _read_flash(state)
    users = json.loads(fsimage.read_file(fs, "/data/cfg/users.json"))["data"]
    blob = json.dumps(users)
    assert "first-password-1" not in blob and "tenant-pass-1" not in blob
    assert users["admin"]["hash"].startswith("pbkdf2-sha256$")
    # same state dir = reboot: the accounts are still there; --admin-password only seeds new devices
    with EmulatorProcess(admin_password="other-password-2", state_dir=state) as emu:
        emu.login(password="first-password-1")
        assert emu.api("POST", "/api/login", {"user": "tenant", "password": "tenant-pass-1"}).status_code == 200
        assert emu.api("GET", "/api/users").status_code == 403  # tenant is a plain user
