"""What `make run` starts for a new user: a new device with a generated admin password (to be
changed at first login) and the demo world configured through the API by the emulator."""
import socket

from dingate.testing.clitools import dingate
from dingate.testing.emuproc import EmulatorProcess, free_port


def test_the_demo_setup_applies_on_a_device_whose_password_must_change(tmp_path):
    state = str(tmp_path / "state")
    with EmulatorProcess(admin_password=None, demo=True, state_dir=state) as emu:
        emu.wait_for(lambda: "scenario setup" in emu.console(), timeout=60,
                     what="the scenario setup's result on the console")
        assert "scenario setup applied through the API" in emu.console(), emu.log()
        printed = emu.label()["admin_password"]
        assert printed and emu.label()["generated_admin_password"]

        # the printed password still logs in, and must still be changed first
        r = emu.login(password=printed)
        assert r.json()["must_change"] is True
        r = emu.api("GET", "/api/meters")
        assert r.status_code == 403 and r.json()["code"] == "must_change"
        r = emu.api("PUT", "/api/me/password", {"old_password": printed,
                                                "password": "my-own-secret-9"})
        assert r.status_code == 200, r.text

        # then the demo world is there: its meters, polled, and the generator's settings
        meters = emu.api("GET", "/api/meters").json()
        names = sorted(m["name"] for m in meters)
        assert names == ["Battery inverter", "Main meter", "PV inverter", "Workshop"], meters
        assert emu.api("GET", "/api/genset").json()["mode"] == "auto"
        assert emu.api("GET", "/api/settings").json()["location"] == "Demo site"

    # the next `make run` on that device: the banner says the label's password was replaced
    # instead of offering it again
    with EmulatorProcess(admin_password=None, demo=True, state_dir=state) as emu:
        assert "password the one chosen at first login (the label's was %s)" % printed in emu.console()
        assert emu.login(password="my-own-secret-9").json()["must_change"] is False


def test_a_taken_http_port_is_said_before_the_device_boots(tmp_path):
    """A second `make run` (or anything on 8080) ends at once with what to do, instead of a
    device whose web task crash-loops on EADDRINUSE."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        r = dingate("emulate", "--http-port", str(port), "--control-port", str(free_port()),
                    "--state-dir", str(tmp_path / "state"), timeout=60, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "HTTP port %d" % port in r.stderr and "--http-port" in r.stderr, r.stderr
    assert "[device]" not in r.stdout  # it never booted
