"""MQTT fleet benchmark: N MicroPython-unix gateways (our client) publishing to one local mosquitto.

    python bench/mqtt_fleet.py [--gateways 20] [--burst 400] [--rate 10] [--seconds 3]

Phase 1 (throughput): on a "go" message every gateway publishes ``burst`` QoS 1 messages as fast
as its in-flight window allows; messages/s = messages received by one subscriber / time from
the go to the last arrival. Phase 2 (latency): every gateway publishes ``rate`` messages/s for
``seconds``; each payload carries its send time (same host clock), the subscriber takes
end-to-end latency at arrival: p50 / p95.

Prints one JSON object: mqtt_fleet_msgs_per_s, mqtt_fleet_latency_p95_ms,
mqtt_fleet_latency_p50_ms, mqtt_fleet_gateways. Bounded: about 20 s for the defaults, hard
limit 60 s.
"""
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time

from dingate import paths
from dingate.testing.emuproc import free_port
from dingate.testing.poll import listening, wait_until
from dingate.testing.procs import stop as stop_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
HARD_LIMIT_S = 55

WORKER = r"""
import sys
import time
import asyncio
from gateway.lib.mqtt import MQTTClient

PORT, GID, BURST, RATE, SECONDS = [int(x) for x in sys.argv[1:6]]
cmds = []
ev = asyncio.Event()


def on_msg(topic, payload, retained):
    cmds.append(payload)
    ev.set()


def now_us():
    return time.time_ns() // 1000


async def next_cmd():
    while not cmds:
        ev.clear()
        await ev.wait()
    return cmds.pop(0)


async def main():
    c = MQTTClient("127.0.0.1", PORT, client_id="fleet-%d" % GID, keepalive=30,
                   on_message=on_msg, max_inflight=16, backoff_min_ms=200)
    c.start()
    if not await c.wait_connected(15000):
        print("ERR", c.last_error)
        return
    await c.subscribe("fleet/ctl", 1)
    print("READY")
    while True:
        cmd = await next_cmd()
        if cmd == b"burst":
            topic = "fleet/%d/b" % GID
            window = []
            for i in range(BURST):
                window.append(await c.submit(topic, b"%d %d %d" % (GID, i, now_us()), 1))
                if len(window) >= 16:
                    await window.pop(0).wait()
            for d in window:
                await d.wait()
        elif cmd == b"paced":
            topic = "fleet/%d/p" % GID
            period = 1000000 // RATE
            start = now_us()
            for i in range(RATE * SECONDS):
                due = start + i * period
                wait = due - now_us()
                if wait > 0:
                    await asyncio.sleep_ms(wait // 1000)
                await c.publish(topic, b"%d %d %d" % (GID, i, now_us()), qos=1)
        elif cmd == b"quit":
            await c.close()
            return


asyncio.run(main())
"""


def _mosquitto():
    m = paths.mosquitto()
    if m is None:
        raise RuntimeError("mosquitto not found (Debian package 'mosquitto')")
    return m


def _pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


class _Sub:
    def __init__(self, port):
        import paho.mqtt.client as mqtt

        self.lock = threading.Lock()
        self.burst = 0
        self.burst_last = 0.0
        self.lat_ms = []
        self.ready = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fleet-sub")

        def on_connect(c, ud, flags, rc, props):
            c.subscribe("fleet/+/+", 0)

        def on_subscribe(c, ud, mid, codes, props):
            self.ready.set()

        def on_message(c, ud, m):
            t = time.time_ns() // 1000
            kind = m.topic[-1:]
            with self.lock:
                if kind == "b":
                    self.burst += 1
                    self.burst_last = time.monotonic()
                elif kind == "p":
                    sent = int(m.payload.split()[2])
                    self.lat_ms.append((t - sent) / 1000.0)

        self.c.on_connect = on_connect
        self.c.on_subscribe = on_subscribe
        self.c.on_message = on_message
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("subscriber did not subscribe")

    def control(self, payload):
        self.c.publish("fleet/ctl", payload, qos=1).wait_for_publish(10)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def _wait(pred, deadline, what):
    wait_until(pred, deadline - time.monotonic(), what, 0.01)


def run(gateways=20, burst=400, rate=10, seconds=3):
    """Run the fleet benchmark; returns the figures as a dict."""
    t_start = time.monotonic()
    deadline = t_start + HARD_LIMIT_S
    tmp = tempfile.mkdtemp(prefix="mqtt-fleet-")
    port = free_port()
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
        f.write("max_connections -1\nmax_queued_messages 100000\n")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            f.write("user root\n")
    script = os.path.join(tmp, "worker.py")
    with open(script, "w") as f:
        f.write(WORKER)
    broker = subprocess.Popen([_mosquitto(), "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    procs = []
    sub = None
    try:
        wait_until(lambda: listening(port), 10, "mosquitto listening", 0.01, process=broker)
        sub = _Sub(port)
        env = dict(os.environ)
        env["MICROPYPATH"] = FIRMWARE + ":.frozen"
        mp = paths.micropython(required=True)
        for g in range(gateways):
            procs.append(subprocess.Popen(
                [mp, script, str(port), str(g), str(burst), str(rate), str(seconds)], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        _await_ready(procs, deadline)

        # phase 1: throughput
        total = gateways * burst
        t0 = time.monotonic()
        sub.control(b"burst")
        _wait(lambda: sub.burst >= total, deadline, "burst messages")
        msgs_per_s = total / (sub.burst_last - t0)

        # phase 2: latency at a steady rate
        want = gateways * rate * seconds
        sub.control(b"paced")
        _wait(lambda: len(sub.lat_ms) >= want, deadline, "paced messages")
        lat = list(sub.lat_ms)
        sub.control(b"quit")
        for p in procs:
            try:
                p.wait(max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        return {
            "mqtt_fleet_msgs_per_s": round(msgs_per_s, 1),
            "mqtt_fleet_latency_p50_ms": round(_pct(lat, 50), 2),
            "mqtt_fleet_latency_p95_ms": round(_pct(lat, 95), 2),
            "mqtt_fleet_gateways": gateways,
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()
        if sub is not None:
            sub.close()
        stop_process(broker, timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)


def _await_ready(procs, deadline):
    waiting = dict((p.stdout.fileno(), p) for p in procs)
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("%d gateways never became ready" % len(waiting))
        ready, _, _ = select.select(list(waiting), [], [], min(left, 1.0))
        for fd in ready:
            line = waiting[fd].stdout.readline()
            if line.startswith(b"READY"):
                del waiting[fd]
            elif not line or line.startswith(b"ERR") or b"Error" in line:
                raise RuntimeError("a gateway failed: %r" % line)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateways", type=int, default=20)
    ap.add_argument("--burst", type=int, default=400)
    ap.add_argument("--rate", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=3)
    a = ap.parse_args(argv)
    print(json.dumps(run(a.gateways, a.burst, a.rate, a.seconds)))


if __name__ == "__main__":
    main()
