"""Emulated `network` module (ESP32 API): STA and AP interfaces on the scenario's radio world.

The host decides what a scan sees and whether a key is right; it pushes STA status changes
(connecting, got IP, wrong password, link lost) over the hardware link.
"""
import _emu

STA_IF, AP_IF = 0, 1
STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 1000, 1001, 1010
STAT_BEACON_TIMEOUT, STAT_NO_AP_FOUND, STAT_WRONG_PASSWORD = 200, 201, 202
STAT_ASSOC_FAIL, STAT_HANDSHAKE_TIMEOUT = 203, 204
AUTH_OPEN, AUTH_WEP, AUTH_WPA_PSK, AUTH_WPA2_PSK, AUTH_WPA_WPA2_PSK = 0, 1, 2, 3, 4

_hostname = "mpy-esp32"  # the stock ESP32 image's until the firmware names itself


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


class WLAN:
    def __init__(self, interface=STA_IF):
        self._if = interface
        self._active = False
        self._conf = {"ssid": "", "key": "", "authmode": AUTH_WPA2_PSK, "channel": 1}
        self._static = None

    def _name(self):
        return "sta" if self._if == STA_IF else "ap"

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        msg = {"wifi_active": self._name(), "on": self._active}
        if self._if == AP_IF:
            msg["ssid"] = self._conf["ssid"]
            msg["secure"] = self._conf["authmode"] != AUTH_OPEN
        _emu.send(msg)

    def config(self, *args, **kw):
        if args:
            key = args[0]
            if key == "mac":
                mac = _emu.CONF.get("mac", "24:0a:c4:00:00:01")
                raw = bytes.fromhex(mac.replace(":", ""))
                if self._if == AP_IF:  # the ESP32's AP MAC is the base MAC + 1
                    raw = raw[:5] + bytes([(raw[5] + 1) & 0xFF])
                return raw
            if key in ("essid", "ssid"):
                return self._conf["ssid"]
            if key == "hostname":
                return _hostname
            return self._conf.get(key)
        for k, v in kw.items():
            if k == "essid":
                k = "ssid"
            if k == "password":
                k = "key"
            self._conf[k] = v
        if self._if == AP_IF and self._active:
            self.active(True)

    def scan(self):
        if self._if != STA_IF or not self._active:
            raise OSError("STA must be active")
        nets = _emu.request({"wifi_scan": 1}, timeout_ms=8000)["networks"]
        return [(n["ssid"].encode(), bytes(6), n.get("channel", 6), n["rssi"],
                 AUTH_WPA2_PSK if n["secure"] else AUTH_OPEN, False) for n in nets]

    def connect(self, ssid=None, key=None, **kw):
        if ssid is None:
            ssid, key = self._conf["ssid"], self._conf["key"]
        self._conf["ssid"], self._conf["key"] = ssid, key or ""
        _emu.wifi["sta_status"] = STAT_CONNECTING
        _emu.send({"wifi_connect": {"ssid": ssid, "key": key or ""}})

    def disconnect(self):
        _emu.wifi["sta_status"] = STAT_IDLE
        _emu.send({"wifi_disconnect": 1})

    def status(self, param=None):
        _emu.poll()
        if param == "rssi":
            return _emu.wifi.get("rssi", 0)
        if param == "stations":
            return [(bytes(6),)] * _emu.wifi.get("ap_clients", 0)
        if self._if == AP_IF:
            return STAT_GOT_IP if self._active else STAT_IDLE
        return _emu.wifi.get("sta_status", STAT_IDLE)

    def isconnected(self):
        if self._if == AP_IF:
            return self._active and _emu.wifi.get("ap_clients", 0) > 0
        return self.status() == STAT_GOT_IP

    def ifconfig(self, conf=None):
        if conf is not None:
            self._static = tuple(conf)
            return
        if self._if == AP_IF:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "192.168.4.1")
        if self.status() != STAT_GOT_IP:
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        if self._static:
            return self._static
        return tuple(_emu.wifi.get("ifconfig", ("0.0.0.0",) * 4))
