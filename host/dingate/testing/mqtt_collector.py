"""A paho subscriber that records what a broker delivers, for the MQTT tests (paho is imported
when one is made: a test module skips itself first when paho is missing)."""
import json
import ssl
import threading

from .poll import wait_until


class Collector:
    """Subscribed to ``topics`` (QoS 1) on ``host:port``; ``msgs`` holds every (topic, payload,
    retain) received, in order (read it under ``lock``, or through ``messages``). ``ca``: the
    path of a CA certificate to connect over TLS with the broker's certificate checked."""

    def __init__(self, port, topics, client_id="collector", clean_session=True, host="127.0.0.1",
                 ca=None):
        import paho.mqtt.client as paho

        self.msgs = []
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=clean_session)
        if ca:
            self.c.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
        self.c.on_message = self._on
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe([(t, 1) for t in topics])
        self.c.connect(host, port)
        self.c.loop_start()

    def _on(self, c, u, m):
        with self.lock:
            self.msgs.append((m.topic, m.payload, m.retain))

    def messages(self, start=0):
        """A copy of the messages received, from the ``start``-th on."""
        with self.lock:
            return self.msgs[start:]

    def topics(self):
        return [t for t, _p, _r in self.messages()]

    def last(self, topic):
        """The payload of the latest message on ``topic`` (None before the first)."""
        for t, p, _r in reversed(self.messages()):
            if t == topic:
                return p
        return None

    def publish(self, topic, payload, qos=1):
        return self.c.publish(topic, payload, qos=qos)

    def wait_json(self, topic, match=lambda d: True, start=0, timeout=10, what=None):
        """The first JSON payload on ``topic``, from the ``start``-th message on, that ``match``
        accepts; waits for it (dingate.testing.poll.wait_until)."""
        def found():
            for t, p, _r in self.messages(start):
                if t == topic and p:
                    d = json.loads(p)
                    if match(d):
                        return d
            return None

        return wait_until(found, timeout, what or "a message on %s" % topic, 0.05)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()
