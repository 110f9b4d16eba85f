"""The gateway: one asyncio loop, named tasks, wired drivers -> core -> services -> web."""
import asyncio
import gc
import os

from gateway import VERSION
from gateway.core import auth, ondemand
from gateway.core.configstore import remove_tree
from gateway.core.eventlog import EventLog
from gateway.core.ticks import sleep_ms, ticks_diff, unix_time
from gateway.drivers import panel_io, system
from gateway.drivers.board import load_board
from gateway.drivers.watchdog import Watchdog
from gateway.drivers.wifi import AP_IP, Radio
from gateway.services.panel import PanelService
from gateway.services.store import Store
from gateway.services.tasks import Tasks
from gateway.services.users import Users
from gateway.services.wifi import WifiService

DATA = "/data"
GC_EVERY_BYTES = 8192


class Device:
    """What the services and the web layer share: board, stores, identity, accounts, tasks."""

    def __init__(self, board):
        self.board = board
        self.mqtt = None  # set once the services exist (gateway.app.run)
        self.genset = None
        self.started = unix_time()
        self.reset_cause = system.reset_cause()
        self.store = Store()
        self.events = EventLog(DATA + "/events", clock=self.now)
        self.sessions = None
        self.users = Users(self.store, self.revoke_user)
        self.identity = ondemand.call("gateway.services.identity", "load_identity",
                                      self.store, self.users, system.mac_hex())
        self.sessions = auth.Sessions(self.identity["session_secret"].encode())
        self.throttle = auth.LoginThrottle()
        check = lambda d: ondemand.call("gateway.core.settings", "validate_settings", d)  # noqa: E731
        # a new device takes the board's NTP server (the emulator's has none: no internet there)
        self.settings = self.store.load("settings", check) or check(
            {"ntp_server": board.get("ntp_server", "pool.ntp.org")})
        self.radio = Radio()
        self.wifi = WifiService(self.radio, self.store, self.ap_ssid(), self.identity["ap_password"],
                                events=self.event)
        self.tasks = Tasks(log=lambda src, text: self.event("system", src, text))
        self.route_modules = []
        self.reboot_requested = asyncio.Event()
        self.reboot_reason = None
        self.mqtt_connected = lambda: False
        self.bus_activity = lambda: (None, None)  # ticks_ms of the last good / failed transaction
        for name, status, detail in self.store.take_problems():
            self.event("config", name, "%s: %s" % (status, detail))

    def event(self, type, source, text):
        self.events.log(type, source, text)
        if self.mqtt is not None:
            self.mqtt.post_event({"ts": self.now(), "type": type, "source": source, "text": text})

    def load_genset_modules(self):
        """The generator's modules, resident from now on (imported outside any on-demand call)."""
        import gateway.core.genset  # noqa: F401
        import gateway.services.genset  # noqa: F401

    def start_genset(self):
        """The generator was just configured: start its service outside the request."""
        async def start():
            if self.genset is not None:
                return
            self.load_genset_modules()
            self.genset = ondemand.call("gateway.services.genset_setup", "build", self, True)
            if self.genset:
                self.meters.on_cycle.append(self.genset.wake)
                self.tasks.spawn("genset", self.genset.run)

        asyncio.create_task(start())

    def apply_mqtt(self):
        """The MQTT settings changed: restart the uplink outside the request (its modules
        must not be loaded inside an on-demand API call)."""
        asyncio.create_task(self.mqtt.restart())

    # ---- Modbus TCP server (read-only, for a SCADA): its code is loaded only once enabled
    def apply_modbus_tcp(self):
        """The Modbus TCP settings changed: (re)start the server outside the request (its
        modules must not be loaded inside an on-demand API call)."""
        asyncio.create_task(self.restart_modbus_tcp())

    async def restart_modbus_tcp(self):
        if self.modbus_tcp is None and not (self.store.load("modbus_tcp") or {}).get("enabled"):
            return
        from gateway.services.modbus_tcp import apply

        await apply(self)

    # Users calls back here when accounts change, before the session table exists at boot
    def revoke_user(self, name):
        if self.sessions:
            self.sessions.revoke_user(name)

    def now(self):
        return int(unix_time())

    def uptime_s(self):
        return int(unix_time() - self.started)

    def ap_ssid(self):
        return "dingate-" + self.identity["serial"]

    def own_hosts(self, req):
        http = self.board.get("http", {})
        port = http.get("port", 80)
        hosts = [AP_IP, "dingate.local", "dingate-%s.local" % self.identity["serial"].lower(),
                 self.radio.sta_ip(), http.get("host", "")]
        if http.get("host") == "127.0.0.1":
            hosts.append("localhost")
        out = []
        for h in hosts:
            if h and h != "0.0.0.0":
                out.append(h if port == 80 else "%s:%d" % (h, port))
                out.append(h)
        return out

    def system_info(self):
        return {"serial": self.identity["serial"], "mac": self.radio.mac(), "firmware": VERSION,
                "board": self.board.get("name"), "ap_ssid": self.ap_ssid(), "time": self.now(),
                "timezone": self.settings["timezone"], "uptime_s": self.uptime_s(),
                "reset_cause": self.reset_cause, "clock": self.clock.public()}

    def save_settings(self, data):
        self.settings = ondemand.call("gateway.core.settings", "validate_settings", data,
                                      self.settings)
        self.store.save("settings", self.settings)
        if getattr(self, "storage", None):
            self.storage.set_zone(self.settings["timezone"])
        return self.settings

    def request_reboot(self, reason):
        self.reboot_reason = reason
        self.reboot_requested.set()

    def factory_reset(self, keep_data=True):
        """Configuration wiped (identity and the provisioned admin kept); data kept unless asked."""
        for name in ("meters", "bus", "genset", "users", "wifi", "mqtt", "modbus_tcp", "settings"):
            self.store.delete(name)
        if not keep_data:
            for name in os.listdir(DATA):
                if name != "cfg":  # the configuration was handled above, document by document
                    remove_tree(DATA + "/" + name)
        self.event("system", "device", "factory reset (data %s)" % ("kept" if keep_data else "erased"))
        self.request_reboot("factory reset")

    def panel_state(self, now_ms):
        net = "broker" if self.mqtt_connected() else ("router" if self.radio.sta_connected() else "off")
        ok, err = self.bus_activity()
        com = "idle"
        if err is not None and ticks_diff(now_ms, err) < 2000:
            com = "error"
        elif ok is not None and ticks_diff(now_ms, ok) < 2000:
            com = "traffic"
        return net, com, "running"

    def panel_action(self, action):
        self.event("system", "button", "PRG: %s" % action)
        if action == "setup":
            self.wifi.request_setup()
        elif action == "restart":
            self.request_reboot("PRG button held 5 s")
        elif action == "factory_reset":
            self.panel.resetting = True
            self.factory_reset(keep_data=True)


async def _serve_http(dev):
    from gateway.web.server import build_app

    http = dev.board.get("http", {})
    app = build_app(dev)
    gc.collect()
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
    dev.event("system", "device", "reboot: %s" % dev.reboot_reason)
    for hook in dev.before_reboot:
        hook()
    await sleep_ms(300)  # let the HTTP answer go out
    system.reset()


async def _captive_dns(dev):
    from gateway.services.captive_dns import CaptiveDNS  # only boards that serve DNS load it

    dns = CaptiveDNS(AP_IP, port=dev.board["dns_port"])
    dns.open()
    await dns.serve()


def mem(stage):
    """Boot log line with the heap in use after ``stage`` (the console shows where RAM goes)."""
    gc.collect()
    print("mem: %-10s %6d used %6d free" % (stage, gc.mem_alloc(), gc.mem_free()))


async def run():
    mem("start")
    board = load_board()
    dev = Device(board)
    mem("device")
    dev.before_reboot = []
    dev.event("system", "device", "boot (%s), firmware %s" % (dev.reset_cause, VERSION))
    leds, button = panel_io.from_board(board)
    dev.panel = PanelService(leds, button, dev.panel_state, dev.panel_action)
    mem("panel")
    from gateway.drivers import rs485
    from gateway.services.meters import MeterService
    from gateway.web import captive, pages

    dev.meters = MeterService(dev.store, lambda bus: rs485.open_port(board, bus), events=dev.event)
    dev.bus_activity = lambda: (dev.meters.last_ok_ms, dev.meters.last_err_ms)
    dev.route_modules += [captive.register, pages.register]
    mem("meters")
    from gateway.services.storage import Storage

    dev.storage = Storage(dev.meters.poller.readings, lambda: dev.settings, events=dev.event)
    dev.before_reboot.append(dev.storage.before_reboot)
    mem("storage")
    import gateway.drivers.relay  # noqa: F401
    import gateway.services.genset  # noqa: F401  resident: the builder below is not

    # the builder module is dropped after the call; what it built stays
    dev.genset = ondemand.call("gateway.services.genset_setup", "build", dev)
    if dev.genset:
        dev.meters.on_cycle.append(dev.genset.wake)
    mem("genset")
    from gateway.services.mqtt_setup import MqttRunner

    dev.mqtt = MqttRunner(dev)
    dev.mqtt_connected = dev.mqtt.connected
    tasks = dev.tasks
    tasks.spawn("poller", dev.meters.poller.run)
    tasks.spawn("meter_events", dev.meters.watch)
    tasks.spawn("recorder", dev.storage.recorder.run)
    tasks.spawn("mqtt_start", dev.mqtt.restart, restart=False)
    if dev.genset:
        tasks.spawn("genset", dev.genset.run)
    # Modbus TCP server (read-only, for a SCADA): started here only when enabled in
    # /api/modbus-tcp; otherwise none of its code is in the heap (services/modbus_tcp.py)
    dev.modbus_tcp = None
    tasks.spawn("modbus_tcp_start", dev.restart_modbus_tcp, restart=False)
    tasks.spawn("wifi", dev.wifi.run)
    # the clock: NTP through the station (settings "ntp_server", at connect and every 6 h) and
    # PUT /api/system/time ("set from this phone"); GET /api/system shows dev.clock.public()
    from gateway.services.clock import Clock

    dev.clock = Clock(dev)
    tasks.spawn("clock", dev.clock.run)
    tasks.spawn("web", lambda: _serve_http(dev))
    tasks.spawn("panel", dev.panel.run)
    if board.get("dns_port"):
        tasks.spawn("dns", lambda: _captive_dns(dev))
    tasks.spawn("watchdog", lambda: _watchdog(dev))
    tasks.spawn("reboot", lambda: _reboot_on_request(dev), restart=False)
    print("dingate %s ready: serial %s, AP %s" % (VERSION, dev.identity["serial"], dev.ap_ssid()))
    await asyncio.sleep(1)
    # collect after every few KB allocated: small, frequent collections keep the heap unfragmented
    gc.threshold(GC_EVERY_BYTES)
    mem("running")
    while True:
        await asyncio.sleep(3600)


def main():
    asyncio.run(run())
