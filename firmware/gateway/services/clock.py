"""The device clock: NTP through the station, "set from this phone", and GET /api/system "clock".

Off-grid sites often have no internet: the installer sets the clock from the page
(PUT /api/system/time -> Clock.set). When the station is connected the task syncs from
settings["ntp_server"] ("" = off; "host" or "host:port") as soon as the station comes up (or
the server setting changes; at most once per MIN_GAP_S) and every SYNC_S after:

- the name is resolved with socket.getaddrinfo, which blocks the whole loop on the ESP32 (lwIP
  DNS) for up to a few seconds without an answer: one lookup per attempt, and failed attempts
  back off (RETRY_S doubling up to SYNC_S), so a router without internet costs little;
- one request goes out on a non-blocking UDP socket; the reply is polled for with asyncio
  sleeps for at most WAIT_MS;
- the RTC is set only from a reply gateway.core.ntp accepts.

Only the state and the loop stay in the heap: resolving, sending, checking a reply and setting
the clock are in gateway.services.clock_set, loaded for each (synchronous) call.
"""
import asyncio

from gateway.core import ondemand
from gateway.core.ticks import sleep_ms, ticks_add, ticks_diff, ticks_ms, unix_time

SET = "gateway.services.clock_set"
SYNC_S = 6 * 3600
RETRY_S = 120  # after a failed attempt; doubles up to SYNC_S
WAIT_MS = 4000  # for the reply
POLL_MS = 50
CHECK_S = 5  # how often the station and the setting are looked at
MIN_GAP_S = 60  # between attempts started by a (re)connection or a new server


class Clock:
    def __init__(self, dev, set_time=None, now=None):
        self.dev = dev
        self.set_time = set_time  # (seconds, us): None = the RTC (drivers/system.py)
        self.now = now or unix_time
        self.source = "unset"
        self.last_sync = None
        self.error = None  # why the last NTP attempt failed
        self.tried = None  # the server of the last attempt

    def public(self):
        """GET /api/system "clock"."""
        return {"source": self.source, "last_sync": self.last_sync,
                "ntp_server": self.dev.settings.get("ntp_server", ""), "ntp_error": self.error}

    def set(self, seconds, us, source, by):
        """Set the RTC to Unix time ``seconds`` (int) + ``us``; ``source`` "ntp" or "manual",
        ``by`` the server or the user. Returns the correction in seconds."""
        return ondemand.call(SET, "set_clock", self, seconds, us, source, by)

    async def sync(self, server):
        """One NTP attempt; True when the clock was set."""
        self.tried = server
        try:
            s, nonce, t0 = ondemand.call(SET, "send", server)
        except (OSError, ValueError) as e:
            self.error = str(e)
            return False
        err = None
        try:
            while ticks_diff(ticks_ms(), t0) < WAIT_MS:
                try:
                    data = s.recv(128)
                except OSError:  # nothing yet (EAGAIN), or ICMP unreachable: keep waiting
                    await sleep_ms(POLL_MS)
                    continue
                # None once the clock is set; else why this datagram was not used
                err = ondemand.call(SET, "receive", self, server, data, nonce,
                                    ticks_diff(ticks_ms(), t0))
                if err is None:
                    return True
        finally:
            s.close()
        self.error = err or "no answer from " + server
        return False

    async def run(self):
        was_up = False
        due = None  # ticks_ms of the next attempt
        last = None  # ticks_ms of the last attempt
        wait_s = RETRY_S
        while True:
            up = self.dev.radio.sta_connected()
            server = self.dev.settings.get("ntp_server") or ""
            if not server:
                self.error = self.tried = None
            elif up:
                now = ticks_ms()
                if not was_up or server != self.tried:
                    # the station came up or the server changed: now, but a flapping link
                    # does not get more than one attempt (one DNS lookup) per MIN_GAP_S
                    soon = now if last is None else ticks_add(last, MIN_GAP_S * 1000)
                    if due is None or ticks_diff(soon, due) < 0:
                        due = soon
                if due is not None and ticks_diff(now, due) >= 0:
                    last = now
                    if await self.sync(server):
                        due = ticks_add(ticks_ms(), SYNC_S * 1000)
                        wait_s = RETRY_S
                    else:
                        due = ticks_add(ticks_ms(), wait_s * 1000)
                        wait_s = min(wait_s * 2, SYNC_S)
            was_up = up
            await asyncio.sleep(CHECK_S)
