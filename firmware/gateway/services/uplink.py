"""MQTT uplink: store-and-forward of recorded samples, live values, status, genset, commands and
Home Assistant discovery, over our own client (lib/mqtt.py).

Topics (``<base>`` = the configured base_topic, default ``dingate/<serial>``; ``<id>`` = the meter
id as one topic level):

    <base>/status                 "online" / "offline"            retained, last will = offline
    <base>/meter/<id>/sample      recorded sample (JSON)           QoS 1, from the outbox, in order
    <base>/meter/<id>/state       live values (JSON)               QoS 0, every live_interval_s
    <base>/meter/<id>/status      ok|offline|error|disabled        retained, on change and connect
    <base>/meter/<id>/peak        {"meter","month","kw","ts"}: the month's highest quarter-hour
                                  average import (core/demand.py), retained, on change
    <base>/genset/state           {"mode","relay","running_since","reason"}  retained, on change
    <base>/output/<id>/state      {"name","on","closed","mode"} of a configured plain relay
                                  output, retained, on change
    <base>/events                 event JSON                       QoS 1
    <base>/cmd/<name>             <- a command (services/mqtt_commands.py): the value as text,
                                     or {"value": ..., "req": ...} ({"mode": ...} for genset/mode)
    <base>/cmd/result             -> {"ok": bool, "cmd", "value", "req"?, "error"?, "field"?}
    <base>/discovery              index of the announced discovery configs (retained)
    homeassistant/.../config      discovery (retained), see core/ha_discovery.py

Sample payload: the outbox sample with the stable outbox id added, e.g.
``{"id": 1042, "meter": "3", "ts": 1795000000, "import_kwh": 12.5}``. Samples are published
oldest first; the outbox cursor advances only on PUBACK and in order, so after a broker or
network outage the backlog goes out in order with its own ``ts``. Delivery is at least once: a
consumer drops repeats by ``id``.

The outbox interface (core/outbox.py): ``pending(limit, after)`` -> [(id, sample_dict)] after the
cursor, ``ack(id)`` advances the durable cursor, ``changed`` an asyncio.Event-like flag set when
samples are flushed (this service is its only consumer and clears it).

Injected callables (all optional): ``meters()`` -> list of meter configs (as GET /api/meters),
``reading(id)`` -> one meter's ``{"status", "ts", "values"}`` as in GET /api/readings, or None
(asked one meter at a time: no snapshot of every meter held across the publishes),
``genset()`` -> dict as GET /api/genset, ``outputs()`` -> list as GET /api/outputs,
``peaks``: core/billing.py's ``Billing`` (``peaks_rev``, ``peak(id)``: the quarter-hour peaks),
``on_command(name, value)`` -> result or awaitable; raises ValidationError/ValueError to refuse
(the same checks as the HTTP API). Commands only act when they arrive while connected: the
command subscription is QoS 0 (nothing queued for an offline gateway) and retained command
messages are ignored (a command left retained must not run again at every reconnect).
"""
import asyncio
import json
import sys

from gateway.core import mqtt_config, ondemand
from gateway.core import mqtt_topics as T
from gateway.core.billing import month_text
from gateway.core.ticks import ticks_diff, ticks_ms
from gateway.lib.mqtt import MQTTClient, MQTTError, make_ssl_context, spawn_task

IS_MPY = sys.implementation.name == "micropython"
MAX_EVENTS = 32
MAX_WORK = 16
_INF = float("inf")


def _clean(v):
    """JSON-safe value: non-finite floats become null."""
    if isinstance(v, float) and (v != v or v == _INF or v == -_INF):
        return None
    return v


def _json(d):
    out = {}
    for k in d:
        out[k] = _clean(d[k])
    return json.dumps(out)


def meter_quantities(meter):
    """Quantity names (or (name, unit)) a meter reports: ``quantities`` if given, else from its
    profile's register map, else its generic registers."""
    q = meter.get("quantities")
    if q:
        return list(q)
    regs = None
    try:
        from gateway.core import profiles

        regs = profiles.registers(meter)
    except Exception:  # profile module missing or unknown profile: use the meter's own list
        regs = meter.get("registers") or []
    out = []
    seen = []
    for r in regs:
        name = r.get("quantity")
        if name and name[0] != "_" and name not in seen:  # "_": hidden (scale factors)
            seen.append(name)
            out.append((name, r.get("unit")) if r.get("unit") else name)
        elif name and name.startswith("_fault") and "alarms" not in seen:
            seen.append("alarms")  # fault registers: the count of active alarms (alarms.py)
            out.append("alarms")
    return out


def build_client(cfg, on_message=None, on_connect=None, **kw):
    """An MQTTClient from a validated mqtt_config dict (will/birth on <base>/status)."""
    base = cfg["base_topic"]
    status = T.availability_topic(base)
    ssl_factory = None
    if cfg.get("tls"):
        verify = cfg.get("tls_verify", True)
        ca = cfg.get("ca") or None

        def ssl_factory():  # per connect attempt: a bad CA shows up in last_error
            return make_ssl_context(verify, ca)

    return MQTTClient(
        cfg["host"], cfg.get("port", 1883), client_id=cfg["client_id"],
        user=cfg.get("user") or None, password=cfg.get("password") or None,
        keepalive=cfg.get("keepalive", 60), clean=cfg.get("clean_session", False),
        will=(status, b"offline", 1, True), birth=(status, b"online", 1, True), ssl=ssl_factory,
        on_message=on_message, on_connect=on_connect, **kw)


class Uplink:
    def __init__(self, cfg, serial, outbox, sw_version="0", model=None,
                 meters=None, reading=None, genset=None, on_command=None, client=None,
                 device_name=None, window=8, has_genset=True, client_kw=None, outputs=None,
                 peaks=None, turns=None):
        """``cfg``: validated mqtt_config dict. ``client``: an MQTTClient to use (tests); by
        default one is built from cfg (extra MQTTClient arguments in ``client_kw``).
        ``peaks``: the quarter-hour peaks (core/billing.py ``Billing``: ``peaks_rev`` changes
        with them, ``peak(meter id)`` -> (month YYYYMM, W, quarter start) or None).
        ``turns()``: turns (web/guard.py ``Turns``) a discovery announcement, the largest
        transient heap MQTT makes, takes one of while it runs, or None."""
        self.cfg = cfg
        self.base = cfg["base_topic"]
        self.serial = serial
        self.outbox = outbox
        self.sw_version = sw_version
        self.model = model
        self.device_name = device_name
        self.meters = meters
        self.reading = reading
        self.genset = genset
        self.on_command = on_command
        self.has_genset = has_genset
        self.outputs = outputs
        self.peaks = peaks
        self.turns = turns
        self.prefix = cfg.get("discovery_prefix") or T.DEFAULT_PREFIX
        self.node = T.node_id(serial)
        self.cmd_filter = self.base + "/cmd/#"  # our own /cmd/result is skipped
        self.result_topic = self.base + "/cmd/result"
        self.index_topic = self.base + "/discovery"
        self.announced = False
        if client is None:
            client = build_client(cfg, **(client_kw or {}))
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        # QoS 0: the broker does not queue commands for an offline gateway (a genset command
        # sent an hour ago must not run when the link comes back); the sender sees no result.
        client.add_subscription(self.cmd_filter, 0)
        if client.max_inflight < window:
            window = client.max_inflight
        self.window = window
        self.client = client
        self.stats = {"samples": 0, "live": 0, "events": 0, "events_dropped": 0, "commands": 0,
                      "discovery": 0, "cleared": 0, "bad_samples": 0, "errors": 0}
        self.last_error = ""
        self._events = []
        self._work = []  # (command name, payload)
        self._work_ev = asyncio.Event()
        self._disc_ev = asyncio.Event()
        self._index_ev = asyncio.Event()
        self._announce_ev = asyncio.Event()  # set after each discovery announcement
        self._old_index = None
        self._tick_ev = asyncio.Event()
        self._connect_seen = 0
        self._status_sent = {}
        self._genset_sent = None
        self._outputs_sent = {}
        self._peaks_sent = {}  # meter id -> the quarter of the peak last published
        self._peaks_rev = None  # peaks.peaks_rev when they were last looked at
        self._tasks = []
        self._stopping = False

    # ------------------------------------------------------------ lifecycle

    def factories(self):
        """(name, coroutine function) of every service task but the client's."""
        return (("mqtt-forward", self._forward), ("mqtt-live", self._live),
                ("mqtt-work", self._worker), ("mqtt-discovery", self._discovery))

    def start(self, spawn=None):
        """Start the client and the service tasks; returns the tasks. ``spawn(name, coroutine
        function)`` runs them, and the client's connection tasks, under an app's supervisor
        (services/tasks.py); without it they are plain asyncio tasks (tests, benches)."""
        self._tasks = [self.client.start(spawn, "mqtt")]
        for name, factory in self.factories():
            self._tasks.append(spawn_task(spawn, name, factory))
        return self._tasks

    async def stop(self):
        """Publish "offline", disconnect cleanly and end every task."""
        self._stopping = True
        if self.client.connected:
            try:
                await self.client.publish(T.availability_topic(self.base), b"offline", 0, True)
            except MQTTError:
                pass
        await self.client.close(graceful=True)
        await _end_tasks(self._tasks[1:])
        self._tasks = []

    def status(self):
        """For GET /api/mqtt and /api/status."""
        s = {"connected": self.client.connected,
             "last_error": self.client.last_error or self.last_error}
        s.update(self.stats)
        s["connects"] = self.client.stats["connects"]
        return s

    def post_event(self, event):
        """Queue an event dict for <base>/events (bounded; the oldest go first when full)."""
        if len(self._events) >= MAX_EVENTS:
            self._events.pop(0)
            self.stats["events_dropped"] += 1
        self._events.append(event)
        self._tick_ev.set()

    def meters_changed(self):
        """Meters were added, renamed or deleted: republish discovery and clear stale configs."""
        self._disc_ev.set()
        self._tick_ev.set()

    def genset_changed(self, genset, has_genset):
        """Generator control was configured or removed: announce (or delete) its entities."""
        self.genset = genset
        self.has_genset = has_genset
        self._genset_sent = None
        self._disc_ev.set()
        self._tick_ev.set()

    def outputs_changed(self):
        """Plain outputs were configured, renamed or removed: announce (or delete) switches."""
        self._outputs_sent = {}
        self._disc_ev.set()
        self._tick_ev.set()

    def notify(self):
        """Something changed (genset state, readings): publish soon rather than at the tick."""
        self._tick_ev.set()

    # ------------------------------------------------------------ client callbacks

    def _on_connect(self, session_present):
        self._disc_ev.set()
        self._tick_ev.set()

    def _on_message(self, topic, payload, retained):
        if topic.startswith(self.base + "/cmd/"):
            if retained or topic == self.result_topic:
                return
            if len(self._work) >= MAX_WORK:
                return  # flooded: dropped, the sender gets no answer and may retry
            self._work.append((topic[len(self.base) + 5:], payload))
            self._work_ev.set()
        elif topic == self.index_topic and retained:
            try:
                self._old_index = json.loads(payload) if payload else None
            except ValueError:
                self._old_index = None
            self._index_ev.set()

    # ------------------------------------------------------------ helpers

    def _meter_list(self):
        if self.meters is None:
            return []
        try:
            return self.meters() or []
        except Exception:
            return []

    def _ha_meters(self):
        for m in self._meter_list():
            yield {"id": str(m.get("id")), "name": m.get("name") or "",
                   "quantities": meter_quantities(m)}

    def _sample_message(self, oid, sample):
        meter = sample.get("meter")
        topic = T.meter_topic(self.base, meter, "sample") if meter is not None else (
            self.base + "/sample")
        d = {"id": oid}
        for k in sample:
            if k != "id":
                d[k] = sample[k]
        return topic, _json(d)

    # ------------------------------------------------------------ store and forward

    async def _forward(self):
        ob = self.outbox
        client = self.client
        inflight = []  # [(outbox id, Delivery)] oldest first
        while not self._stopping:
            if not inflight and not client.connected:
                await client.wait_connected()
                continue
            if client.connected and len(inflight) < self.window:
                if not inflight:
                    ob.changed.clear()  # before pending(): a flush after it sets it again
                while len(inflight) < self.window:
                    # one sample at a time, after the newest in flight: the outbox keeps one
                    # sample dict, not a window of them
                    nxt = ob.pending(1, inflight[-1][0] if inflight else None)
                    if not nxt:
                        break
                    oid, sample = nxt[0]
                    nxt = None
                    try:
                        topic, payload = self._sample_message(oid, sample)
                    except Exception:  # unencodable sample: skip it, never block the queue
                        self.stats["bad_samples"] += 1
                        if not inflight:
                            ob.ack(oid)
                            continue
                        break
                    sample = None
                    try:
                        d = await client.submit(topic, payload, 1, False)
                    except MQTTError:
                        break  # not connected: the sample stays in the outbox
                    inflight.append((oid, d))
            if inflight:
                oid, d = inflight[0]
                await d.wait()  # survives reconnects; ClientClosed ends the task
                inflight.pop(0)
                ob.ack(oid)
                self.stats["samples"] += 1
                continue
            if client.connected:
                await _wait(ob.changed, 30000)

    # ------------------------------------------------------------ live values, status, genset

    async def _live(self):
        client = self.client
        last_live = None
        while not self._stopping:
            self._tick_ev.clear()
            if client.connected:
                c = client.stats["connects"]
                if c != self._connect_seen:  # new connection: retained state again
                    self._connect_seen = c
                    self._status_sent = {}
                    self._genset_sent = None
                    self._outputs_sent = {}
                    self._peaks_sent = {}
                    self._peaks_rev = None
                try:
                    interval = self.cfg.get("live_interval_s", 10) * 1000
                    due = interval and (last_live is None
                                        or ticks_diff(ticks_ms(), last_live) >= interval)
                    if due:
                        last_live = ticks_ms()
                    await self._publish_readings(due)
                    await self._publish_peaks()
                    await self._publish_genset()
                    await self._publish_outputs()
                    await self._publish_events()
                except MQTTError:
                    pass  # connection dropped: everything is sent again after reconnect
                except Exception as e:  # bad data from a provider: skip this round
                    self.stats["errors"] += 1
                    self.last_error = "%s: %s" % (type(e).__name__, e)
            await _wait(self._tick_ev, 1000)

    async def _publish_readings(self, live):
        if self.reading is None:
            return
        for m in self._meter_list():
            mid = m.get("id")
            try:
                entry = self.reading(mid)
            except Exception:
                continue
            if entry is None:
                continue
            st = entry.get("status") or "ok"
            if self._status_sent.get(mid) != st:
                await self.client.publish(T.meter_topic(self.base, mid, "status"), st, 0, True)
                self._status_sent[mid] = st
            values = entry.get("values")
            if live and values and st in ("ok", "partial"):
                d = {"meter": str(mid), "ts": entry.get("ts"), "status": st}
                for k in values:
                    d[k] = values[k]
                await self.client.publish(T.meter_topic(self.base, mid, "state"), _json(d), 0,
                                          False)
                self.stats["live"] += 1

    async def _publish_peaks(self):
        """Each meter's month's quarter-hour peak, retained, when it changes (a new peak has a
        new quarter): <base>/meter/<id>/peak {"month", "kw", "ts"}. Looked at only when
        ``peaks_rev`` moved (a quarter read where a peak rose), not every second."""
        if self.peaks is None or self.peaks.peaks_rev == self._peaks_rev:
            return
        rev = self.peaks.peaks_rev
        for m in self._meter_list():
            mid = m.get("id")
            p = self.peaks.peak(mid)
            if p is None or self._peaks_sent.get(mid) == p[2]:
                continue
            d = {"meter": str(mid), "month": month_text(p[0]), "kw": p[1] / 1000, "ts": p[2]}
            await self.client.publish(T.meter_topic(self.base, mid, "peak"), _json(d), 0, True)
            self._peaks_sent[mid] = p[2]
        self._peaks_rev = rev

    async def _publish_genset(self):
        if self.genset is None:
            return
        try:
            g = self.genset()
        except Exception:
            return
        if not g:
            return
        state = {"mode": g.get("mode"), "relay": bool(g.get("relay")),
                 "running_since": g.get("running_since"), "reason": g.get("reason")}
        if g.get("service_due_in_h") is not None:  # a service interval is set
            state["service_due"] = bool(g.get("service_due"))
        if state != self._genset_sent:
            await self.client.publish(T.genset_state_topic(self.base), _json(state), 0, True)
            self._genset_sent = state

    def _output_list(self):
        try:
            return [o for o in (self.outputs() if self.outputs else ()) if o.get("configured")]
        except Exception:
            return []

    async def _publish_outputs(self):
        for o in self._output_list():
            state = {"name": o.get("name"), "on": bool(o.get("on")), "closed": bool(o.get("closed")),
                     "mode": o.get("mode")}
            if self._outputs_sent.get(o["id"]) != state:
                await self.client.publish(T.output_state_topic(self.base, o["id"]), _json(state), 0,
                                          True)
                self._outputs_sent[o["id"]] = state

    async def _publish_events(self):
        while self._events:
            await self.client.publish(self.base + "/events", _json(self._events[0]), 1, False,
                                      timeout_ms=30000)
            self._events.pop(0)
            self.stats["events"] += 1

    # ------------------------------------------------------------ commands and discovery cleanup

    async def _worker(self):
        while not self._stopping:
            if not self._work:
                self._work_ev.clear()
                await self._work_ev.wait()
                continue
            name, payload = self._work.pop(0)
            try:
                await self._command(name, payload)
            except MQTTError:
                pass

    async def _command(self, name, payload):
        self.stats["commands"] += 1
        req = None
        try:
            text = payload.decode().strip()
            value = text
            if text[:1] == "{":
                obj = json.loads(text)
                req = obj.get("req")
                value = obj.get("mode") if name == "genset/mode" else obj.get("value")
        except Exception:
            await self._result(name, None, req, "payload is not valid UTF-8 text or JSON")
            return
        if self.on_command is None:
            await self._result(name, value, req, "commands are not supported")
            return
        try:
            r = self.on_command(name, value)
            if r is not None and hasattr(r, "send"):  # coroutine or generator
                r = await r
        except ValueError as e:  # ValidationError is a ValueError
            await self._result(name, value, req, getattr(e, "message", None) or str(e),
                               getattr(e, "field", None))
            return
        except Exception as e:
            await self._result(name, value, req, "command failed: %s" % e)
            return
        await self._result(name, value, req, None)
        self._tick_ev.set()  # publish the new genset state now

    async def _result(self, name, value, req, error, field=None):
        d = {"ok": error is None, "cmd": name, "value": value}
        if req is not None:
            d["req"] = req
        if error is not None:
            d["error"] = error
            if field:
                d["field"] = field
        await self.client.publish(self.result_topic, json.dumps(d), 1, False, timeout_ms=30000)

    async def _discovery(self):
        while not self._stopping:
            await self._disc_ev.wait()
            self._disc_ev.clear()
            if not self.client.connected:
                continue
            turns = self.turns() if self.turns else None
            if turns is not None:
                await turns.take()
            try:
                await self._announce()
            except MQTTError:
                pass
            finally:
                if turns is not None:
                    turns.give()

    async def _announce(self):
        """Publish the discovery configs, delete the ones announced before and not wanted now
        (from the retained index on <base>/discovery), then store the new index.
        core/ha_discovery is loaded for the announcement only (not kept on the heap)."""
        before = ondemand.mark()
        try:
            from gateway.core import ha_discovery as H

            await self._announce_with(H)
        finally:
            H = None
            ondemand.release(before)  # not what other tasks load meanwhile (core/ondemand.py)

    async def _announce_with(self, H):
        c = self.client
        self._old_index = None
        self._index_ev.clear()
        await c.subscribe(self.index_topic, 1)  # the broker answers with the retained index
        await _wait(self._index_ev, 2000)
        await c.unsubscribe(self.index_topic)
        on = bool(self.cfg.get("discovery"))
        outputs = [{"id": o["id"], "name": o.get("name")} for o in self._output_list()]
        new = H.index(self._ha_meters(), self.has_genset, outputs) if on else None
        for topic in H.stale(self._old_index, new, self.node, self.prefix):
            await c.publish(topic, b"", 1, True, timeout_ms=30000)
            self.stats["cleared"] += 1
        had_index = self._old_index is not None
        self._old_index = None  # not kept on the heap between announcements
        new = json.dumps(new) if on else b""  # as text while the configs go out: half the dict
        if on:
            dev = H.device(self.serial, self.sw_version, self.model or H.DEFAULT_MODEL,
                           self.device_name)
            for topic, payload in H.configs(self.base, dev, self.sw_version, self._ha_meters(),
                                            self.prefix, self.has_genset, outputs):
                await c.publish(topic, payload, 1, True, timeout_ms=30000)
                self.stats["discovery"] += 1
        if on or had_index:
            await c.publish(self.index_topic, new, 1, True, timeout_ms=30000)
        self.announced = True
        self._announce_ev.set()


async def _end_tasks(tasks):
    """Cancel tasks and wait (bounded) until they are done. Cancels again while waiting:
    CPython 3.11's wait_for can swallow a cancellation that races with its inner result."""
    from gateway.core.ticks import sleep_ms

    for t in tasks:
        t.cancel()
    for _ in range(300):
        if all(t.done() for t in tasks):
            break
        await sleep_ms(10)
        for t in tasks:
            if not t.done():
                t.cancel()
    if not IS_MPY:  # collect the outcome so CPython does not warn about it
        for t in tasks:
            if t.done() and not t.cancelled():
                t.exception()


async def _wait(ev, ms):
    try:
        await asyncio.wait_for(ev.wait(), ms / 1000)
        return True
    except asyncio.TimeoutError:
        return False


def from_config(cfg, serial, outbox, **kw):
    """An Uplink for a stored config, or None when the uplink is off (no host or disabled)."""
    if not mqtt_config.is_active(cfg):
        return None
    return Uplink(cfg, serial, outbox, **kw)
