"""The MQTT uplink as an optional service (services/optional.py): started, stopped and
restarted from the stored configuration, only when configured (an unconfigured gateway keeps
none of the MQTT code in its heap)."""
from gateway import VERSION
from gateway.core import ondemand
from gateway.core.ticks import ticks_diff, ticks_ms
from gateway.services.optional import OptionalService

STORE_KEY = "mqtt"
COMMANDS_PER_MIN = 12
# the uplink's tasks under dev.tasks: the client's connection loop and, while connected, its
# reader and pinger (gateway/lib/mqtt.py), then the uplink's own (services/uplink.py)
UPLINK_TASKS = ("mqtt", "mqtt-reader", "mqtt-pinger", "mqtt-forward", "mqtt-live", "mqtt-work",
                "mqtt-discovery")


class MqttRunner(OptionalService):
    NAME = FEATURE = STORE_KEY

    def __init__(self, dev):
        super().__init__()
        self.dev = dev
        self._outbox = None  # the "mqtt" outbox cursor, made on the first start
        self._window = None  # ticks_ms when the current minute of commands began
        self._in_window = 0

    @property
    def uplink(self):
        return self.running

    def active(self, config):
        return bool(config) and ondemand.call("gateway.core.mqtt_config", "is_active", config)

    def connected(self):
        return self.uplink is not None and self.uplink.client.connected

    def status(self):
        return self.uplink.status() if self.uplink else {"connected": False, "last_error": ""}

    def post_event(self, ts, type, source, code, params=None):
        """An event for <base>/events, made only while the uplink runs: its text loads the
        event words (gateway.core.event_codes), which a device without MQTT never needs."""
        if self.uplink is None:
            return
        e = {"ts": ts, "type": type, "source": source, "text": code}
        if params is not None:
            e["code"], e["params"] = code, params
            e["text"] = ondemand.call("gateway.core.event_codes", "text", code, params)
        self.uplink.post_event(e)

    def meters_changed(self):
        if self.uplink is not None:
            self.uplink.meters_changed()

    def genset_changed(self):
        """The generator service was started or removed (services/optional.py GensetSlot)."""
        if self.uplink is not None:
            g = self.dev.genset
            self.uplink.genset_changed(g.status if g else None, g is not None)

    def outputs_changed(self):
        """Plain outputs were configured, renamed or removed: discovery and states again."""
        if self.uplink is not None:
            self.uplink.outputs_changed()

    def outputs_state(self):
        """An output switched (services/outputs.py): its state goes out now."""
        if self.uplink is not None:
            self.uplink.notify()

    def command(self, name, value):
        """MQTT <base>/cmd/<name> (services/mqtt_commands.py, loaded for the command), at most
        COMMANDS_PER_MIN a minute: a flood cannot wear the flash out."""
        now = ticks_ms()
        if self._window is None or ticks_diff(now, self._window) >= 60000:
            self._window, self._in_window = now, 0
        if self._in_window >= COMMANDS_PER_MIN:
            raise ValueError("too many commands: at most %d a minute" % COMMANDS_PER_MIN)
        self._in_window += 1
        return ondemand.call("gateway.services.mqtt_commands", "run", self.dev, name, value)

    async def restart(self):
        """Apply the stored configuration (stop the running uplink, start a new one if active)."""
        await self.apply(self.dev.store.load(STORE_KEY))

    async def begin(self, cfg):
        Uplink = ondemand.keep("gateway.services.uplink").Uplink
        dev = self.dev
        if self._outbox is None:
            self._outbox = dev.storage.outbox("mqtt")
        g = dev.genset
        up = Uplink(cfg, dev.identity["serial"], self._outbox, sw_version=VERSION,
                    meters=lambda: dev.meters.meters, reading=dev.meters.poller.reading,
                    genset=g.status if g else None, has_genset=g is not None,
                    on_command=self.command, outputs=self._outputs, peaks=dev.storage.billing,
                    turns=self._one_turn)
        up.start(dev.tasks.spawn)
        return up

    def _one_turn(self):
        """The web server's turns where it handles one request at a time (the WROOM tier): a
        discovery announcement takes one, so that its transient heap never adds to a request's
        (the page waits the few seconds it takes, at each connection to the broker)."""
        web = self.dev.web
        return web.turns if web is not None and web.turns.size == 1 else None

    def _outputs(self):
        o = self.dev.outputs
        return o.status() if o is not None else []

    async def end(self, uplink):
        await uplink.stop()
        self.dev.tasks.forget(*UPLINK_TASKS)
