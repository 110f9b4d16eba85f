"""Start, stop and restart the MQTT uplink from the stored configuration (only when configured:
an unconfigured gateway keeps none of the MQTT code in its heap)."""
import asyncio

from gateway import VERSION

STORE_KEY = "mqtt"


def _is_active(cfg):
    return bool(cfg) and cfg.get("enabled", True) is not False and bool(cfg.get("host"))


class MqttRunner:
    def __init__(self, dev):
        self.dev = dev
        self.uplink = None
        self._lock = asyncio.Lock()

    def connected(self):
        return self.uplink is not None and self.uplink.client.connected

    def status(self):
        return self.uplink.status() if self.uplink else {"connected": False, "last_error": ""}

    def post_event(self, event):
        if self.uplink is not None:
            self.uplink.post_event(event)

    def meters_changed(self):
        if self.uplink is not None:
            self.uplink.meters_changed()

    def command(self, name, value):
        """MQTT <base>/cmd/genset/mode: validated like PUT /api/genset."""
        if self.dev.genset is None:
            raise ValueError("generator control is not configured")
        old = self.dev.genset.controller.config["mode"]
        cfg = self.dev.genset.set_config({"mode": value})
        self.dev.event("genset", "genset", "mode %s -> %s by MQTT" % (old, cfg["mode"]))
        return cfg["mode"]

    async def restart(self):
        """Apply the stored configuration: stop the running uplink, start a new one if active."""
        async with self._lock:
            if self.uplink is not None:
                old, self.uplink = self.uplink, None
                await old.stop()
            cfg = self.dev.store.load(STORE_KEY) or {}
            if not _is_active(cfg):
                return
            from gateway.services.uplink import Uplink

            dev = self.dev
            if not hasattr(self, "_outbox"):
                self._outbox = dev.storage.outbox("mqtt")
            g = dev.genset
            self.uplink = Uplink(cfg, dev.identity["serial"], self._outbox, sw_version=VERSION,
                                 meters=lambda: dev.meters.meters,
                                 readings=dev.meters.poller.readings,
                                 genset=g.status if g else None, has_genset=g is not None,
                                 on_command=self.command)
            self.uplink.start()
