"""The emulated board's pins, buttons, watchdog and radio, as the host sees them.

The firmware's fake `machine`/`network` modules (emulator/mpy/) talk to HardwareServer over one
TCP connection of newline-delimited JSON.
"""
import asyncio
import calendar
import json
import math
import time

from gateway.core import panel as panel_logic

# the front panel's blinks, by their on + off cycle in ms
BLINKS = (("slow", sum(panel_logic.SLOW)), ("blink", sum(panel_logic.TRAFFIC)),
          ("fast", sum(panel_logic.FAST)))


class PinWatch:
    """An output pin's level and how it has been toggling (to tell on/off/slow/fast blink)."""

    def __init__(self):
        self.level = 0
        self.changes = []  # monotonic times of recent transitions

    def set(self, level):
        if level != self.level:
            self.level = level
            now = time.monotonic()
            self.changes = [t for t in self.changes if now - t < 4.5][-16:] + [now]

    def pattern(self):
        """"off", "on", or the firmware's blink nearest to how the pin toggles (core/panel.py):
        "slow" (1 s on, 1 s off), "blink" (the COM LED's traffic, 150/150 ms) or "fast" (100/100
        ms: an error, a factory reset)."""
        now = time.monotonic()
        recent = [t for t in self.changes if now - t < 4.2]
        if len(recent) >= 3 or (len(recent) == 2 and now - recent[-1] < 1.5):
            cycle_ms = 2000 * (recent[-1] - recent[0]) / (len(recent) - 1)
            return min(BLINKS, key=lambda b: abs(math.log(cycle_ms / b[1])))[0]
        return "on" if self.level else "off"


class Wifi:
    """The radio world of the scenario: networks to scan and join, AP clients, link drops."""

    def __init__(self, networks):
        self.networks = [dict(n) for n in networks]
        self.ap = {"on": False, "ssid": None, "secure": True}
        self.sta = {"active": False, "status": 1000, "ssid": None, "ip": None}
        self.dropped = False
        self._n = 37

    def scan(self):
        if self.dropped:
            return []
        return [{"ssid": n["ssid"], "rssi": n.get("rssi", -60), "channel": n.get("channel", 6),
                 "secure": bool(n.get("password"))} for n in self.networks]

    def find(self, ssid):
        for n in self.networks:
            if n["ssid"] == ssid:
                return n
        return None

    def connect_result(self, ssid, key):
        """(status, ifconfig or None) the station reaches for this attempt."""
        net = self.find(ssid)
        if net is None or self.dropped:
            return 201, None
        if (net.get("password") or "") != key:
            return 202, None
        self._n += 1
        ip = "192.168.1.%d" % (self._n % 200 + 20)
        return 1010, (ip, "255.255.255.0", "192.168.1.1", "192.168.1.1")


class HardwareServer:
    """Serves the device's hardware link; keeps the state the control panel shows."""

    def __init__(self, board, wifi, line=None, on_relay=None):
        self.board = board
        self.wifi = wifi
        self.line = line
        self.on_relay = on_relay
        self.pins = {}
        self.inputs = {}
        self.writer = None
        self.boots = 0
        self.booted = asyncio.Event()
        self.wdt_timeout_ms = None
        self.wdt_last = None
        self.rtc_set = None  # the last machine.RTC().datetime(...) setting (the host clock stays)
        self._server = None
        for _name, b in board.get("buttons", {}).items():
            self.inputs[b["pin"]] = 0 if b.get("active_high") else 1  # released

    async def start(self, port=0):
        self._server = await asyncio.start_server(self._client, "127.0.0.1", port)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self):
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def reset_link(self):
        self.writer = None
        self.wdt_timeout_ms = None
        self.booted.clear()

    # --- names from the board file -----------------------------------------------------------
    def _pin_level(self, pin, active_high=True):
        level = self.pins.get(pin).level if pin in self.pins else 0
        return bool(level) if active_high else not level

    def relays(self):
        return {r["name"]: self._pin_level(r["pin"], r.get("active_high", True))
                for r in self.board.get("relays", [])}

    def leds(self):
        out = {}
        for name, led in self.board.get("leds", {}).items():
            w = self.pins.get(led["pin"])
            pattern = w.pattern() if w else "off"
            if not led.get("active_high", True):
                pattern = {"on": "off", "off": "on"}.get(pattern, pattern)
            out[name] = pattern
        return out

    def snapshot(self):
        relays = self.relays()
        return {
            "relay": relays.get("genset", False),
            "relays": relays,
            "leds": self.leds(),
            "buttons": {n: self.button_pressed(n) for n in self.board.get("buttons", {})},
            "wifi": {"ap": self.wifi.ap, "sta": self.wifi.sta, "dropped": self.wifi.dropped,
                     "networks": self.wifi.scan()},
            "bus": self.line.stats() if self.line else None,
            "boots": self.boots,
            "rtc_set": self.rtc_set,
        }

    def button_pressed(self, name):
        b = self.board["buttons"][name]
        level = self.inputs.get(b["pin"], 1)
        return bool(level) == bool(b.get("active_high"))

    async def press(self, name, hold_ms):
        b = self.board["buttons"].get(name)
        if b is None:
            raise KeyError(name)
        down = 1 if b.get("active_high") else 0
        self._set_input(b["pin"], down)
        await asyncio.sleep(hold_ms / 1000)
        self._set_input(b["pin"], 1 - down)

    def _set_input(self, pin, level):
        self.inputs[pin] = level
        self.push({"inputs": {str(pin): level}})

    # --- the link ------------------------------------------------------------------------------
    def push(self, msg):
        if self.writer is not None:
            self.writer.write(json.dumps(msg).encode() + b"\n")

    async def _client(self, reader, writer):
        self.writer = writer
        self.push({"inputs": {str(k): v for k, v in self.inputs.items()}})
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                await self._handle(json.loads(line))
        except (ConnectionError, ValueError):
            pass
        finally:
            if self.writer is writer:
                self.writer = None

    async def _handle(self, msg):
        if "pin" in msg:
            before = self.relays()
            self.pins.setdefault(msg["pin"], PinWatch()).set(msg["v"])
            after = self.relays()
            if after != before and self.on_relay:
                self.on_relay(after)
        elif "uart" in msg and self.line is not None:
            u = msg["uart"]
            self.line.configure(u["baud"], bits=u["bits"], parity=u["parity"], stop=u["stop"])
        elif "wdt" in msg:
            self.wdt_timeout_ms = msg["wdt"]
            self.wdt_last = time.monotonic()
        elif "wdt_feed" in msg:
            self.wdt_last = time.monotonic()
        elif "rtc" in msg:
            y, mo, d, _wd, hh, mi, ss, us = msg["rtc"]
            self.rtc_set = {"time": calendar.timegm((y, mo, d, hh, mi, ss)) + us / 1e6,
                            "at": time.time(), "datetime": msg["rtc"]}
        elif "boot" in msg:
            self.boots += 1
            self.booted.set()
        elif "wifi_scan" in msg:
            await asyncio.sleep(0.3)  # a scan takes time on the radio too
            self.push({"reply": msg["id"], "networks": self.wifi.scan()})
        elif "wifi_active" in msg:
            if msg["wifi_active"] == "ap":
                self.wifi.ap.update(on=msg["on"], ssid=msg.get("ssid"), secure=msg.get("secure", True))
            else:
                self.wifi.sta["active"] = msg["on"]
        elif "wifi_connect" in msg:
            asyncio.ensure_future(self._connect(msg["wifi_connect"]))
        elif "wifi_disconnect" in msg:
            self.wifi.sta.update(status=1000, ip=None, ssid=None)
            self.push({"wifi": {"sta_status": 1000}})

    async def _connect(self, req):
        self.wifi.sta.update(status=1001, ssid=req["ssid"], ip=None)
        self.push({"wifi": {"sta_status": 1001}})
        await asyncio.sleep(0.8)
        status, ifc = self.wifi.connect_result(req["ssid"], req["key"])
        net = self.wifi.find(req["ssid"]) or {}
        self.wifi.sta.update(status=status, ip=ifc[0] if ifc else None)
        msg = {"sta_status": status, "rssi": net.get("rssi", 0)}
        if ifc:
            msg["ifconfig"] = list(ifc)
        self.push({"wifi": msg})

    def drop_wifi(self, dropped=True):
        """The router disappears (or comes back): the station loses its link."""
        self.wifi.dropped = dropped
        if dropped and self.wifi.sta["status"] == 1010:
            self.wifi.sta.update(status=200, ip=None)
            self.push({"wifi": {"sta_status": 200}})

    def hang(self):
        """Make the firmware hang in a driver call (emulator/mpy/_emu.py): False if not linked."""
        if self.writer is None:
            return False
        self.push({"hang": 1})
        return True

    def watchdog_expired(self):
        if not self.wdt_timeout_ms or self.wdt_last is None:
            return False
        return (time.monotonic() - self.wdt_last) * 1000 > self.wdt_timeout_ms
