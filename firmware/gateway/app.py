"""The gateway: one asyncio loop, named tasks, wired drivers -> core -> services -> web."""
import asyncio
import gc
import time

from gateway.core import auth
from gateway.core.ticks import sleep_ms
from gateway.drivers import system
from gateway.drivers.board import load_board
from gateway.drivers.watchdog import Watchdog
from gateway.drivers.wifi import AP_IP, Radio
from gateway.services.identity import load_identity
from gateway.services.store import Store
from gateway.services.tasks import Tasks
from gateway.services.users import Users


class Device:
    """What the services and the web layer share: board, stores, identity, accounts, tasks."""

    def __init__(self, board):
        self.board = board
        self.started = time.time()
        self.reset_cause = system.reset_cause()
        self.store = Store()
        self.sessions = None
        self.users = Users(self.store, self.revoke_user)
        self.identity = load_identity(self.store, self.users, system.mac_hex())
        self.sessions = auth.Sessions(self.identity["session_secret"].encode())
        self.throttle = auth.LoginThrottle()
        self.radio = Radio()
        self.tasks = Tasks()
        self.route_modules = []
        self.reboot_requested = asyncio.Event()
        self.reboot_reason = None

    # Users calls back here when accounts change, before the session table exists at boot
    def revoke_user(self, name):
        if self.sessions:
            self.sessions.revoke_user(name)

    def now(self):
        return int(time.time())

    def uptime_s(self):
        return int(time.time() - self.started)

    def ap_ssid(self):
        return "dingate-" + self.identity["serial"]

    def own_hosts(self, req):
        http = self.board.get("http", {})
        port = http.get("port", 80)
        hosts = [AP_IP, "dingate.local", self.radio.sta_ip(), http.get("host", "")]
        if http.get("host") == "127.0.0.1":
            hosts.append("localhost")
        out = []
        for h in hosts:
            if h and h != "0.0.0.0":
                out.append(h if port == 80 else "%s:%d" % (h, port))
                out.append(h)
        return out

    def wifi_status(self):
        ap = self.radio.ap_active()
        sta = self.radio.sta_connected()
        mode = "ap+sta" if ap and sta else ("sta" if sta else "ap")
        st = {"mode": mode, "ap_ssid": self.ap_ssid() if ap else None, "sta": self.radio.sta_status()}
        if sta:
            st["ip"] = self.radio.sta_ip()
            st["rssi"] = self.radio.rssi()
        return st

    def request_reboot(self, reason):
        self.reboot_reason = reason
        self.reboot_requested.set()


async def _serve_http(dev):
    from gateway.web.server import build_app

    http = dev.board.get("http", {})
    app = build_app(dev)
    print("http: listening on %s:%d" % (http.get("host", "0.0.0.0"), http.get("port", 80)))
    await app.start_server(host=http.get("host", "0.0.0.0"), port=http.get("port", 80))


async def _watchdog(dev):
    wdt = Watchdog(dev.board.get("watchdog_ms", 0))
    while True:
        wdt.feed()
        gc.collect()
        await asyncio.sleep(1)


async def _reboot_on_request(dev):
    await dev.reboot_requested.wait()
    print("rebooting: %s" % dev.reboot_reason)
    await sleep_ms(300)
    system.reset()


async def run():
    board = load_board()
    dev = Device(board)
    dev.radio.start_ap(dev.ap_ssid(), dev.identity["ap_password"])
    dev.tasks.spawn("web", lambda: _serve_http(dev))
    dev.tasks.spawn("watchdog", lambda: _watchdog(dev))
    dev.tasks.spawn("reboot", lambda: _reboot_on_request(dev), restart=False)
    print("dingate %s ready: serial %s, AP %s" % (__import__("gateway").VERSION,
                                                  dev.identity["serial"], dev.ap_ssid()))
    while True:
        await asyncio.sleep(3600)


def main():
    asyncio.run(run())
