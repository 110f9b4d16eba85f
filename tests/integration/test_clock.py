"""The clock of an emulated gateway: "set from this phone" and NTP through the station.

The emulated RTC does not move the host's clock: the hardware panel records what the firmware
set (/api/hw "rtc_set": the Unix time and the host time it was set at).
"""
import datetime
import re
import socket
import struct
import threading
import time

import pytest
import requests

NTP_DELTA = 2208988800
OFFSET = 5 * 86400 + 1234.25  # the test server's clock runs this far ahead of the host's


def _rtc_set(emu, after):
    """/api/hw rtc_set once the firmware has set the RTC after host time ``after``, else None."""
    r = emu.hw()["rtc_set"]
    return r if r and r["at"] >= after else None


def test_set_from_the_page(emulator):
    emu = emulator
    emu.login()
    sy = emu.api("GET", "/api/system").json()
    # the emulator board has no NTP server by default: its routers reach no internet
    assert sy["clock"] == {"source": "unset", "last_sync": None, "ntp_server": "",
                           "ntp_error": None}
    assert emu.hw()["rtc_set"] is None
    sent = int(time.time()) + 3 * 86400  # the phone's clock, 3 days ahead of the gateway's
    t0 = time.time()
    r = emu.api("PUT", "/api/system/time", {"time": sent})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["clock"]["source"] == "manual" and body["clock"]["last_sync"] == sent
    rtc = emu.wait_for(lambda: _rtc_set(emu, t0), timeout=10, what="rtc_set")
    assert rtc["time"] == sent and t0 <= rtc["at"] <= time.time()
    # the ESP32 RTC tuple: (year, month, day, weekday Monday=0, hours, minutes, seconds, us), UTC
    d = datetime.datetime.fromtimestamp(sent, datetime.timezone.utc)
    assert rtc["datetime"] == [d.year, d.month, d.day, d.weekday(), d.hour, d.minute, d.second, 0]
    assert emu.api("GET", "/api/system").json()["clock"]["source"] == "manual"
    ev = emu.api("GET", "/api/events?type=system&limit=10").json()
    mine = [e for e in ev if e["source"] == "clock"]
    assert mine and "clock set by admin from the page" in mine[0]["text"], ev
    jump = int(re.search(r"\(([+-]\d+) s\)", mine[0]["text"]).group(1))
    assert abs(jump - 3 * 86400) <= 1, mine[0]
    # a fraction is accepted too (the unix port reads doubles)
    t1 = time.time()
    assert emu.api("PUT", "/api/system/time", {"time": sent + 0.5}).status_code == 200
    rtc = emu.wait_for(lambda: _rtc_set(emu, t1), timeout=10, what="rtc_set")
    assert rtc["time"] == pytest.approx(sent + 0.5, abs=1e-3)


@pytest.mark.parametrize("body", [
    {"time": "1795294724"}, {"time": True}, {"time": None}, {}, {"time": [1795294724]},
    {"time": 1577836799}, {"time": 4133980800}, {"time": 1795294724000}, {"time": -1},
])
def test_bad_time_is_400_on_field_time(emulator, body):
    emu = emulator
    emu.login()
    before = emu.hw()["rtc_set"]
    r = emu.api("PUT", "/api/system/time", body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "time"
    assert emu.hw()["rtc_set"] == before  # the RTC was not touched


def test_set_time_needs_an_installer(emulator):
    emu = emulator
    emu.login()
    emu.add_users({"user": "tenant", "password": "tenant-pass-1", "role": "user"})
    s = emu.session_as("tenant", "tenant-pass-1")  # with its CSRF token: the 403 is the role's
    assert s.put(emu.url + "/api/system/time", json={"time": int(time.time())},
                 timeout=10).status_code == 403
    assert requests.put(emu.url + "/api/system/time", json={"time": int(time.time())},
                        timeout=10).status_code == 401


class SntpServer:
    """A tiny SNTP server on a free UDP port of 127.0.0.1: stratum 2, clock = host + OFFSET."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _ts(t):
        s = int(t)
        return struct.pack(">II", (s + NTP_DELTA) % (1 << 32), int((t - s) * (1 << 32)))

    def _run(self):
        while not self._stop.is_set():
            try:
                req, addr = self.sock.recvfrom(512)
            except OSError:
                continue
            rx = time.time() + OFFSET
            self.requests.append(req)
            if len(req) != 48 or req[0] & 7 != 3:
                continue
            head = struct.pack(">BBbbII4s", 0x24, 2, 6, -20, 0, 0, b"GPS\0")
            tx = time.time() + OFFSET
            self.sock.sendto(head + self._ts(tx - 16) + req[40:48] + self._ts(rx) + self._ts(tx),
                             addr)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def test_ntp_sync_through_the_station(emulator):
    emu = emulator
    emu.login()
    with SntpServer() as srv:
        server = "127.0.0.1:%d" % srv.port
        r = emu.api("PUT", "/api/settings", {"ntp_server": server})
        assert r.status_code == 200 and r.json()["ntp_server"] == server, r.text
        r = emu.api("PUT", "/api/settings", {"ntp_server": "ntp://x"})
        assert r.status_code == 400 and r.json()["field"] == "ntp_server", r.text
        assert srv.requests == []  # no station yet: no NTP
        t0 = time.time()
        r = emu.api("POST", "/api/wifi/connect", {"ssid": "Home-Box", "password": "correct-horse"})
        assert r.status_code == 202, r.text
        rtc = emu.wait_for(lambda: _rtc_set(emu, t0), timeout=40, what="NTP sync")
        # the RTC got the server's time: host time at the setting + OFFSET (+ half the round trip)
        assert rtc["time"] - rtc["at"] == pytest.approx(OFFSET, abs=0.5), rtc
        assert len(srv.requests) == 1
        req = srv.requests[0]
        assert len(req) == 48 and req[0] == 0x23 and req[1:40] == bytes(39)
        clock = emu.api("GET", "/api/system").json()["clock"]
        assert clock["source"] == "ntp" and clock["ntp_server"] == server
        assert clock["last_sync"] == pytest.approx(rtc["time"], abs=1) and clock["ntp_error"] is None
        assert emu.api("GET", "/api/wifi").json()["sta"]["status"] == "connected"
        ev = emu.api("GET", "/api/events?type=system&limit=20").json()
        assert any(e["source"] == "clock" and "NTP from %s" % server in e["text"] for e in ev), ev

