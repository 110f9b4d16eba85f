"""Wi-Fi supervision task: the AP for setup, the station to the router, AP back when it is lost."""
import asyncio

from gateway.core import ondemand
from gateway.core.ticks import unix_time
from gateway.core.wifi_state import WifiSupervisor, is_dhcp

RETRY_S = 10  # a station that is not connected tries again this often


class WifiService:
    def __init__(self, radio, store, ap_ssid, ap_password, events=None, clock=None):
        self.radio = radio
        self.store = store
        self.ap_ssid = ap_ssid
        self.ap_password = ap_password
        self.events = events
        self.clock = clock or unix_time
        self.cfg = store.load("wifi") or {}
        self.sup = WifiSupervisor(now=self.clock())
        self._last_try = None
        self._was = None
        self.wake = asyncio.Event()

    def configured(self):
        return bool(self.cfg.get("ssid"))

    def connect(self, data):
        """Validate and store new station settings (POST /api/wifi/connect), then try them now."""
        cfg = ondemand.call("gateway.core.wifi_config", "validate_wifi", data)
        self.store.save("wifi", cfg)
        self.cfg = cfg
        self._last_try = None
        self.sup.config_changed(self.clock())
        self.wake.set()

    def forget(self):
        self.store.delete("wifi")
        self.cfg = {}
        self.radio.disconnect()
        self.sup.config_changed(self.clock())
        self.wake.set()

    def request_setup(self):
        self.sup.request_setup(self.clock())
        self.wake.set()

    def shift(self, d):
        """The clock was set ``d`` seconds forward (or back) (gateway.services.clock)."""
        if self._last_try is not None:
            self._last_try += d
        self.sup.shift(d)

    def step(self):
        """One supervision tick: read the radio, decide, apply."""
        now = self.clock()
        up = self.radio.sta_connected()
        ip = self.radio.sta_ip() if up else None
        ap_on, sta_connect = self.sup.tick(now, self.configured(), up, ip)
        if ap_on and not self.radio.ap_active():
            self.radio.start_ap(self.ap_ssid, self.ap_password)
        elif not ap_on and self.radio.ap_active():
            self.radio.stop_ap()
        if sta_connect and not up:
            if self._last_try is None or now - self._last_try >= RETRY_S:
                self._last_try = now
                c = self.cfg
                static = None if is_dhcp(c) else (c["ip"], c["netmask"], c["gateway"], c["dns"])
                self.radio.connect(c["ssid"], c.get("password", ""), static)
        elif not sta_connect and up:
            self.radio.disconnect()
        if self.sup.state != self._was:
            if self.events and self._was is not None:
                self.events("state", "wifi", "wifi.state", {"from": self._was, "to": self.sup.state})
            self._was = self.sup.state

    async def run(self):
        while True:
            self.step()
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), 1)
            except asyncio.TimeoutError:
                pass

    def public(self):
        """GET /api/wifi: never the key."""
        up = self.radio.sta_connected()
        sta = {"ssid": self.cfg.get("ssid"), "status": self.radio.sta_status() if self.configured() else "idle",
               "ip": self.radio.sta_ip() if up else None, "rssi": self.radio.rssi() if up else None,
               "password_set": bool(self.cfg.get("password")), "dhcp": is_dhcp(self.cfg)}
        for k in ("ip", "netmask", "gateway", "dns"):
            if not sta["dhcp"] and k in self.cfg:
                sta["static_" + k] = self.cfg[k]
        until = self.sup._setup_until  # the PRG button's setup window (AP forced on), if open
        left = max(0, int(until - self.clock())) if until is not None else None
        return {"mode": self.mode(), "state": self.sup.state, "setup_left_s": left,
                "hostname": self.radio.hostname(),
                "ap": {"ssid": self.ap_ssid, "on": self.radio.ap_active()}, "sta": sta}

    def mode(self):
        ap = self.radio.ap_active()
        sta = self.radio.sta_connected()
        return "ap+sta" if ap and sta else ("sta" if sta else "ap")
