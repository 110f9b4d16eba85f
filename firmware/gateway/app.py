"""The gateway: one asyncio loop, named tasks, wired drivers -> core -> services -> web."""
import asyncio
import gc
import os

from gateway import VERSION
from gateway.core import auth, ondemand
from gateway.core.configstore import DOCS, remove_tree
from gateway.core.eventlog import EventLog
from gateway.core.ticks import sleep_ms, ticks_diff, unix_time
from gateway.drivers import panel_io, system
from gateway.drivers.board import load_board
from gateway.drivers.watchdog import Watchdog
from gateway.drivers.wifi import AP_IP, Radio
from gateway.services import heapmark
from gateway.services.panel import PanelService
from gateway.services.store import Store
from gateway.services.tasks import Tasks
from gateway.services.users import Users
from gateway.services.wifi import WifiService

DATA = "/data"
GC_EVERY_BYTES = 8192
# The declared resident set (core/ondemand.py): loaded by run() before any task starts, with
# everything boot imported, and never unloaded. Optional services add theirs when they start
# (services/optional.py); everything else is loaded on demand, per call.
RESIDENT = ("gateway.drivers.rs485", "gateway.services.meters", "gateway.web.captive",
            "gateway.web.pages", "gateway.services.storage", "gateway.services.alarms",
            "gateway.services.optional", "gateway.services.mqtt_setup", "gateway.services.clock",
            "gateway.web.server")


class Device:
    """What the services and the web layer share: board, stores, identity, accounts, tasks."""

    def __init__(self, board):
        # every attribute is declared here; run() fills the services in, nothing else adds any
        self.board = board
        self.mqtt = None  # the MQTT optional service (services/mqtt_setup.py), set by run()
        self.genset = None  # the running generator service, set by its slot (services/optional.py)
        self.outputs = None  # the running plain relay outputs (services/outputs.py), by their slot
        self.services = {}  # optional services by name: start(dev) / stop() / apply(config)
        self.meters = None  # services/meters.py MeterService
        self.storage = None  # services/storage.py: ring, recorder, billing
        self.panel = None  # services/panel.py: LEDs and the PRG button
        self.clock = None  # services/clock.py: NTP and "set from this phone"
        self.alarms = None  # services/alarms.py: inverter alarms into the event log
        self.web = None  # the HTTP app once it listens (its reaper's beats: web/guard.py)
        self.second_port = None  # web/second_port.py once settings "http_port" was set
        self.before_reboot = []  # callables run before a requested reset (flush the storage)
        self.upload_busy = False  # a backup restore or firmware upload is being received
        self.live_streams = []  # open live-event streams (web/api_live.py)
        self.started = unix_time()
        self.reset_cause = system.reset_cause()
        self.store = Store()
        self.events = EventLog(DATA + "/events", clock=self.now)
        self.sessions = None
        self.users = Users(self.store, self.revoke_user)
        self.identity = ondemand.call("gateway.services.identity", "load_identity",
                                      self.store, self.users, system.mac_hex())
        self.sessions = auth.Sessions(self.identity["session_secret"].encode())
        # login back-off per (client IP, user) and, more lenient, per user (gateway.web.api_login)
        self.throttle = auth.LoginThrottle()
        self.user_throttle = auth.LoginThrottle(free_failures=10, base_s=2, max_s=60)
        self.login_stats = [0, 0]  # failed logins, throttled attempts since boot
        # the stored document as the base: keys an older firmware kept are dropped, not refused
        check = lambda d: ondemand.call("gateway.core.settings", "validate_settings", {}, d)  # noqa: E731
        # a new device takes the board's NTP server (the emulator's has none: no internet there)
        self.settings = self.store.load("settings", check) or check(
            {"ntp_server": board.get("ntp_server", "pool.ntp.org")})
        self.radio = Radio(self.host_name())
        self.wifi = WifiService(self.radio, self.store, self.ap_ssid(), self.identity["ap_password"],
                                events=self.event)
        self.tasks = Tasks(log=lambda src, code, params: self.event("system", src, code, params))
        self.route_modules = []
        self.reboot_requested = asyncio.Event()
        self.reboot_reason = None
        self.mqtt_connected = lambda: False
        self.bus_activity = lambda: (None, None)  # ticks_ms of the last good / failed transaction
        for name, status, detail in self.store.take_problems():
            self.event("config", name, "store", {"status": status, "error": detail})

    def event(self, type, source, code, params=None):
        """Log event ``code`` (gateway.core.event_codes) with its ``params``; without params,
        ``code`` is a text of its own (no code)."""
        self.events.log(type, source, code, params=params)
        if self.mqtt is not None:
            self.mqtt.post_event(self.now(), type, source, code, params)

    @property
    def modbus_tcp(self):
        """The Modbus TCP server (services/modbus_tcp.py) while enabled, else None."""
        svc = self.services.get("modbus_tcp")
        return svc.running if svc is not None else None

    def apply(self, name):
        """The stored configuration of optional service ``name`` changed: apply it outside the
        request (its modules must not be loaded inside an on-demand API call), supervised."""
        svc = self.services[name]
        self.tasks.spawn(name + "_apply", lambda: svc.apply(self.store.load(name)), restart=False)

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

    def host_name(self):
        """The device's name on the network (DHCP, mDNS): "dingate-<serial>", lower case."""
        return "dingate-" + self.identity["serial"].lower()

    def own_hosts(self, req):
        http = self.board.get("http", {})
        name = self.host_name()
        hosts = [AP_IP, name, name + ".local", self.radio.sta_ip(), http.get("host", "")]
        if http.get("host") == "127.0.0.1":
            hosts.append("localhost")
        ports = self.http_ports()
        out = []
        for h in hosts:
            if h and h != "0.0.0.0":
                out.append(h)
                for port in ports:
                    if port != 80:
                        out.append("%s:%d" % (h, port))
        return out

    def system_info(self):
        return {"serial": self.identity["serial"], "mac": self.radio.mac(), "firmware": VERSION,
                "board": self.board.get("name"), "ap_ssid": self.ap_ssid(), "time": self.now(),
                "timezone": self.settings["timezone"], "uptime_s": self.uptime_s(),
                "reset_cause": self.reset_cause, "clock": self.clock.public(),
                "http_ports": self.http_ports()}

    def http_ports(self):
        """The ports the page is served on: the board's, then settings "http_port" once open."""
        extra = self.second_port.port if self.second_port is not None else 0
        return [self.board.get("http", {}).get("port", 80)] + ([extra] if extra else [])

    def save_settings(self, data):
        new = ondemand.call("gateway.core.settings", "validate_settings", data, self.settings)
        self.store.save("settings", new)  # validate -> save -> apply: a failed save changes nothing
        self.settings = new
        if self.storage is not None:
            self.storage.set_zone(self.settings["timezone"])
        self.follow_http_port()
        return self.settings

    def follow_http_port(self):
        """The page on settings "http_port" too (web/second_port.py): its code is loaded only
        once a port is set, by the task that runs it (outside any request)."""
        if self.second_port is not None:
            self.second_port.kick()
        elif self.settings["http_port"] and "http_port" not in self.tasks.tasks:
            self.tasks.spawn("http_port", lambda: _second_port(self))

    def request_reboot(self, reason):
        self.reboot_reason = reason
        self.reboot_requested.set()

    def factory_reset(self, keep_data=True):
        """Configuration wiped (identity and the provisioned admin kept); data kept unless asked."""
        for name in DOCS:
            self.store.delete(name)
        if not keep_data:
            for name in os.listdir(DATA):
                if name != "cfg":  # the configuration was handled above, document by document
                    remove_tree(DATA + "/" + name)
        self.event("system", "device", "reset.kept" if keep_data else "reset.erased", {})
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
        self.event("system", "button", "prg", {"action": action})
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
    dev.web = app  # its reaper's rounds are the web service's heartbeat (gateway.web.guard)
    if dev.second_port is not None:
        dev.second_port.serve(app, http.get("host", "0.0.0.0"))
    gc.collect()
    print("http: listening on %s:%d" % (http.get("host", "0.0.0.0"), http.get("port", 80)))
    await app.start_server(host=http.get("host", "0.0.0.0"), port=http.get("port", 80))


async def _second_port(dev):
    from gateway.web.second_port import SecondPort

    if dev.second_port is None:
        dev.second_port = SecondPort(dev.event)
        if dev.web is not None:
            dev.second_port.serve(dev.web, dev.board.get("http", {}).get("host", "0.0.0.0"))
    await dev.second_port.run(lambda: dev.settings["http_port"])


async def _watchdog(dev):
    wdt = Watchdog(dev.board.get("watchdog_ms", 0))
    # a task stalled again within an hour of a watchdog reset: another reset would not help
    # (a lasting fault, not a wedge), so the device stays up for its page and logs it
    again = dev.reset_cause == "watchdog"
    while True:
        # fed only while every essential task makes progress (gateway.services.tasks)
        if dev.tasks.check() or (again and dev.uptime_s() < 3600):
            wdt.feed()
        heapmark.sample()  # the heap at its fullest: just before the collection
        gc.collect()
        heapmark.collected()
        await asyncio.sleep(1)


async def _reboot_on_request(dev):
    await dev.reboot_requested.wait()
    print("rebooting: %s" % dev.reboot_reason)
    dev.event("system", "device", "reboot", {"why": dev.reboot_reason})
    for hook in dev.before_reboot:
        hook()
    await sleep_ms(300)  # let the HTTP answer go out
    system.reset()


async def _captive_dns(dev):
    CaptiveDNS = ondemand.keep("gateway.services.captive_dns").CaptiveDNS  # boards with DNS only

    dns = CaptiveDNS(AP_IP, port=dev.board["dns_port"])
    dns.open()
    await dns.serve()


def mem(stage):
    """Boot log line with the heap in use after ``stage`` (the console shows where RAM goes)."""
    gc.collect()
    print("mem: %-10s %6d used %6d free" % (stage, gc.mem_alloc(), gc.mem_free()))


async def run():
    # collect after every few KB allocated, from the start: small, frequent collections keep the
    # heap unfragmented and its high-water mark (gateway.services.heapmark) near the live heap
    gc.threshold(GC_EVERY_BYTES)
    mem("start")
    ondemand.keep_loaded()  # what boot.py and this module imported
    ondemand.keep(*RESIDENT)
    mem("resident")
    board = load_board()
    dev = Device(board)
    mem("device")
    dev.event("system", "device", "boot", {"cause": dev.reset_cause, "version": VERSION})
    switched = ondemand.call("gateway.core.fwswitch", "take_result")  # what boot.py did
    if switched:
        dev.event("system", "firmware", "fw.switch", {"why": switched})
    leds, button = panel_io.from_board(board)
    dev.panel = PanelService(leds, button, dev.panel_state, dev.panel_action)
    mem("panel")
    from gateway.drivers import rs485
    from gateway.services.meters import MeterService
    from gateway.services.optional import GensetSlot, ModbusTcpService, OutputsSlot, left_out
    from gateway.web import captive, pages

    dev.meters = MeterService(dev.store, lambda bus: rs485.open_port(board, bus), events=dev.event)
    dev.bus_activity = lambda: (dev.meters.last_ok_ms, dev.meters.last_err_ms)
    dev.route_modules += [captive.register, pages.register]
    mem("meters")
    from gateway.services.storage import Storage

    dev.storage = Storage(dev.meters.poller.readings, lambda: dev.settings, events=dev.event,
                          max_pending=board.get("recorder_pending"))
    dev.storage.billing.config = lambda: dev.store.load("billing") or {}  # tariffs at a month close
    dev.storage.billing.end_others([m["id"] for m in dev.meters.meters])
    dev.before_reboot.append(dev.storage.before_reboot)
    mem("storage")
    from gateway.services.mqtt_setup import MqttRunner

    # the optional services: each starts from its stored configuration in a task of its own
    dev.mqtt = MqttRunner(dev)
    dev.mqtt_connected = dev.mqtt.connected
    dev.services = {"genset": GensetSlot(), "mqtt": dev.mqtt, "modbus_tcp": ModbusTcpService(),
                    "outputs": OutputsSlot()}
    await dev.services["genset"].start(dev)  # before the tasks: the relay is held open at once
    mem("genset")
    from gateway.services.alarms import AlarmMonitor  # inverter alarms into the event log

    dev.alarms = AlarmMonitor(dev.meters.poller, lambda: dev.meters.meters, dev.event,
                              lambda: dev.settings.get("language", "en"))
    dev.meters.on_cycle.append(dev.alarms.check)
    dev.meters.on_change.append(dev.mqtt.meters_changed)
    tasks = dev.tasks
    tasks.spawn("poller", dev.meters.poller.run, progress=lambda: dev.meters.poller.cycles,
                stall_s=300)
    tasks.spawn("meter_events", dev.meters.watch)
    tasks.spawn("recorder", dev.storage.recorder.run, progress=lambda: dev.storage.recorder.loops)
    # MQTT uplink, Modbus TCP server (read-only, for a SCADA), plain relay outputs: started only
    # when configured; otherwise none of their code is in the heap
    for name in ("mqtt", "modbus_tcp", "outputs"):
        svc = dev.services[name]
        tasks.spawn(name + "_start", lambda svc=svc: svc.start(dev), restart=False)
    tasks.spawn("wifi", dev.wifi.run)
    # the clock: NTP through the station (settings "ntp_server", at connect and every 6 h) and
    # PUT /api/system/time ("set from this phone"); GET /api/system shows dev.clock.public()
    from gateway.services.clock import Clock

    dev.clock = Clock(dev)
    tasks.spawn("clock", dev.clock.run)
    tasks.spawn("web", lambda: _serve_http(dev), progress=lambda: dev.web and dev.web.beats)
    dev.follow_http_port()
    tasks.spawn("panel", dev.panel.run)
    if board.get("dns_port") and not left_out(board, "captive_dns"):  # else: 192.168.4.1 by hand
        tasks.spawn("dns", lambda: _captive_dns(dev))
    tasks.spawn("watchdog", lambda: _watchdog(dev))
    tasks.spawn("heapmark", heapmark.run)
    tasks.spawn("reboot", lambda: _reboot_on_request(dev), restart=False)
    print("dingate %s ready: serial %s, AP %s" % (VERSION, dev.identity["serial"], dev.ap_ssid()))
    await asyncio.sleep(1)
    mem("running")
    while True:
        await asyncio.sleep(3600)


def main():
    asyncio.run(run())
