"""Optional services: features that run only once configured (the generator, the MQTT uplink,
the Modbus TCP server, and whatever comes next). One shape for all:

    svc.start(dev)      at boot (supervised task "<name>_start"): apply the stored configuration
    svc.apply(config)   the stored configuration changed (``Device.apply(name)``, supervised task
                        "<name>_apply", outside the request): stop what runs, start anew when
                        ``active(config)``
    svc.stop()          end what runs

A subclass gives ``NAME`` (its configuration document in the store, and its tasks' prefix),
``active(config)``, ``begin(config)`` (build it, spawn its tasks through ``dev.tasks``, the
supervisor; returns the running object, kept in ``running``) and ``end(running)``. Its code is
imported with ``ondemand.keep`` inside ``begin``: a gateway that does not use the feature holds
none of it, one that does holds exactly one copy. One that is built once and then changed
through its own API (the generator, the plain outputs) derives from ``KeptService``.

A service whose feature (``FEATURE``, firmware/manifest.py) the board file leaves out
("features_left_out") never starts: its modules are not on the board, its stored
configuration stays as it is and its API answers "left_out" (web/dispatch.py).
"""
import asyncio

from gateway.core import ondemand


def left_out(board, feature):
    """True when the board file leaves ``feature`` out (its modules are not on the board)."""
    return feature in (board.get("features_left_out") or ())


class OptionalService:
    NAME = ""
    FEATURE = ""  # its feature in firmware/manifest.py

    def __init__(self):
        self.dev = None
        self.running = None
        self._lock = asyncio.Lock()

    def active(self, config):
        """True when ``config`` (the stored document, or None) asks for the service."""
        return bool(config) and config.get("enabled") is True

    def left_out(self):
        return self.dev is not None and left_out(self.dev.board, self.FEATURE)

    async def start(self, dev):
        self.dev = dev
        if self.left_out():
            print("%s: left out on this board" % self.NAME)
            return
        await self.apply(dev.store.load(self.NAME))

    async def apply(self, config):
        if self.left_out():
            return
        async with self._lock:
            await self._stop()
            if self.active(config):
                self.running = await self.begin(config)

    async def stop(self):
        async with self._lock:
            await self._stop()

    async def _stop(self):
        old, self.running = self.running, None
        if old is not None:
            await self.end(old)

    async def begin(self, config):
        raise NotImplementedError

    async def end(self, running):
        pass


class ModbusTcpService(OptionalService):
    """The read-only Modbus TCP server (services/modbus_tcp.py, loaded once enabled). ``running``
    is the server, kept when it could not listen: GET /api/modbus-tcp shows the error."""

    NAME = FEATURE = "modbus_tcp"

    async def begin(self, config):
        mod = ondemand.keep("gateway.services.modbus_tcp")
        dev = self.dev
        srv = mod.ModbusTcpServer(lambda: dev.meters.meters, dev.meters.poller.reading, dev.now,
                                  dev.board.get("http", {}).get("host", "0.0.0.0"),
                                  config.get("port", 502),
                                  serial=dev.identity.get("serial") or "")
        if await srv.start():
            print("modbus-tcp: listening on %s:%d" % (srv.host, srv.port))
        else:
            print("modbus-tcp: %s" % srv.error)
            dev.event("config", "modbus-tcp", "mbtcp.error", {"error": srv.error})
        return srv

    async def end(self, running):
        await running.stop()
        print("modbus-tcp: stopped")


class KeptService(OptionalService):
    """Built once configured, then kept: later changes go to the running service itself (its
    own API), so ``apply`` stops it only when its document is removed."""

    async def apply(self, config):
        if self.left_out():
            return
        async with self._lock:
            if self.running is None and self.active(config):
                self.running = await self.begin(config)
            elif self.running is not None and not config:
                await self._stop()


class GensetSlot(KeptService):
    """The generator (services/genset.py): built once configured; later changes go through
    ``running.set_config`` (its own mode "off" opens the contact), so ``apply`` stops it only
    when the configuration is removed (the document deleted: the contact is opened). At boot a
    board with a genset relay always gets the relay, held open while nothing is configured
    (services/genset_setup.py). ``dev.genset`` is the running service."""

    NAME = FEATURE = "genset"
    MODULES = ("gateway.core.genset", "gateway.services.genset")
    _wake = None

    def active(self, config):
        return ondemand.call("gateway.services.genset_setup", "configured", config)

    async def start(self, dev):
        self.dev = dev
        if self.left_out():  # the relays stay as the board starts them: open
            print("genset: left out on this board")
            return
        async with self._lock:
            ondemand.keep("gateway.drivers.relay")
            if self.active(dev.store.load(self.NAME)):
                ondemand.keep(*self.MODULES)
            self._run(ondemand.call("gateway.services.genset_setup", "build", dev))

    async def begin(self, config):
        ondemand.keep(*self.MODULES)
        g = self._run(ondemand.call("gateway.services.genset_setup", "build", self.dev, True))
        if g is not None:
            self.dev.mqtt.genset_changed()  # Home Assistant gets its genset entities now
        return g

    def _run(self, g):
        if g is not None:
            dev = self.dev
            self.running = dev.genset = g
            self._wake = g.wake  # the very object, to take it off the hooks again
            dev.meters.on_cycle.append(self._wake)
            dev.tasks.spawn("genset", g.run, progress=lambda: g.steps)
        return g

    async def end(self, g):
        dev = self.dev
        g.stop()
        g.relay.value = False  # the contact open, as on a board without a configured generator
        if self._wake in dev.meters.on_cycle:
            dev.meters.on_cycle.remove(self._wake)
        dev.tasks.forget("genset")  # ended for good: not a dead essential task for the watchdog
        dev.genset = None
        dev.mqtt.genset_changed()  # Home Assistant drops its genset entities


class OutputsSlot(KeptService):
    """The plain relay outputs (services/outputs.py): built once one is configured (the
    "outputs" document exists); later changes go to the running service (/api/outputs), so
    ``apply`` stops it only when the document is removed (every contact opened).
    ``dev.outputs`` is the running service. ``pending`` holds the commands given with the
    first configuration, carried out once the service runs."""

    NAME = "outputs"  # base: every board has them
    MODULES = ("gateway.drivers.relay", "gateway.core.outputs", "gateway.services.outputs")

    def __init__(self):
        super().__init__()
        self.pending = {}  # id -> (on, who)

    def active(self, config):
        return bool(config)

    async def begin(self, config):
        dev = self.dev
        mod = ondemand.keep(*self.MODULES)
        svc = mod.OutputService(dev.board.get("relays", []), config, log_event=dev.event,
                                on_change=dev.mqtt.outputs_state)
        pending, self.pending = self.pending, {}
        for oid in pending:
            if oid in svc.items:
                svc.switch(oid, pending[oid][0], pending[oid][1])
        dev.outputs = svc
        dev.tasks.spawn("outputs", svc.run, progress=lambda: svc.steps)
        dev.mqtt.outputs_changed()  # Home Assistant gets the switches now
        return svc

    async def end(self, svc):
        dev = self.dev
        svc.stop()
        dev.tasks.forget("outputs")
        dev.outputs = None
        dev.mqtt.outputs_changed()
