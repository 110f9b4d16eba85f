"""Our MQTT client and uplink against a real mosquitto (CPython in-process, MicroPython as a
subprocess). The broker runs from a generated config on a free 127.0.0.1 port with everything
(config, persistence, log) in pytest's tmp dir.

DINGATE_NIGHTLY=1 stretches the store-and-forward outage from 5 s to 45 s
(DINGATE_MQTT_OUTAGE_S overrides both).
"""
import asyncio
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
if FIRMWARE not in sys.path:
    sys.path.insert(0, FIRMWARE)

from dingate import paths  # noqa: E402
from dingate.testing import poll  # noqa: E402
from dingate.testing.broker import Broker  # noqa: E402
from gateway.core import mqtt_config  # noqa: E402
from gateway.core.errors import ValidationError  # noqa: E402
from gateway.lib.mqtt import MQTTClient, make_ssl_context  # noqa: E402
from gateway.services.uplink import Uplink  # noqa: E402

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is needed for the subscriber")

from dingate.testing.broker import MOSQUITTO  # noqa: E402

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None,
    reason="mosquitto binary not found: install the Debian package 'mosquitto' (make setup does)")

MICROPYTHON = paths.micropython() or "micropython (not installed)"
NIGHTLY = os.environ.get("DINGATE_NIGHTLY") == "1"
OUTAGE_S = float(os.environ.get("DINGATE_MQTT_OUTAGE_S") or (45 if NIGHTLY else 5))


# ------------------------------------------------------------------ helpers


wait_until = functools.partial(poll.wait_until, interval=0.02)


def run(coro, timeout=90):
    """asyncio.run with an overall bound, so a hang fails the test instead of the suite (and
    shows where every task was)."""
    async def guarded():
        task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait([task], timeout=timeout)
        if not done:
            for t in asyncio.all_tasks():
                t.print_stack(file=sys.stderr)
            task.cancel()
            raise AssertionError("test body did not finish in %d s" % timeout)
        return task.result()

    return asyncio.run(guarded())


async def until(pred, timeout, what="condition", step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        await asyncio.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    if b.proc is not None and b.proc.poll() is None:
        try:
            b.proc.send_signal(signal.SIGCONT)
        except OSError:
            pass
    b.stop()


class Sub:
    """paho subscriber with a persistent session, recording (topic, payload, retain)."""

    def __init__(self, port, topics, client_id=None, clean=False):
        self.msgs = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # every SUBACK of the latest connect is in
        self._pending = set()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2,
                             client_id=client_id or "sub-%d" % id(self), clean_session=clean)
        self.c.reconnect_delay_set(0.1, 0.5)
        self.topics = topics

        def on_connect(c, ud, flags, rc, props):
            self.subscribed.clear()
            with self.lock:
                for t in self.topics:
                    self._pending.add(c.subscribe(t, 1)[1])
            self.connected.set()

        def on_subscribe(c, ud, mid, reason_codes, props):
            with self.lock:
                self._pending.discard(mid)
                if not self._pending:
                    self.subscribed.set()

        def on_message(c, ud, m):
            with self.lock:
                self.msgs.append((m.topic, m.payload, bool(m.retain)))

        self.c.on_connect = on_connect
        self.c.on_message = on_message
        self.c.on_subscribe = on_subscribe
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        assert self.connected.wait(10), "subscriber did not connect"
        assert self.subscribed.wait(10), "subscriptions not acknowledged"

    def on(self, topic):
        with self.lock:
            return [m for m in self.msgs if m[0] == topic]

    def payloads(self, topic):
        return [m[1] for m in self.on(topic)]

    def matching(self, prefix):
        with self.lock:
            return [m for m in self.msgs if m[0].startswith(prefix)]

    def publish(self, topic, payload, retain=False):
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self):
        self.c.disconnect()  # first: the network thread then ends without its 1 s select
        self.c.loop_stop()


def ready_probe(sub, port, topic="probe/ready"):
    """Block until ``sub``'s subscriptions are active: its own probe message comes back."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sub.publish(topic, b"x")
        t_end = time.monotonic() + 0.5
        while time.monotonic() < t_end:
            if sub.on(topic):
                return
            time.sleep(0.01)
    raise AssertionError("subscriber never became ready")


class FakeOutbox:
    """In-memory outbox with the core/outbox.py interface; checks that acks come in order."""

    def __init__(self):
        self.items = []
        self.cursor = 0
        self.changed = asyncio.Event()
        self.acked = []

    def add(self, sample):
        oid = len(self.items) + 1
        self.items.append((oid, sample))
        self.changed.set()
        return oid

    def pending(self, limit, after=None):
        start = self.cursor if after is None else max(self.cursor, after)  # ids are 1, 2, ...
        return self.items[start:start + limit]

    def ack(self, oid):
        assert oid == self.items[self.cursor][0], "ack out of order: %r" % oid
        self.cursor += 1
        self.acked.append(oid)


def make_client(port, **kw):
    kw.setdefault("client_id", "gw-%d" % time.monotonic_ns())
    kw.setdefault("backoff_min_ms", 100)
    kw.setdefault("backoff_max_ms", 800)
    kw.setdefault("keepalive", 10)
    return MQTTClient("127.0.0.1", port, **kw)


def uplink_cfg(port, **over):
    cfg = mqtt_config.validate(dict({"host": "127.0.0.1", "port": port, "base_topic": "dg/T1",
                                     "keepalive": 10, "live_interval_s": 1}, **over), None, "T1")
    return cfg


# ------------------------------------------------------------------ client basics (CPython)


def test_publish_subscribe_roundtrip(broker):
    sub = Sub(broker.port, ["rt/#"])
    ready_probe(sub, broker.port, "rt/probe")
    got = []

    async def main():
        c = make_client(broker.port, will=("rt/status", b"offline", 1, True),
                        birth=("rt/status", b"online", 1, True),
                        on_message=lambda t, p, r: got.append((t, p, r)))
        c.start()
        assert await c.wait_connected(5000), c.last_error
        assert await c.subscribe("rt/in/#", 1) == 1
        await c.publish("rt/q1", b"one", qos=1)
        await c.publish("rt/q0", "zero", qos=0)
        await c.publish("rt/ret", b"kept", qos=1, retain=True)
        big = bytes(range(256)) * 40
        await c.publish("rt/big", big, qos=1)
        await asyncio.get_running_loop().run_in_executor(
            None, sub.publish, "rt/in/x", b"from-paho")
        await until(lambda: got, 5, "message from paho")
        await c.close()
        return big

    big = run(main())
    wait_until(lambda: sub.on("rt/big"), 5, "big message")
    assert sub.payloads("rt/q1") == [b"one"]
    assert sub.payloads("rt/q0") == [b"zero"]
    assert sub.payloads("rt/big") == [big]
    assert sub.payloads("rt/status")[0] == b"online"
    assert got == [("rt/in/x", b"from-paho", False)]
    # graceful close: no last will. The broker handles the close before the probe sent after
    # it (one event loop), so the probe coming back means a will would be here already
    n = len(sub.on("rt/probe"))
    sub.publish("rt/probe", b"after-close")
    wait_until(lambda: len(sub.on("rt/probe")) > n, 5, "probe after the close")
    assert b"offline" not in sub.payloads("rt/status")
    sub.close()


def test_refused_credentials_reported(tmp_path):
    pw = tmp_path / "passwd"
    subprocess.check_call(["mosquitto_passwd", "-b", "-c", str(pw), "gw", "right"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b = Broker(tmp_path, "allow_anonymous false\npassword_file %s\n" % pw)
    b.start()
    try:
        async def main():
            bad = make_client(b.port, user="gw", password="wrong")
            bad.start()
            await until(lambda: "refused" in bad.last_error, 5, "refusal")
            assert not bad.connected
            await bad.close()
            good = make_client(b.port, user="gw", password="right")
            good.start()
            assert await good.wait_connected(5000), good.last_error
            await good.publish("auth/ok", b"1")
            await good.close()
            return bad.last_error

        err = run(main())
        assert "not authorized" in err or "bad user name or password" in err
    finally:
        b.stop()


def test_qos1_redelivery_across_broker_restart(broker):
    """Messages on the wire when the broker dies are re-sent (DUP) after reconnect; the
    persistent subscriber ends up with every message."""
    sub = Sub(broker.port, ["red/#"], client_id="red-sub")
    ready_probe(sub, broker.port, "red/probe")
    n = 300

    async def main():
        c = make_client(broker.port, clean=False, max_inflight=8, client_id="red-pub")
        c.start()
        assert await c.wait_connected(5000)
        acked = []
        window = []

        async def produce():
            i = 0
            while i < n:
                try:
                    d = await c.submit("red/m", b"%d" % i, qos=1)
                except Exception:
                    await c.wait_connected()
                    continue
                window.append((i, d))
                i += 1

        async def collect():
            while len(acked) < n:
                if not window:
                    await asyncio.sleep(0.005)
                    continue
                i, d = window[0]
                await d.wait()
                window.pop(0)
                acked.append(i)

        prod = asyncio.create_task(produce())
        coll = asyncio.create_task(collect())
        await until(lambda: len(acked) >= 50, 10, "first acks")
        broker.signal(signal.SIGSTOP)  # frozen: sent messages stay unacknowledged
        await until(lambda: c.inflight() == 8, 10, "a full in-flight window")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: (broker.signal(signal.SIGTERM),
                                                  broker.signal(signal.SIGCONT)))
        await loop.run_in_executor(None, broker.proc.wait, 10)
        await loop.run_in_executor(None, broker.start)
        await asyncio.wait_for(asyncio.gather(prod, coll), 30)
        stats = dict(c.stats)
        await c.close()
        return acked, stats

    acked, stats = run(main())
    assert acked == list(range(n))
    assert stats["connects"] >= 2
    assert stats["resent"] >= 1, stats
    want = set(b"%d" % i for i in range(n))
    wait_until(lambda: want <= set(sub.payloads("red/m")), 20, "every message at the subscriber")
    assert set(sub.payloads("red/m")) == want
    sub.close()


def test_last_will_on_abrupt_disconnect(broker):
    sub = Sub(broker.port, ["lw/#"])
    ready_probe(sub, broker.port, "lw/probe")

    async def main():
        c = make_client(broker.port, will=("lw/status", b"offline", 1, True),
                        birth=("lw/status", b"online", 1, True))
        c.start()
        assert await c.wait_connected(5000)
        await until(lambda: sub.payloads("lw/status") == [b"online"], 5, "online")
        await c.close(graceful=False)  # socket closed without DISCONNECT

    run(main())
    wait_until(lambda: b"offline" in sub.payloads("lw/status"), 5, "last will")
    sub.close()


def test_keepalive_detects_a_frozen_broker(broker):
    """An idle link is kept alive with PINGREQ; a broker that stops answering (half-open
    link) is detected within keepalive and the client reconnects once it is back."""

    async def main():
        c = make_client(broker.port, keepalive=2, connect_timeout_ms=3000)
        c.start()
        assert await c.wait_connected(5000)
        await until(lambda: c.stats["pings"] >= 2 and c._ping_sent is None, 6, "ping/pong")
        assert c.connected
        broker.signal(signal.SIGSTOP)
        try:
            await until(lambda: not c.connected, 6, "dead link detected")
            assert "PINGRESP" in c.last_error, c.last_error
        finally:
            broker.signal(signal.SIGCONT)
        assert await c.wait_connected(10000), c.last_error
        assert c.stats["connects"] == 2
        await c.close()

    run(main())


# ------------------------------------------------------------------ uplink (CPython)


def test_store_and_forward_across_outage(broker):
    """Samples recorded while the broker is down go out after reconnection, in order, with
    their own ts; nothing lost; repeats only with the same id."""
    sub = Sub(broker.port, ["dg/T1/meter/+/sample"], client_id="sf-sub")
    ready_probe(sub, broker.port, "dg/T1/meter/p/sample")
    ob = FakeOutbox()
    period = 0.05

    async def main():
        cfg = uplink_cfg(broker.port, discovery=False)
        up = Uplink(cfg, "T1", ob, client_kw={"backoff_min_ms": 100, "backoff_max_ms": 1000})
        up.start()
        assert await up.client.wait_connected(5000), up.client.last_error
        stop = asyncio.Event()
        t0 = [1795000000]

        async def produce():
            while not stop.is_set():
                ob.add({"meter": "3", "ts": t0[0] + len(ob.items) * 60,
                        "import_kwh": 12.5 + len(ob.items) / 10})
                await asyncio.sleep(period)

        prod = asyncio.create_task(produce())
        await until(lambda: len(ob.acked) >= 10, 10, "samples while connected")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, broker.stop)
        down_at = len(ob.items)
        await asyncio.sleep(OUTAGE_S)  # the outage itself (what is tested), not a sync wait
        assert len(ob.items) > down_at + 5
        assert not up.client.connected
        await loop.run_in_executor(None, broker.start)
        await up.client.wait_connected(30000)
        await asyncio.sleep(0.5)
        stop.set()
        await prod
        await until(lambda: len(ob.acked) == len(ob.items), 30, "backlog drained")
        await up.stop()
        return [i for i, _ in ob.items], [s for _, s in ob.items]

    ids, samples = run(main())
    wait_until(lambda: len(set(json.loads(p)["id"] for p in sub.payloads("dg/T1/meter/3/sample")))
               == len(ids), 20, "every sample at the subscriber")
    seen = {}
    first = []
    for p in sub.payloads("dg/T1/meter/3/sample"):
        d = json.loads(p)
        if d["id"] in seen:
            assert seen[d["id"]] == d, "a repeat must carry the same content"
            continue
        seen[d["id"]] = d
        first.append(d["id"])
    assert first == ids  # in order, none lost
    for oid, s in zip(ids, samples):
        assert seen[oid]["ts"] == s["ts"] and seen[oid]["meter"] == "3"
        assert seen[oid]["import_kwh"] == s["import_kwh"]
    sub.close()


def test_commands_live_values_and_genset_state(broker):
    sub = Sub(broker.port, ["dg/T1/#"], client_id="cmd-sub")
    ready_probe(sub, broker.port, "dg/T1/probe")
    state = {"mode": "auto", "relay": False, "running_since": None, "reason": "soc ok"}
    calls = []

    def on_command(name, value):
        calls.append((name, value))
        if name != "genset/mode":  # the command table is the handler's (services/mqtt_commands)
            raise ValueError("unknown command")
        if value not in ("auto", "on", "off"):
            raise ValidationError("mode", "must be auto, on or off")
        state["mode"] = value
        state["relay"] = value == "on"

    readings = {"3": {"status": "ok", "ts": 1795000000, "values": {"power_w": 230.5,
                                                                   "import_kwh": 1.5}},
                "4": {"status": "offline", "ts": None, "values": {}}}

    class Peaks:  # as core/billing.py's Billing: (YYYYMM, W, quarter start) per meter
        peaks_rev = 1
        of = {"3": (202611, 2700, 1794765600)}

        def peak(self, mid):
            return self.of.get(mid)

    peaks = Peaks()

    async def main():
        cfg = uplink_cfg(broker.port, discovery=False)
        up = Uplink(cfg, "T1", FakeOutbox(), meters=lambda: [{"id": "3"}, {"id": "4"}, {"id": "9"}],
                    reading=readings.get, peaks=peaks,
                    genset=lambda: dict(state), on_command=on_command,
                    client_kw={"backoff_min_ms": 100})
        up.start()
        assert await up.client.wait_connected(5000)
        await until(lambda: sub.on("dg/T1/genset/state"), 5, "genset state")
        await until(lambda: sub.on("dg/T1/meter/3/state"), 5, "live values")
        await until(lambda: sub.on("dg/T1/meter/3/peak"), 5, "the month's peak")
        peaks.of["3"] = (202612, 1500, 1796144400)  # a new month's first quarter
        state["reason"] = "a round"  # a publishing round (peaks first, then the genset) ...
        up.notify()
        await until(lambda: any(json.loads(p)["reason"] == "a round"
                                for p in sub.payloads("dg/T1/genset/state")), 5, "a round")
        assert len(sub.on("dg/T1/meter/3/peak")) == 1  # ... sends no peak: peaks_rev is the same
        state["reason"] = "soc ok"
        peaks.peaks_rev += 1
        up.notify()
        await until(lambda: len(sub.on("dg/T1/meter/3/peak")) >= 2, 5, "the new peak")
        loop = asyncio.get_running_loop()
        pub = lambda t, p, r=False: loop.run_in_executor(None, sub.publish, t, p, r)  # noqa
        await pub("dg/T1/cmd/genset/mode", b"on")
        await until(lambda: len(sub.on("dg/T1/cmd/result")) >= 1, 5, "first result")
        await pub("dg/T1/cmd/genset/mode", b"bogus")
        await until(lambda: len(sub.on("dg/T1/cmd/result")) >= 2, 5, "second result")
        await pub("dg/T1/cmd/genset/mode", json.dumps({"mode": "off", "req": "r1"}).encode())
        await until(lambda: len(sub.on("dg/T1/cmd/result")) >= 3, 5, "third result")
        await pub("dg/T1/cmd/other/thing", b"x")
        await until(lambda: len(sub.on("dg/T1/cmd/result")) >= 4, 5, "fourth result")
        await until(lambda: any(json.loads(p)["mode"] == "off"
                                for p in sub.payloads("dg/T1/genset/state")), 5, "mode off")
        state.update(service_due_in_h=0, service_due=True)  # a service falls due: said at once
        await until(lambda: any(json.loads(p).get("service_due")
                                for p in sub.payloads("dg/T1/genset/state")), 5, "service due")
        await up.stop()
        # a command sent while the gateway is away (here: left retained) is not run later
        await pub("dg/T1/cmd/genset/mode", b"on", True)
        n = len(calls)
        up2 = Uplink(cfg, "T1", FakeOutbox(), on_command=on_command)
        up2.start()
        assert await up2.client.wait_connected(5000)
        await until(lambda: up2.announced, 10, "second uplink ready")
        await up2.stop()
        await pub("dg/T1/cmd/genset/mode", b"", True)
        return n, len(calls)

    n_before, n_after = run(main())
    assert n_before == n_after == 4  # the retained command left while away is never run
    res = [json.loads(p) for p in sub.payloads("dg/T1/cmd/result")]
    assert res[0] == {"ok": True, "cmd": "genset/mode", "value": "on"}
    assert res[1]["ok"] is False and res[1]["field"] == "mode" and "auto" in res[1]["error"]
    assert res[2] == {"ok": True, "cmd": "genset/mode", "value": "off", "req": "r1"}
    assert res[3]["ok"] is False and res[3]["error"] == "unknown command"
    gs = [json.loads(p) for p in sub.payloads("dg/T1/genset/state")]
    assert gs[0]["mode"] == "auto" and gs[-2] == {"mode": "off", "relay": False,
                                                  "running_since": None, "reason": "soc ok"}
    assert gs[-1] == dict(gs[-2], service_due=True)
    assert any(g["mode"] == "on" and g["relay"] is True for g in gs)
    live = json.loads(sub.payloads("dg/T1/meter/3/state")[0])
    assert live["power_w"] == 230.5 and live["meter"] == "3" and live["ts"] == 1795000000
    assert sub.payloads("dg/T1/meter/3/status")[0] == b"ok"
    assert sub.payloads("dg/T1/meter/4/status")[0] == b"offline"
    assert not sub.on("dg/T1/meter/4/state")
    pk = [json.loads(p) for p in sub.payloads("dg/T1/meter/3/peak")]
    assert pk == [{"meter": "3", "month": "2026-11", "kw": 2.7, "ts": 1794765600},
                  {"meter": "3", "month": "2026-12", "kw": 1.5, "ts": 1796144400}]
    assert not sub.on("dg/T1/meter/4/peak")
    late = Sub(broker.port, ["dg/T1/meter/+/peak"], client_id="late-sub")  # retained: the last
    got = poll.wait_until(lambda: late.on("dg/T1/meter/3/peak"), 5, "the retained peak")
    assert [(json.loads(p)["month"], r) for _t, p, r in got] == [("2026-12", True)]
    late.close()
    assert not sub.on("dg/T1/meter/9/status")  # configured, not (yet) polled: nothing
    assert sub.payloads("dg/T1/status")[0] == b"online"
    assert sub.payloads("dg/T1/status")[-1] == b"offline"  # stop() says goodbye
    sub.close()


def test_discovery_published_and_deleted_meters_cleared(broker):
    meters = [{"id": "3", "name": "Main", "profile": "sdm120", "enabled": True,
               "quantities": ["import_kwh", "power_w"]},
              {"id": "7", "name": "Bat", "profile": "generic", "enabled": True,
               "registers": [{"quantity": "soc_pct", "unit": "%"}]}]

    def retained_configs():
        s = Sub(broker.port, ["homeassistant/#"], clean=True)
        ready_probe(s, broker.port, "homeassistant/probe")
        s.close()
        return dict((t, p) for t, p, r in s.msgs if r and p)

    async def announce(up):
        up._announce_ev.clear()
        up.meters_changed()
        await until(up._announce_ev.is_set, 10, "announcement")

    async def main():
        cfg = uplink_cfg(broker.port, discovery=True)
        up = Uplink(cfg, "T1", FakeOutbox(), meters=lambda: meters, sw_version="9.9")
        up.start()
        assert await up.client.wait_connected(5000)
        await until(lambda: up.announced, 10, "first announcement")
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, retained_configs)
        del meters[1]
        await announce(up)
        second = await loop.run_in_executor(None, retained_configs)
        up.cfg = dict(cfg, discovery=False)
        await announce(up)
        third = await loop.run_in_executor(None, retained_configs)
        await up.stop()
        return first, second, third

    first, second, third = run(main())
    p = "homeassistant/sensor/dingate_T1/"
    assert set(first) == {p + "m3_import_kwh/config", p + "m3_power_w/config",
                          p + "m3_month_peak/config",  # an import index: its monthly peak
                          p + "m3_meter_status/config", p + "m7_soc_pct/config",
                          p + "m7_meter_status/config",
                          "homeassistant/select/dingate_T1/genset_mode/config",
                          "homeassistant/binary_sensor/dingate_T1/genset_relay/config",
                          "homeassistant/binary_sensor/dingate_T1/genset_service/config"}
    energy = json.loads(first[p + "m3_import_kwh/config"])
    assert energy["device_class"] == "energy" and energy["state_class"] == "total_increasing"
    assert energy["unit_of_measurement"] == "kWh"
    assert energy["device"]["sw_version"] == "9.9"
    soc = json.loads(first[p + "m7_soc_pct/config"])
    assert soc["device_class"] == "battery" and soc["unit_of_measurement"] == "%"
    assert set(second) == set(first) - {p + "m7_soc_pct/config", p + "m7_meter_status/config"}
    assert third == {}


def test_discovery_waits_for_a_turn_of_a_one_request_server(broker):
    """The WROOM tier answers one HTTP request at a time (web/guard.py ``Turns``): an
    announcement, MQTT's largest transient heap, takes that turn too, never beside a request."""
    from gateway.web.guard import Turns

    meters = [{"id": "3", "name": "Main", "profile": "sdm120", "enabled": True,
               "quantities": ["import_kwh", "power_w"]}]
    turns = Turns(1)

    async def main():
        await turns.take()  # a request being handled
        up = Uplink(uplink_cfg(broker.port, discovery=True), "T1", FakeOutbox(),
                    meters=lambda: meters, turns=lambda: turns)
        up.start()
        assert await up.client.wait_connected(5000)
        await until(lambda: turns.waiting() == 1, 10, "the announcement waiting for its turn")
        assert not up.announced and up.stats["discovery"] == 0
        turns.give()  # the request is answered
        await until(lambda: up.announced, 10, "announced in its turn")
        assert up.stats["discovery"] > 0
        assert turns.free == 1 and turns.waiting() == 0  # and given back
        await up.stop()

    run(main())


# ------------------------------------------------------------------ MicroPython client

MP_SCRIPT = r"""
import sys
import asyncio
from gateway.lib.mqtt import MQTTClient
from gateway.services.uplink import Uplink
from gateway.core import mqtt_config

PORT = int(sys.argv[1])
N = int(sys.argv[2])


class Outbox:
    def __init__(self, n):
        self.items = [(i + 1, {"meter": "5", "ts": 1795000000 + i, "power_w": i * 1.5})
                      for i in range(n)]
        self.cursor = 0
        self.changed = asyncio.Event()

    def pending(self, limit, after=None):
        start = self.cursor if after is None else max(self.cursor, after)  # ids are 1, 2, ...
        return self.items[start:start + limit]

    def ack(self, oid):
        assert oid == self.items[self.cursor][0]
        self.cursor += 1


async def main():
    got = []
    c = MQTTClient("127.0.0.1", PORT, client_id="mp-cli", keepalive=10,
                   will=("mp/status", b"offline", 1, True), birth=("mp/status", b"online", 1, True),
                   on_message=lambda t, p, r: got.append(p), backoff_min_ms=100)
    c.start()
    assert await c.wait_connected(5000), c.last_error
    await c.subscribe("mp/in", 1)
    for i in range(N):
        await c.publish("mp/q1", b"%d" % i, qos=1)
    await c.publish("mp/q0", b"zero", qos=0)
    print("PUBLISHED")
    while not got:
        await asyncio.sleep_ms(10)
    await c.publish("mp/echo", got[0], qos=1)
    cfg = mqtt_config.validate({"host": "127.0.0.1", "port": PORT, "base_topic": "mp/GW",
                                "discovery": False, "keepalive": 10}, None, "MP")
    ob = Outbox(N)
    up = Uplink(cfg, "MP", ob, client_kw={"backoff_min_ms": 100})
    up.start()
    while ob.cursor < N:
        await asyncio.sleep_ms(10)
    await up.stop()
    print("FORWARDED", ob.cursor)
    while True:  # stay connected until killed (last will test)
        await asyncio.sleep_ms(100)

asyncio.run(main())
"""


def _mp_env():
    env = dict(os.environ)
    env["MICROPYPATH"] = FIRMWARE + ":.frozen"
    return env


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="MicroPython unix port not found")
def test_micropython_client_and_uplink(broker, tmp_path):
    script = tmp_path / "mp_client.py"
    script.write_text(MP_SCRIPT)
    sub = Sub(broker.port, ["mp/#"], client_id="mp-sub")
    ready_probe(sub, broker.port, "mp/probe")
    n = 40
    proc = subprocess.Popen([MICROPYTHON, str(script), str(broker.port), str(n)],
                            env=_mp_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: len(sub.on("mp/q1")) >= n or proc.poll() is not None, 20,
                   "MicroPython publishes")
        assert proc.poll() is None, proc.stdout.read().decode()
        sub.publish("mp/in", b"ping-from-test")
        wait_until(lambda: sub.on("mp/echo") or proc.poll() is not None, 10, "echo")
        wait_until(lambda: len(set(sub.payloads("mp/GW/meter/5/sample"))) >= n
                   or proc.poll() is not None, 20, "uplink samples")
        assert proc.poll() is None, proc.stdout.read().decode()
        assert sub.payloads("mp/q1")[:n] == [b"%d" % i for i in range(n)]
        assert sub.payloads("mp/q0") == [b"zero"]
        assert sub.payloads("mp/echo") == [b"ping-from-test"]
        samples = [json.loads(p) for p in sub.payloads("mp/GW/meter/5/sample")]
        assert [s["id"] for s in samples][:n] == list(range(1, n + 1))
        assert samples[0] == {"id": 1, "meter": "5", "ts": 1795000000, "power_w": 0.0}
        # abrupt end of the MicroPython process: the broker publishes its last will
        wait_until(lambda: sub.payloads("mp/status")[-1:] == [b"online"], 5, "mp online")
        proc.kill()
        proc.wait(5)
        wait_until(lambda: sub.payloads("mp/status")[-1:] == [b"offline"], 5, "mp last will")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        sub.close()


# ------------------------------------------------------------------ TLS


def _make_certs(d):
    def run(*args):
        subprocess.check_call(["openssl"] + list(args), cwd=d, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
        "srv.key", "-out", "srv.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "srv.pem")
    with open(os.path.join(d, "ca.pem")) as f:
        return f.read()


MP_TLS_SCRIPT = r"""
import sys
import asyncio
from gateway.lib.mqtt import MQTTClient, make_ssl_context

async def main():
    ca = open(sys.argv[2]).read()
    c = MQTTClient("localhost", int(sys.argv[1]), client_id="mp-tls", keepalive=10,
                   ssl=make_ssl_context(True, ca), backoff_min_ms=100)
    c.start()
    ok = await c.wait_connected(8000)
    if not ok:
        print("ERR", c.last_error)
        return
    await c.publish("tls/mp", b"hello-tls", qos=1)
    await c.close()
    print("OK")

asyncio.run(main())
"""


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not found")
def test_tls_with_ca_check(tmp_path):
    ca = _make_certs(str(tmp_path))
    b = Broker(tmp_path, "allow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\n" % (
        tmp_path / "ca.pem", tmp_path / "srv.pem", tmp_path / "srv.key"))
    b.start()
    try:
        async def main():
            good = MQTTClient("localhost", b.port, client_id="tls-good", keepalive=10,
                              ssl=make_ssl_context(True, ca), backoff_min_ms=100)
            good.start()
            assert await good.wait_connected(8000), good.last_error
            await good.publish("tls/py", b"1", qos=1)
            await good.close()
            other_ca = make_ssl_context(True, None)  # system CAs: our test CA is unknown
            bad = MQTTClient("localhost", b.port, client_id="tls-bad", ssl=other_ca,
                             backoff_min_ms=100)
            bad.start()
            await until(lambda: bad.last_error, 8, "certificate failure")
            assert not bad.connected
            await bad.close()
            return bad.last_error

        err = run(main())
        assert "CERTIFICATE" in err.upper() or "SSL" in err.upper(), err
        if os.path.exists(MICROPYTHON):
            script = tmp_path / "mp_tls.py"
            script.write_text(MP_TLS_SCRIPT)
            out = subprocess.run([MICROPYTHON, str(script), str(b.port), str(tmp_path / "ca.pem")],
                                 env=_mp_env(), capture_output=True, timeout=30)
            assert out.stdout.strip() == b"OK", out.stdout + out.stderr
    finally:
        b.stop()
