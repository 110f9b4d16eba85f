"""gateway.core.wifi_state: the supervision state machine and the Wi-Fi/IP validators."""

from _assert import raises

from gateway.core.errors import ValidationError
from gateway.core.wifi_config import validate_ip_config, validate_wifi
from gateway.core.wifi_state import WifiSupervisor, is_dhcp

IP = "192.168.1.50"


def sup(now=0):
    return WifiSupervisor(now, ap_fallback_s=60, ap_grace_s=30, setup_window_s=300, stable_s=20)


def run(s, t0, t1, configured, connected, ip=IP, step=1):
    """Tick every ``step`` s over [t0, t1); returns the outputs of the last tick."""
    out = None
    t = t0
    while t < t1:
        out = s.tick(t, configured, connected, ip if connected else None)
        t += step
    return out


def test_unconfigured_is_ap_only():
    s = sup()
    assert s.state == "boot"
    assert s.tick(0, False, False) == (True, False)
    assert s.state == "ap" and s.mode() == "ap"
    assert run(s, 1, 5000, False, False) == (True, False)
    assert s.status(10) == {"mode": "ap", "state": "ap", "ip": "0.0.0.0"}


def test_boot_configured_connects_without_ap():
    s = sup()
    assert s.tick(0, True, False) == (False, True)
    assert s.state == "connecting" and s.mode() == "sta"
    assert s.tick(5, True, True, IP) == (False, True)
    assert s.state == "sta"
    assert s.status(5) == {"mode": "sta", "state": "sta", "ip": IP}


def test_boot_router_unreachable_brings_ap_after_fallback():
    s = sup()
    assert run(s, 0, 60, True, False) == (False, True)
    assert s.state == "connecting"
    assert s.tick(60, True, False) == (True, True)
    assert s.mode() == "ap+sta"
    # and it stays on while still not connected
    assert run(s, 61, 1000, True, False) == (True, True)


def test_dhcp_pending_is_not_connected():
    s = sup()
    s.tick(0, True, False)
    assert s.tick(1, True, True, None) == (False, True)
    assert s.state == "connecting"
    assert s.tick(2, True, True, "0.0.0.0") == (False, True)
    assert s.state == "connecting"
    s.tick(3, True, True, IP)
    assert s.state == "sta"


def test_configured_from_ap_keeps_ap_through_grace():
    s = sup()
    s.tick(0, False, False)
    assert s.state == "ap"
    # the user enters the router's key on the page served over our AP
    s.config_changed(100)
    assert s.tick(100, True, False) == (True, True)
    assert s.state == "connecting"
    assert run(s, 101, 110, True, False) == (True, True)
    assert s.tick(110, True, True, IP) == (True, True)  # phone still sees the AP...
    assert s.state == "sta" and s.mode() == "ap+sta"
    assert run(s, 111, 140, True, True) == (True, True)
    assert s.tick(140, True, True, IP) == (False, True)  # ...then it goes after the grace period
    assert s.mode() == "sta"


def test_configured_without_config_changed_call_also_keeps_ap():
    s = sup()
    s.tick(0, False, False)
    assert s.tick(1, True, False) == (True, True)
    assert s.state == "connecting"


def test_ap_returns_every_time_the_sta_is_lost():
    # ESPHome #19459: the AP came back only the first time.
    # Cycle lost -> AP -> connected -> lost -> AP ... several times.
    s = sup()
    s.tick(0, True, True, IP)
    t = 0
    for cycle in range(5):
        t += 1
        run(s, t, t + 100, True, True)  # stable connection
        t += 100
        assert s.state == "sta" and s.ap_on is False, cycle
        assert s.tick(t, True, False) == (False, True)  # lost: retry STA, AP not yet
        assert s.state == "lost"
        assert run(s, t + 1, t + 60, True, False) == (False, True), cycle
        assert s.tick(t + 60, True, False) == (True, True), cycle  # AP is back
        assert s.state == "lost" and s.mode() == "ap+sta"
        t += 90
        run(s, t - 29, t, True, False)
        assert s.ap_on
        assert s.tick(t, True, True, IP) == (True, True)  # reconnected: grace
        assert s.state == "sta"
        assert run(s, t + 1, t + 30, True, True) == (True, True)
        assert s.tick(t + 30, True, True, IP) == (False, True), cycle  # AP off again
        t += 30
    assert s.losses == 5


def test_loss_during_grace_keeps_ap():
    s = sup()
    run(s, 0, 61, True, False)
    assert s.ap_on
    s.tick(61, True, True, IP)
    assert s.state == "sta" and s.ap_on
    assert s.tick(70, True, False) == (True, True)  # dropped within the grace period
    assert s.state == "lost"
    assert run(s, 71, 200, True, False) == (True, True)


def test_flapping_router_cannot_keep_ap_away():
    # 10 s up / 50 s down forever: each loss alone never reaches the 60 s fallback, but short
    # connections do not restart the clock, so the AP still comes back.
    s = sup()
    s.tick(0, True, True, IP)
    run(s, 1, 100, True, True)  # one stable period first
    t = 100
    ap_seen_at = None
    for _ in range(6):
        run(s, t, t + 50, True, False)
        if s.ap_on and ap_seen_at is None:
            ap_seen_at = t
        run(s, t + 50, t + 60, True, True)
        t += 60
    assert ap_seen_at is not None
    assert ap_seen_at <= 160


def test_unconfigure_goes_back_to_ap():
    s = sup()
    s.tick(0, True, True, IP)
    assert s.tick(1, False, False) == (True, False)
    assert s.state == "ap"


def test_setup_button_window():
    s = sup()
    run(s, 0, 100, True, True)
    assert s.ap_on is False
    assert s.tick(100, True, True, IP, user_setup_requested=True) == (True, True)
    assert s.state == "setup" and s.mode() == "ap+sta"
    assert s.status(150)["setup_left_s"] == 250
    assert run(s, 101, 400, True, True) == (True, True)
    assert s.tick(400, True, True, IP) == (False, True)  # window over, connected: AP off
    assert s.state == "sta"


def test_clock_set_during_setup_or_grace_keeps_the_time_left():
    year = 365 * 86400
    s = sup()
    run(s, 0, 100, True, True)
    s.tick(100, True, True, IP, user_setup_requested=True)
    s.shift(26 * year)  # the installer sets the clock from the phone (RTC was at 2000)
    t = 26 * year
    assert run(s, t + 101, t + 400, True, True) == (True, True)  # the window is not cut short
    assert s.state == "setup" and s.status(t + 150)["setup_left_s"] == 250
    assert s.tick(t + 400, True, True, IP) == (False, True)
    s2 = sup()
    s2.tick(0, False, False)
    s2.config_changed(100)
    run(s2, 100, 110, True, False)
    s2.tick(110, True, True, IP)  # connected: the AP stays 30 s (grace)...
    s2.shift(-year)  # ...even when NTP sets the clock back
    assert run(s2, 111 - year, 140 - year, True, True) == (True, True)
    assert s2.tick(140 - year, True, True, IP) == (False, True)


def test_setup_press_restarts_window_and_unconfigured_setup():
    s = sup()
    s.tick(0, False, False)
    s.tick(10, False, False, None, True)
    assert s.state == "setup" and s.tick(11, False, False) == (True, False)
    s.request_setup(200)  # second press: window restarts
    assert run(s, 201, 500, False, False) == (True, False)
    assert s.state == "setup"
    s.tick(500, False, False)
    assert s.state == "ap"


def test_setup_ends_while_sta_down():
    s = sup()
    run(s, 0, 100, True, True)
    s.request_setup(100)
    run(s, 100, 150, True, True)
    run(s, 150, 400, True, False)  # router died during the window
    assert s.state == "setup" and s.ap_on
    assert s.tick(400, True, False) == (True, True)
    assert s.state == "lost"
    s.tick(410, True, True, IP)
    assert s.state == "sta" and s.ap_on  # grace, then off
    assert run(s, 411, 441, True, True) == (False, True)


def test_config_changed_while_connected():
    s = sup()
    run(s, 0, 100, True, True)
    s.config_changed(100)
    assert s.tick(100, True, False) == (False, True)
    assert s.state == "connecting"
    assert run(s, 101, 160, True, False) == (False, True)
    assert s.tick(160, True, False) == (True, True)  # new network never came: AP after fallback


# --- validation ------------------------------------------------------------------------------


def field(fn, *a):
    return raises(ValidationError, fn, *a).field


def test_ip_config_dhcp():
    d = {"ip": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "0.0.0.0", "dns": "0.0.0.0"}
    assert validate_ip_config({}) == d
    assert validate_ip_config(None) == d
    assert validate_ip_config({"ip": "0.0.0.0", "netmask": "garbage"}) == d
    assert validate_ip_config({"ip": ""}) == d
    assert is_dhcp(d) and is_dhcp({}) and is_dhcp(None)


def test_ip_config_static_ok():
    c = validate_ip_config(
        {
            "ip": "192.168.1.50",
            "netmask": "255.255.255.0",
            "gateway": "192.168.1.1",
            "dns": "1.1.1.1",
        }
    )
    assert c == {
        "ip": "192.168.1.50",
        "netmask": "255.255.255.0",
        "gateway": "192.168.1.1",
        "dns": "1.1.1.1",
    }
    assert not is_dhcp(c)
    c = validate_ip_config({"ip": "10.1.2.3", "netmask": "255.0.0.0"})
    assert c["gateway"] == "0.0.0.0" and c["dns"] == "0.0.0.0"
    c = validate_ip_config({"ip": "10.0.0.2", "netmask": "255.255.255.252", "gateway": "10.0.0.1"})
    assert c["netmask"] == "255.255.255.252"


def test_ip_config_errors():
    V = validate_ip_config
    assert field(V, {"ip": "192.168.1"}) == "ip"
    assert field(V, {"ip": "192.168.1.256", "netmask": "255.255.255.0"}) == "ip"
    assert field(V, {"ip": "192.168.01.x", "netmask": "255.255.255.0"}) == "ip"
    assert field(V, {"ip": 12345}) == "ip"
    assert field(V, {"ip": "127.0.0.5", "netmask": "255.0.0.0"}) == "ip"
    assert field(V, {"ip": "224.0.0.5", "netmask": "255.255.255.0"}) == "ip"
    assert field(V, {"ip": "192.168.1.0", "netmask": "255.255.255.0"}) == "ip"
    assert field(V, {"ip": "192.168.1.255", "netmask": "255.255.255.0"}) == "ip"
    assert field(V, {"ip": "192.168.1.5"}) == "netmask"
    assert field(V, {"ip": "192.168.1.5", "netmask": "255.0.255.0"}) == "netmask"
    assert field(V, {"ip": "192.168.1.5", "netmask": "255.255.255.254"}) == "netmask"
    assert field(V, {"ip": "192.168.1.5", "netmask": "255.255.255.255"}) == "netmask"
    base = {"ip": "192.168.1.5", "netmask": "255.255.255.0"}
    assert field(V, dict(base, gateway="192.168.2.1")) == "gateway"
    assert field(V, dict(base, gateway="192.168.1.5")) == "gateway"
    assert field(V, dict(base, gateway="192.168.1.255")) == "gateway"
    assert field(V, dict(base, gateway="1.2.3")) == "gateway"
    assert field(V, dict(base, dns="127.0.0.1")) == "dns"
    assert field(V, dict(base, dns="8.8.8")) == "dns"
    assert field(V, ["x"]) == "ip"


def test_validate_wifi_ok():
    w = validate_wifi({"ssid": "Home", "password": "secret123"})
    assert w["ssid"] == "Home" and w["password"] == "secret123" and w["ip"] == "0.0.0.0"
    w = validate_wifi({"ssid": "Café libre", "password": ""})
    assert w["password"] == ""
    assert validate_wifi({"ssid": "Open"})["password"] == ""
    assert validate_wifi({"ssid": "Open", "password": None})["password"] == ""
    assert validate_wifi({"ssid": "x" * 32, "password": "p" * 63})["ssid"] == "x" * 32
    assert validate_wifi({"ssid": "é" * 16, "password": "12345678"})["ssid"] == "é" * 16
    w = validate_wifi(
        {
            "ssid": "Home",
            "password": "secret123",
            "ip": "192.168.1.50",
            "netmask": "255.255.255.0",
            "gateway": "192.168.1.1",
            "dns": "0.0.0.0",
        }
    )
    assert w["ip"] == "192.168.1.50" and w["gateway"] == "192.168.1.1"


def test_validate_wifi_errors():
    V = validate_wifi
    assert field(V, {}) == "ssid"
    assert field(V, {"ssid": ""}) == "ssid"
    assert field(V, {"ssid": 5}) == "ssid"
    assert field(V, {"ssid": "x" * 33}) == "ssid"
    assert field(V, {"ssid": "é" * 17}) == "ssid"  # 34 bytes
    assert field(V, {"ssid": "a\nb"}) == "ssid"
    assert field(V, {"ssid": "Home", "password": "short"}) == "password"
    assert field(V, {"ssid": "Home", "password": "p" * 64}) == "password"
    assert field(V, {"ssid": "Home", "password": 12345678}) == "password"
    assert field(V, {"ssid": "Home", "password": "pässwörd1"}) == "password"
    assert field(V, {"ssid": "Home", "password": "tab\there1"}) == "password"
    assert field(V, {"ssid": "Home", "ip": "192.168.1.5"}) == "netmask"
    assert field(V, "ssid") == "ssid"
