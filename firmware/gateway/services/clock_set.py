"""Setting the clock and the network half of an NTP attempt (on demand: gateway.services.clock
loads this module for each synchronous call and drops it after).

Setting the clock moves the wall-time deadlines the gateway keeps by the same amount (uptime,
login sessions, the login throttle, the Wi-Fi supervisor): a jump of years after a power loss
must neither log the installer out nor end the setup window. The recorder and the genset
controller notice jumps themselves.
"""
import os
import socket

from gateway.core import ntp

JUMP_S = 2  # an NTP correction larger than this is logged


def set_clock(clock, seconds, us, source, by):
    """See Clock.set."""
    before = clock.now()
    if clock.set_time is None:
        from gateway.drivers.system import set_time

        set_time(seconds, us)
    else:
        clock.set_time(seconds, us)
    moved = clock.now() - before  # what the clock really did (nothing in the emulator)
    jump = round(seconds - before)  # whole seconds: no float (single precision on the ESP32)
    clock.source = source
    clock.last_sync = int(seconds)
    dev = clock.dev
    if moved >= 1 or moved <= -1:
        d = int(moved)
        dev.started += d
        dev.sessions.shift(d)
        dev.throttle.shift(d)
        dev.user_throttle.shift(d)
        dev.wifi.shift(d)
    if source != "ntp":
        dev.event("system", "clock", "clock.page", {"by": by, "jump": jump})
    elif jump > JUMP_S or jump < -JUMP_S:
        dev.event("system", "clock", "clock.ntp", {"server": by, "jump": jump})
    return jump


def send(server):
    """Resolve ``server`` ("host" or "host:port"; blocks on the ESP32 while DNS answers) and
    send one request from a new non-blocking UDP socket: (socket, nonce, ticks_ms at sending).
    OSError(reason) when the name does not resolve or the request cannot go out."""
    from gateway.core.ticks import ticks_ms

    host, _, port = server.partition(":")
    addr = None
    try:
        for ai in socket.getaddrinfo(host, int(port or ntp.PORT)):
            if ai[0] == socket.AF_INET:
                addr = ai[-1]
                break
    except OSError as e:
        raise OSError("cannot resolve %s (%s)" % (host, e))
    if addr is None:
        raise OSError("cannot resolve %s (no IPv4 address)" % host)
    nonce = os.urandom(8)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        t0 = ticks_ms()
        s.sendto(ntp.request(nonce), addr)
    except OSError as e:
        s.close()
        raise OSError("%s: %r" % (server, e))
    return s, nonce, t0


def receive(clock, server, data, nonce, rtt_ms):
    """A datagram on the socket: set the clock when it is the valid reply (None), else the
    reason it was not used (a stray or unusable datagram: the caller keeps waiting)."""
    try:
        secs, us = ntp.parse(data, nonce, rtt_ms)
    except ValueError as e:
        return "%s: %s" % (server, e)
    set_clock(clock, secs, us, "ntp", server)
    clock.error = None
    return None
