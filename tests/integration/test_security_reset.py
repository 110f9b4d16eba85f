"""A factory reset (PRG held 10-30 s on the emulated panel: 15 s, margin for a busy loop) keeps
the label true (issue 16 item 14).

The label's admin password logs in again afterwards, whatever the admin had changed it to; the
serial and AP name stay the label's; the other accounts are gone.
"""
import requests

from dingate.testing.emuproc import EmulatorProcess


def test_factory_reset_keeps_the_label_password(tmp_path):
    with EmulatorProcess(admin_password="label-admin-pw-1", state_dir=str(tmp_path / "s")) as emu:
        label = emu.label()
        emu.login()
        r = emu.api("PUT", "/api/me/password", {"old_password": "label-admin-pw-1",
                                                "password": "changed-admin-pw-2"})
        assert r.status_code == 200, r.text
        r = emu.api("POST", "/api/users", {"user": "tech", "password": "tech-pass-123",
                                           "role": "installer"})
        assert r.status_code == 201, r.text
        r = emu.hw_post("/api/hw/button", {"name": "prg", "hold_ms": 15000})
        assert r.status_code == 200, r.text

        def console():
            with open(emu.log_path, "rb") as f:
                return f.read().decode(errors="replace")

        emu.wait_for(lambda: "restored from the provisioning record" in console(), timeout=90,
                     interval=0.5, what="the reboot after the factory reset")
        emu.wait_ready(60)

        def login(user, pw):
            return requests.post(emu.url + "/api/login", json={"user": user, "password": pw},
                                 timeout=10)

        r = login("admin", "label-admin-pw-1")
        assert r.status_code == 200, r.text
        assert login("admin", "changed-admin-pw-2").status_code == 401
        assert login("tech", "tech-pass-123").status_code == 401
        s = requests.Session()
        s.post(emu.url + "/api/login", json={"user": "admin", "password": "label-admin-pw-1"},
               timeout=10)
        system = s.get(emu.url + "/api/system", timeout=10).json()
        assert system["ap_ssid"] == label["ap_ssid"] and system["serial"] == label["serial"]
        assert "PRG: factory_reset" in console() or "factory reset" in console()
