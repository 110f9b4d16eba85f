"""Our own asyncio MQTT 3.1.1 client; runs on MicroPython asyncio and CPython asyncio.

    client = MQTTClient("broker.local", client_id="dingate-GW1", user="u", password="p",
                        keepalive=60, clean=False,
                        will=("dingate/GW1/status", b"offline", 1, True),
                        birth=("dingate/GW1/status", b"online", 1, True),
                        on_message=lambda topic, payload, retained: ...)
    client.start()                        # or: create a task running client.run()
    await client.subscribe("dingate/GW1/cmd/#", 1)
    await client.publish("t", b"x", qos=1)   # returns on PUBACK

Behaviour
* One background loop: resolve the host (once per attempt, with a timeout; the last good address
  is reused when DNS fails), open TCP/TLS, CONNECT/CONNACK, then run the session until the
  connection ends; reconnect with capped exponential back-off and jitter. Nothing blocks the
  event loop except, on MicroPython without ``dns_thread``, the board's own DNS lookup.
* Keepalive: PINGREQ when the link was idle for keepalive/2 in either direction; no answer
  within keepalive/2 (at least 1 s), or a write stuck for keepalive, drops the connection.
* QoS 0 and 1 (QoS 2 is neither sent nor subscribed). Up to ``max_inflight`` unacknowledged
  QoS 1 messages; they survive a reconnect and are sent again, in order, with DUP=1, before
  anything new. Subscriptions are re-sent on every connect (clean or not).
* ``publish`` raises :class:`NotConnected` at once when the client is not connected (the caller
  keeps the data: it is the store-and-forward buffer, not this client). A QoS 1 publish that
  is already on the wire keeps waiting across a reconnect and returns on its PUBACK; it raises
  :class:`ClientClosed` if the client is closed, :class:`Timeout` after ``timeout_ms``.
  A QoS 0 publish whose write fails raises :class:`ConnectionLost`.
* ``birth`` is published (QoS 0, it is re-sent on every connect) after the session set-up.
* ``on_message(topic, payload, retained)`` is called from the reader; it must not block
  (queue the work). Incoming packets larger than ``max_packet`` drop the connection.
"""
import asyncio
import sys

from gateway.core import mqtt_packets as P
from gateway.core.ticks import sleep_ms, ticks_diff, ticks_ms

try:
    from random import getrandbits
except ImportError:  # pragma: no cover - every target port has random
    def getrandbits(n):
        return 0

IS_MPY = sys.implementation.name == "micropython"

MQTTError = P.MQTTError


def spawn_task(spawn, name, factory):
    """Run ``factory()`` (a coroutine function) as task ``name``: through ``spawn(name,
    factory)`` (an app's supervisor, services/tasks.py: restart and log on a crash) when given,
    else as a plain asyncio task (named on CPython). Returns the task."""
    if spawn is not None:
        return spawn(name, factory)
    if IS_MPY:
        return asyncio.create_task(factory())
    return asyncio.create_task(factory(), name=name)


class NotConnected(MQTTError):
    """The client has no broker connection now."""


class ConnectionLost(MQTTError):
    """The connection went away during the operation."""


class ClientClosed(MQTTError):
    """close() was called."""


class Timeout(MQTTError):
    """No answer in time."""


class Refused(MQTTError):
    """CONNACK with a non-zero return code; ``rc`` holds it."""

    def __init__(self, rc):
        MQTTError.__init__(self, P.connack_message(rc))
        self.rc = rc


def make_ssl_context(verify=True, cadata=None):
    """TLS client context for both interpreters. ``cadata``: PEM text of the CA(s) to trust.

    CPython without ``cadata`` trusts the system store; MicroPython has none, so a checked
    connection there needs ``cadata``.
    """
    import ssl

    if IS_MPY:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if not verify:
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if not cadata:
            raise ValueError("checking the broker certificate needs a CA certificate (ca)")
        ctx.verify_mode = ssl.CERT_REQUIRED
        for der in _pem_blocks(cadata):
            ctx.load_verify_locations(cadata=der)
        return ctx
    if verify:
        ctx = ssl.create_default_context(cadata=cadata or None)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _pem_blocks(pem):
    """DER bytes of each certificate in a PEM text."""
    import binascii

    if isinstance(pem, bytes):
        pem = pem.decode()
    out = []
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    pos = 0
    while True:
        a = pem.find(begin, pos)
        if a < 0:
            break
        b = pem.find(end, a)
        if b < 0:
            raise ValueError("truncated PEM certificate")
        body = "".join(pem[a + len(begin):b].split())
        out.append(binascii.a2b_base64(body))
        pos = b + len(end)
    if not out:
        raise ValueError("no PEM certificate found")
    return out


async def _wait(ev, ms):
    """Wait for an Event up to ``ms``; True if it was set."""
    if ev.is_set():
        return True
    try:
        await asyncio.wait_for(ev.wait(), ms / 1000)
        return True
    except asyncio.TimeoutError:
        return False


class _Waiter:
    """Completion of one request (PUBACK, SUBACK, ...) without asyncio.Future (MicroPython)."""

    __slots__ = ("ev", "result", "error")

    def __init__(self):
        self.ev = asyncio.Event()
        self.result = None
        self.error = None

    def done(self, result=None, error=None):
        if not self.ev.is_set():
            self.result = result
            self.error = error
            self.ev.set()

    async def wait(self, timeout_ms=None):
        if timeout_ms is None:
            await self.ev.wait()
        elif not await _wait(self.ev, timeout_ms):
            raise Timeout("no acknowledgement within %d ms" % timeout_ms)
        if self.error is not None:
            raise self.error
        return self.result


class Delivery(_Waiter):
    """An outgoing QoS 1 message until its PUBACK; ``await d.wait()`` returns when acked."""

    __slots__ = ("pid", "topic", "payload", "retain")

    def __init__(self, pid, topic, payload, retain):
        _Waiter.__init__(self)
        self.pid = pid
        self.topic = topic
        self.payload = payload
        self.retain = retain


class MQTTClient:
    def __init__(self, host, port=1883, client_id="dingate", user=None, password=None,
                 keepalive=60, clean=True, will=None, birth=None, ssl=None,
                 on_message=None, on_connect=None, max_inflight=8, max_packet=16384,
                 backoff_min_ms=1000, backoff_max_ms=60000, connect_timeout_ms=10000,
                 dns_timeout_ms=5000, dns_thread=False):
        """``will``/``birth``: (topic, payload, qos, retain) or None. ``ssl``: None/False for
        plain TCP, True for a default checked context, an SSLContext (make_ssl_context), or a
        callable returning one (called per connect attempt; its errors become last_error)."""
        self.host = host
        self.port = port
        self.client_id = client_id
        self.user = user or None
        self.password = password or None
        self.keepalive = keepalive
        self.clean = clean
        self.will = will
        self.birth = birth
        self.ssl = ssl
        self.on_message = on_message
        self.on_connect = on_connect
        self.max_inflight = max(1, max_inflight)
        self.max_packet = max_packet
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = max(backoff_min_ms, backoff_max_ms)
        self.connect_timeout_ms = connect_timeout_ms
        self.dns_timeout_ms = dns_timeout_ms
        self.dns_thread = dns_thread
        self.last_error = ""
        self.session_present = False
        self.stats = {"connects": 0, "published": 0, "acked": 0, "resent": 0, "received": 0,
                      "pings": 0, "errors": 0}
        self._connected = False
        self._closed = False
        self._writer = None
        self._reader = None
        self._wlock = asyncio.Lock()
        self._up = asyncio.Event()  # set while connected
        self._slot = asyncio.Event()  # pulsed when an in-flight slot frees
        self._wake = asyncio.Event()  # cuts the back-off sleep short (close, reconnect_now)
        self._dead = None  # Event of the current connection: set when it must end
        self._inflight = []  # Delivery objects in send order
        self._pending = {}  # pid -> _Waiter for SUBACK / UNSUBACK
        self._subs = []  # [filter, qos] re-sent on every connect
        self._pid = 0
        self._last_tx = 0
        self._last_rx = 0
        self._ping_sent = None
        self._tx_since = None
        self._addr = None  # last good resolved address
        self._task = None
        self._spawn = None  # the supervisor's spawn given to start(), or None
        self._name = "mqtt"

    # ------------------------------------------------------------ public API

    @property
    def connected(self):
        return self._connected

    def inflight(self):
        return len(self._inflight)

    def start(self, spawn=None, name="mqtt"):
        """Create the background task ``name`` and return it: through ``spawn(name, coroutine
        function)`` (an app's supervisor, services/tasks.py), else directly (named on CPython).
        Each connection's reader and pinger are tasks ``<name>-reader`` and ``<name>-pinger``,
        made the same way (under the supervisor when there is one) and ended with the connection."""
        if self._task is None:
            self._spawn = spawn
            self._name = name
            self._task = spawn_task(spawn, name, self.run)
        return self._task

    async def wait_connected(self, timeout_ms=None):
        """Wait until connected; False on timeout. Raises ClientClosed once closed."""
        if self._closed:
            raise ClientClosed("client closed")
        if timeout_ms is None:
            await self._up.wait()
            ok = True
        else:
            ok = await _wait(self._up, timeout_ms)
        if self._closed:
            raise ClientClosed("client closed")
        return ok

    async def submit(self, topic, payload, qos=1, retain=False):
        """Send a PUBLISH and return once it is written. QoS 1 -> a Delivery to await for the
        PUBACK (pipelining: several submits, then the waits in order); QoS 0 -> None."""
        P.validate_topic(topic)
        if isinstance(payload, str):
            payload = payload.encode()
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        self._check_up()
        if qos == 0:
            hdr = P.publish_header(topic, len(payload), 0, retain)
            await self._send(hdr, payload)
            self.stats["published"] += 1
            return None
        while len(self._inflight) >= self.max_inflight:
            self._slot.clear()
            await self._slot.wait()
            self._check_up()
        d = Delivery(self._new_pid(), topic, payload, retain)
        self._inflight.append(d)
        self.stats["published"] += 1
        try:
            await self._send_publish(d, False)
        except MQTTError:
            pass  # the connection is going down: d stays in flight and is re-sent
        return d

    async def publish(self, topic, payload, qos=1, retain=False, timeout_ms=None):
        """Publish; returns after the PUBACK (QoS 1) or the write (QoS 0)."""
        d = await self.submit(topic, payload, qos, retain)
        if d is not None:
            await d.wait(timeout_ms)

    def add_subscription(self, filt, qos=1):
        """Register a subscription sent at every connect (before anything else goes out)."""
        P.validate_filter(filt)
        for s in self._subs:
            if s[0] == filt:
                s[1] = min(qos, 1)
                return
        self._subs.append([filt, min(qos, 1)])

    async def subscribe(self, filt, qos=1, timeout_ms=10000):
        """Subscribe now and on every later connect. Returns the granted QoS when connected
        (raises MQTTError if the broker refused), None when it will be sent on connect."""
        qos = min(qos, 1)
        self.add_subscription(filt, qos)
        if not self._connected:
            return None
        pid = self._new_pid()
        w = self._pending[pid] = _Waiter()
        await self._send(P.subscribe(pid, [(filt, qos)]))
        codes = await w.wait(timeout_ms)
        if codes[0] == P.SUBACK_FAILURE:
            raise MQTTError("subscription to %s refused" % filt)
        return codes[0]

    async def unsubscribe(self, filt, timeout_ms=10000):
        """Forget a subscription (and UNSUBSCRIBE now when connected)."""
        self._subs = [s for s in self._subs if s[0] != filt]
        if not self._connected:
            return
        pid = self._new_pid()
        w = self._pending[pid] = _Waiter()
        await self._send(P.unsubscribe(pid, [filt]))
        await w.wait(timeout_ms)

    def drop_connection(self, reason="connection dropped"):
        """End the current connection without DISCONNECT (the broker publishes the will);
        the client reconnects after its back-off. Also the hook for "Wi-Fi lost"."""
        if self._dead is not None and not self._dead.is_set():
            self.last_error = reason
            self._dead.set()

    def reconnect_now(self):
        """Cut a back-off wait short (e.g. when Wi-Fi comes back)."""
        self._wake.set()

    async def close(self, graceful=True):
        """Stop for good. graceful: send DISCONNECT first (the broker discards the will)."""
        if self._closed:
            return
        if graceful and self._connected:
            try:
                await self._send(P.DISCONNECT_PACKET)
            except MQTTError:
                pass
        self._closed = True
        self._wake.set()
        if self._dead is not None:
            self._dead.set()
        err = ClientClosed("client closed")
        for d in self._inflight:
            d.done(error=err)
        self._inflight = []
        self._fail_pending(err)
        self._slot.set()
        self._up.set()  # wake wait_connected() callers; they see _closed
        t = self._task
        if t is not None:
            try:
                await asyncio.wait_for(t, 5)
            except BaseException:  # noqa: B036 - includes CancelledError on CPython
                pass

    # ------------------------------------------------------------ connection loop

    async def run(self):
        """The connection loop; returns after close()."""
        delay = self.backoff_min_ms
        while not self._closed:
            started = ticks_ms()
            try:
                await self._connect_once()
                await self._session()
            except MQTTError as e:
                self._note_error(e)
            except OSError as e:
                self._note_error(e)
            except asyncio.TimeoutError:
                self._note_error("timed out")
            except Exception as e:  # bad TLS settings, a bug: keep the service alive
                self._note_error(e)
            finally:
                await self._teardown()
            if self._closed:
                break
            if ticks_diff(ticks_ms(), started) > 30000:
                delay = self.backoff_min_ms  # the link was up a while: retry quickly
            wait = delay // 2 + getrandbits(16) % (delay // 2 + 1)
            self._wake.clear()
            await _wait(self._wake, wait)
            delay = min(delay * 2, self.backoff_max_ms)

    def _note_error(self, e):
        self.stats["errors"] += 1
        text = e if isinstance(e, str) else "%s: %s" % (type(e).__name__, e)
        # one line: MicroPython's TLS errors carry mbedTLS's reason between newlines
        self.last_error = " ".join(text.split())

    async def _resolve(self):
        """Address info for host:port, once per attempt, bounded by dns_timeout_ms."""
        import socket

        try:
            if not IS_MPY:
                loop = asyncio.get_running_loop()
                ai = await asyncio.wait_for(
                    loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM),
                    self.dns_timeout_ms / 1000)
            elif self.dns_thread:
                ai = await self._resolve_thread(socket)
            else:  # blocking on the board's resolver (its own timeout bounds it)
                ai = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)
            if not ai:
                raise OSError("no address for %s" % self.host)
            self._addr = ai[:4]
        except (OSError, asyncio.TimeoutError) as e:
            if self._addr is None:
                raise MQTTError("cannot resolve %s: %s" % (self.host, str(e) or "timeout"))
        return self._addr

    async def _resolve_thread(self, socket):
        import _thread

        flag = asyncio.ThreadSafeFlag()
        box = []

        def work():
            try:
                box.append(socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM))
            except Exception as e:  # handed to the loop
                box.append(e)
            flag.set()

        _thread.start_new_thread(work, ())
        try:
            await asyncio.wait_for(flag.wait(), self.dns_timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise OSError("DNS timeout")
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]

    def _ssl_context(self):
        if self.ssl is True:
            return make_ssl_context(True)
        if callable(self.ssl):  # a factory: errors (e.g. no CA on the device) -> last_error
            return self.ssl()
        return self.ssl or None

    async def _open(self, ai):
        ctx = self._ssl_context()
        if not IS_MPY:
            ip = ai[4][0]
            return await asyncio.open_connection(
                ip, self.port, ssl=ctx, server_hostname=self.host if ctx else None)
        # MicroPython: connect to the resolved address ourselves (open_connection would resolve
        # again, blocking); the first drain waits for the connect to finish.
        import errno
        import socket

        s = socket.socket(ai[0], socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != errno.EINPROGRESS:
                s.close()
                raise
        if ctx:
            s = ctx.wrap_socket(s, server_hostname=self.host, do_handshake_on_connect=False)
            s.setblocking(False)
        stream = asyncio.StreamReader(s)
        return stream, stream

    async def _connect_once(self):
        addrs = await self._resolve()
        err = None
        for ai in addrs:  # e.g. ::1 then 127.0.0.1 for "localhost"
            try:
                self._reader, self._writer = await asyncio.wait_for(
                    self._open(ai), self.connect_timeout_ms / 1000)
                break
            except OSError as e:
                err = e
        else:
            raise err
        w = self.will or (None, b"", 0, False)
        pkt = P.connect(self.client_id, self.keepalive, self.user, self.password, self.clean,
                        w[0], w[1], w[2], w[3])
        await asyncio.wait_for(self._send(pkt), self.connect_timeout_ms / 1000)
        ptype, flags, body = await asyncio.wait_for(
            P.read_packet(self._reader, self.max_packet), self.connect_timeout_ms / 1000)
        if ptype != P.CONNACK:
            raise P.MalformedPacket("expected CONNACK, got %s" % P.packet_name(ptype))
        self.session_present, rc = P.parse_connack(body)
        if rc != P.CONNACK_ACCEPTED:
            raise Refused(rc)
        self._last_rx = ticks_ms()

    async def _session(self):
        dead = self._dead = asyncio.Event()
        writer = self._writer
        # Session set-up before anything new may go out: subscriptions, then the unacked
        # messages in their order (DUP), then the birth message.
        for filt, qos in self._subs:
            pid = self._new_pid()
            self._pending[pid] = _Waiter()
            await self._send(P.subscribe(pid, [(filt, qos)]))
        for d in list(self._inflight):
            await self._send_publish(d, True)
            self.stats["resent"] += 1
        if self.birth:
            b = self.birth
            # QoS 0 is enough: it is sent again on every connect.
            await self._send(P.publish(b[0], b[1], 0, b[3]))
        self._connected = True
        self.stats["connects"] += 1
        self.last_error = ""
        self._up.set()
        self._slot.set()
        sp, name = self._spawn, self._name
        reader = spawn_task(sp, name + "-reader", lambda: self._read_loop(dead))
        pinger = spawn_task(sp, name + "-pinger", lambda: self._pinger(dead, writer))
        if self.on_connect is not None:
            try:
                self.on_connect(self.session_present)
            except Exception as e:  # a callback bug must not kill the connection
                self._note_error(e)
        try:
            await dead.wait()
        finally:
            reader.cancel()
            pinger.cancel()

    async def _teardown(self):
        self._connected = False
        self._up.clear()
        w = self._writer
        self._writer = None
        self._reader = None
        self._ping_sent = None
        self._tx_since = None
        if self._dead is not None:
            self._dead.set()
        self._dead = None
        self._fail_pending(ConnectionLost("connection lost"))
        self._slot.set()  # submitters waiting for a slot re-check and raise NotConnected
        if w is not None:
            try:
                if IS_MPY:
                    await w.wait_closed()  # closes the socket at once
                else:
                    w.close()
                    try:
                        w.transport.abort()
                    except Exception:
                        pass
            except Exception:
                pass

    # ------------------------------------------------------------ I/O

    def _check_up(self):
        if self._closed:
            raise ClientClosed("client closed")
        if not self._connected:
            raise NotConnected(self.last_error or "not connected")

    def _new_pid(self):
        used = [d.pid for d in self._inflight]
        for _ in range(65536):
            self._pid = self._pid % 65535 + 1
            if self._pid not in self._pending and self._pid not in used:
                return self._pid
        raise MQTTError("no free packet id")

    def _fail_pending(self, err):
        pend = self._pending
        self._pending = {}
        for w in pend.values():
            w.done(error=err)

    async def _send_publish(self, d, dup):
        hdr = P.publish_header(d.topic, len(d.payload), 1, d.retain, dup, d.pid)
        await self._send(hdr, d.payload)

    async def _send(self, *chunks):
        w = self._writer
        if w is None:
            raise ConnectionLost("not connected")
        async with self._wlock:
            if w is not self._writer:
                raise ConnectionLost("connection changed")
            self._tx_since = ticks_ms()
            try:
                if len(chunks) > 1 and sum(len(c) for c in chunks) <= 2048:
                    # one segment: a header and payload sent apart meet Nagle + delayed ACK
                    # (40 ms stalls) and MicroPython sockets cannot set TCP_NODELAY
                    chunks = (b"".join(chunks),)
                for c in chunks:
                    w.write(c)
                await w.drain()
            except Exception as e:  # OSError, and CPython's transport errors
                self.drop_connection("write failed: %s" % e)
                raise ConnectionLost("write failed: %s" % e)
            finally:
                self._tx_since = None
            self._last_tx = ticks_ms()

    async def _read_loop(self, dead):
        try:
            while not dead.is_set():
                ptype, flags, body = await P.read_packet(self._reader, self.max_packet)
                self._last_rx = ticks_ms()
                await self._dispatch(ptype, flags, body)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not dead.is_set():
                self._note_error(e)
                dead.set()

    async def _dispatch(self, ptype, flags, body):
        if ptype == P.PUBACK:
            pid = P.parse_puback(body)
            for i, d in enumerate(self._inflight):
                if d.pid == pid:
                    del self._inflight[i]
                    self.stats["acked"] += 1
                    d.done(True)
                    self._slot.set()
                    break
        elif ptype == P.PUBLISH:
            topic, payload, qos, retain, dup, pid = P.parse_publish(flags, body)
            if qos > 1:
                raise P.MalformedPacket("QoS 2 PUBLISH without a QoS 2 subscription")
            self.stats["received"] += 1
            cb = self.on_message
            if cb is not None:
                try:
                    cb(topic, payload, retain)
                except Exception as e:  # a callback bug must not kill the connection
                    self._note_error(e)
            if qos == 1:
                await self._send(P.puback(pid))
        elif ptype == P.PINGRESP:
            self._ping_sent = None
        elif ptype == P.SUBACK:
            pid, codes = P.parse_suback(body)
            w = self._pending.pop(pid, None)
            if w is not None:
                w.done(codes)
        elif ptype == P.UNSUBACK:
            w = self._pending.pop(P.parse_unsuback(body), None)
            if w is not None:
                w.done(True)
        else:
            raise P.MalformedPacket("unexpected %s from the broker" % P.packet_name(ptype))

    async def _pinger(self, dead, writer):
        ka = self.keepalive * 1000
        if not ka:
            return  # keepalive 0: the broker expects no pings
        half = max(ka // 2, 1000)
        step = min(1000, max(ka // 4, 100))
        while not dead.is_set() and self._writer is writer:
            await sleep_ms(step)
            now = ticks_ms()
            if self._tx_since is not None and ticks_diff(now, self._tx_since) > max(ka, 5000):
                self.drop_connection("write stalled")
                return
            if self._ping_sent is not None:
                if ticks_diff(now, self._ping_sent) > half:
                    self.drop_connection("no PINGRESP from the broker")
                    return
                continue
            if ticks_diff(now, self._last_tx) >= half or ticks_diff(now, self._last_rx) >= half:
                self._ping_sent = now
                self.stats["pings"] += 1
                try:
                    await self._send(P.PINGREQ_PACKET)
                except MQTTError:
                    return
