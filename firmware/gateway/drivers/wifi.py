"""The ESP32 radio: access point and station interfaces (network.WLAN)."""
import network

AP_IP = "192.168.4.1"
MAX_NETWORKS = 24  # scan results kept (strongest first): a crowded place cannot fill the heap


class Radio:
    def __init__(self, hostname=None):
        if hostname:  # before the interfaces start: the name DHCP gives the router and mDNS answers
            network.hostname(hostname)
        self.ap = network.WLAN(network.AP_IF)
        self.sta = network.WLAN(network.STA_IF)

    def start_ap(self, ssid, password):
        self.ap.config(essid=ssid, password=password, authmode=network.AUTH_WPA2_PSK)
        self.ap.active(True)

    def stop_ap(self):
        self.ap.active(False)

    def hostname(self):
        return network.hostname()

    def ap_active(self):
        return self.ap.active()

    def sta_active(self, on=None):
        return self.sta.active(on)

    def scan(self):
        """[(ssid str, rssi, secure)] strongest first, one entry per SSID, at most MAX_NETWORKS."""
        if not self.sta.active():
            self.sta.active(True)
        best = {}
        for ssid, _bssid, _ch, rssi, auth, hidden in self.sta.scan():
            if hidden or not ssid:
                continue
            try:
                name = ssid.decode()
            except UnicodeError:
                continue
            if name not in best or rssi > best[name][1]:
                best[name] = (name, rssi, auth != network.AUTH_OPEN)
        return sorted(best.values(), key=lambda n: -n[1])[:MAX_NETWORKS]

    def connect(self, ssid, password, static=None):
        self.sta.active(True)
        if static:
            self.sta.ifconfig(static)
        self.sta.connect(ssid, password)

    def disconnect(self):
        self.sta.disconnect()

    def sta_status(self):
        s = self.sta.status()
        if s == network.STAT_GOT_IP:
            return "connected"
        if s == network.STAT_CONNECTING:
            return "connecting"
        if s == network.STAT_WRONG_PASSWORD:
            return "wrong_password"
        if s == network.STAT_NO_AP_FOUND:
            return "no_ap_found"
        return "idle" if s == network.STAT_IDLE else "failed"

    def sta_connected(self):
        return self.sta.isconnected()

    def sta_ip(self):
        return self.sta.ifconfig()[0]

    def rssi(self):
        return self.sta.status("rssi") if self.sta.isconnected() else None

    def mac(self):
        return ":".join("%02x" % b for b in self.sta.config("mac"))
