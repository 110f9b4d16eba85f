"""services/optional.py: the generator as an optional service (start, apply, removal), with a
fake machine.Pin (CPython and MicroPython)."""
import asyncio
import sys

from gateway.core import ondemand


class _Pin:
    OUT = 1
    IN = 0

    def __init__(self, *args, **kwargs):
        self.v = 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


class _Machine:
    Pin = _Pin


class _Store:
    def __init__(self, genset):
        self.d = {"genset": genset}

    def load(self, key):
        return self.d.get(key)

    def save(self, key, value):
        self.d[key] = value


class _Poller:
    def readings(self):
        return {}


class _Meters:
    def __init__(self):
        self.on_cycle = []
        self.poller = _Poller()


class _Mqtt:
    def __init__(self):
        self.changes = 0

    def genset_changed(self):
        self.changes += 1


class _Dev:
    board = {"relays": [{"name": "genset", "pin": 26}]}
    settings = {"timezone": "UTC"}

    def __init__(self, genset):
        from gateway.services.tasks import Tasks

        self.store = _Store(genset)
        self.meters = _Meters()
        self.tasks = Tasks()
        self.mqtt = _Mqtt()
        self.genset = None

    def event(self, *args):
        pass


def _scenario():
    from gateway.services.optional import GensetSlot

    async def main():
        dev = _Dev({"mode": "on"})
        slot = GensetSlot()
        await slot.start(dev)
        assert dev.genset is not None and slot.running is dev.genset
        assert "genset" in dev.tasks.tasks and len(dev.meters.on_cycle) == 1
        await asyncio.sleep(0.05)
        assert dev.genset.relay.value is True  # mode "on": a manual run closes the contact
        await slot.apply({"mode": "off"})  # a change goes through set_config: still running
        assert dev.genset is not None
        del dev.store.d["genset"]
        await slot.apply(None)  # removed: stopped, contact open, off the hooks and the watchdog
        assert dev.genset is None and slot.running is None
        assert "genset" not in dev.tasks.tasks and dev.meters.on_cycle == []
        assert dev.mqtt.changes == 1
        await slot.apply({"mode": "auto"})  # configured again
        assert dev.genset is not None and dev.mqtt.changes == 2
        dev.genset.stop()

    asyncio.run(main())


def test_genset_slot_starts_applies_and_is_removed():
    saved = dict((n, sys.modules.get(n)) for n in ("machine", "gateway.drivers.relay"))
    kept = set(ondemand.resident)
    sys.modules["machine"] = _Machine
    sys.modules.pop("gateway.drivers.relay", None)
    try:
        _scenario()
    finally:
        for n in [n for n in ondemand.resident if n not in kept]:
            ondemand.resident.pop(n)
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


def test_a_slot_whose_feature_the_board_leaves_out_never_starts():
    from gateway.services.optional import GensetSlot, ModbusTcpService

    async def main():
        dev = _Dev({"mode": "on"})
        dev.board = {"relays": [{"name": "genset", "pin": 26}],
                     "features_left_out": ["genset", "modbus_tcp"]}
        dev.store.d["modbus_tcp"] = {"enabled": True, "port": 502}
        before = set(sys.modules)
        for slot in (GensetSlot(), ModbusTcpService()):
            await slot.start(dev)
            await slot.apply(dev.store.load(slot.NAME))  # a configuration applied later too
            assert slot.running is None
        assert dev.genset is None and dev.tasks.tasks == {} and dev.meters.on_cycle == []
        assert not [n for n in sys.modules if n not in before and n.startswith("gateway")]

    asyncio.run(main())


def test_mqtt_discovery_takes_a_turn_only_of_a_one_request_server():
    """services/mqtt_setup.py: the uplink's announcement shares the web server's turns where
    the board answers one request at a time (the WROOM tier), and only there."""
    from gateway.services.mqtt_setup import MqttRunner
    from gateway.web.guard import Turns

    class Dev:
        web = None

    class Web:
        def __init__(self, n):
            self.turns = Turns(n)

    dev = Dev()
    runner = MqttRunner(dev)
    assert runner._one_turn() is None  # no web server (yet, or restarting)
    dev.web = Web(8)
    assert runner._one_turn() is None
    dev.web = Web(1)
    assert runner._one_turn() is dev.web.turns
