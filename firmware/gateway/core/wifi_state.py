"""Wi-Fi supervision: when the access point (AP) and the station (STA) should be up.

Pure state machine; the Wi-Fi service feeds it once a tick (about once a second) with what the
radio reports and applies the two outputs ``ap_on`` / ``sta_connect``. Time ``now`` is in
seconds (any monotonic clock).

States and outputs (AP = our access point, STA = our connection to the router):

=============  ============================================  ======  ===========
state          meaning                                       ap_on   sta_connect
=============  ============================================  ======  ===========
"ap"           no router configured                          on      off
"connecting"   router configured, not connected since boot   (1)     on
               or since the configuration changed
"sta"          connected and has an IP                       (2)     on
"lost"         was connected, lost the router (keeps         (1)     on
               retrying)
"setup"        button short press: AP forced on for          on      if configured
               ``setup_window_s``
=============  ============================================  ======  ===========

(1) The AP comes on once the STA has been down for ``ap_fallback_s`` - measured from the
    moment it went down, on EVERY loss, not only the first one (ESPHome #19459: its AP never
    came back after the first reconnection). A connection that lasts less than ``stable_s``
    does not restart that clock, so a flapping router cannot keep the AP away either. An AP
    that is already on (the user is on it, e.g. while entering the router's key) stays on.
(2) Once connected, an AP that was on stays on for ``ap_grace_s`` more seconds (the phone on
    the AP sees "connected" and the new IP), then goes off. If the STA drops during the grace
    period the AP simply stays on.

Before the first tick the state is "boot" (both outputs off); the first tick moves to "ap",
"connecting" (AP off until the fallback) or "sta".

Leaving "setup" after the window: back to "sta" (AP off at once), "ap" (nothing configured),
or "connecting"/"lost" where the fallback rule above decides the AP.

``mode()`` gives /api/status "wifi.mode": "ap" | "sta" | "ap+sta" (from the desired outputs).

The validators of the Wi-Fi settings are in gateway.core.wifi_config (loaded on demand).
"""


NO_IP = "0.0.0.0"


def _has_ip(ip):
    return bool(ip) and ip != NO_IP


class WifiSupervisor:
    """The state machine. ``now``: the clock at creation (boot); timings in seconds."""

    def __init__(self, now=0, ap_fallback_s=60, ap_grace_s=60, setup_window_s=600, stable_s=30):
        self.ap_fallback_s = ap_fallback_s
        self.ap_grace_s = ap_grace_s
        self.setup_window_s = setup_window_s
        self.stable_s = stable_s
        self.state = "boot"  # only until the first tick
        self.since = now  # when the current state began
        self.ap_on = False
        self.sta_connect = False
        self.sta_ip = None
        self._down_since = now  # STA has not been (stably) up since then; None while up
        self._up_since = None  # when the current STA connection came up
        self._ap_hold = False  # keep an AP that is already on (user is on it)
        self._ap_off_at = None  # "sta": AP grace deadline
        self._setup_until = None
        self._setup_prev = None  # state to go back to after setup
        self.losses = 0  # times the STA was lost (for status / tests)

    # -- inputs ------------------------------------------------------------------------------

    def request_setup(self, now):
        """Button short press: AP on for setup_window_s (a new press restarts the window)."""
        self._setup_until = now + self.setup_window_s
        if self.state != "setup":
            self._setup_prev = self.state
            self._enter("setup", now)

    def config_changed(self, now):
        """New router credentials were saved: start connecting afresh (AP kept if it is on)."""
        self._ap_hold = self.ap_on
        self._up_since = None
        if self._down_since is None:
            self._down_since = now
        if self.state != "setup":
            self._enter("connecting", now)
        else:
            self._setup_prev = "connecting"

    def tick(self, now, sta_configured, sta_connected, sta_ip=None, user_setup_requested=False):
        """Advance the machine; returns (ap_on, sta_connect). ``sta_ip`` None/"0.0.0.0" while
        DHCP has not finished counts as not connected."""
        up = bool(sta_configured) and bool(sta_connected) and _has_ip(sta_ip)
        self.sta_ip = sta_ip if up else None
        if user_setup_requested:
            self.request_setup(now)

        # STA up/down bookkeeping (independent of the state)
        if up:
            if self._up_since is None:
                self._up_since = now
            if self._down_since is not None and now - self._up_since >= self.stable_s:
                self._down_since = None  # a stable connection: the next loss starts afresh
        else:
            if self._up_since is not None and self.state in ("sta", "setup"):
                self.losses += 1
            self._up_since = None
            if self._down_since is None:
                self._down_since = now

        st = self.state
        if st == "setup":
            if now >= self._setup_until:
                self._setup_until = None
                self._leave_setup(now, sta_configured, up)
            else:
                self.ap_on = True
                self.sta_connect = bool(sta_configured)
                self._ap_hold = True  # AP is on and stays on past the window if not up
                return self.ap_on, self.sta_connect
        elif not sta_configured:
            if st != "ap":
                self._enter("ap", now)
        elif up:
            if st != "sta":
                self._enter_sta(now)
        elif st == "sta":
            self._ap_hold = self.ap_on
            self._enter("lost", now)
        elif st in ("ap", "boot"):
            self._ap_hold = self.ap_on  # configured from our AP: keep it for the user
            self._enter("connecting", now)

        self._outputs(now)
        return self.ap_on, self.sta_connect

    def shift(self, d):
        """The clock was set ``d`` seconds forward (or back): the timers keep their time left."""
        self.since += d
        for name in ("_down_since", "_up_since", "_ap_off_at", "_setup_until"):
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, v + d)

    # -- internals ---------------------------------------------------------------------------

    def _enter(self, state, now):
        self.state = state
        self.since = now

    def _enter_sta(self, now):
        self._ap_off_at = now + self.ap_grace_s if self.ap_on else None
        self._ap_hold = False
        self._enter("sta", now)

    def _leave_setup(self, now, configured, up):
        if not configured:
            self._enter("ap", now)
        elif up:
            self.ap_on = False  # the window was the grace period
            self._ap_off_at = None
            self._ap_hold = False
            self._enter("sta", now)
        else:
            prev = self._setup_prev
            self._enter("lost" if prev in ("sta", "lost") else "connecting", now)

    def _outputs(self, now):
        st = self.state
        if st == "ap":
            self.ap_on, self.sta_connect = True, False
            self._ap_hold = False
        elif st == "sta":
            self.sta_connect = True
            if self._ap_off_at is not None and now >= self._ap_off_at:
                self._ap_off_at = None
            self.ap_on = self._ap_off_at is not None
        else:  # connecting / lost
            self.sta_connect = True
            down = self._down_since if self._down_since is not None else now
            self.ap_on = self._ap_hold or (now - down >= self.ap_fallback_s)
            if self.ap_on:
                self._ap_hold = True

    # -- outputs -----------------------------------------------------------------------------

    def mode(self):
        """/api/status wifi.mode: "ap", "sta" or "ap+sta"."""
        if self.ap_on and self.sta_connect:
            return "ap+sta"
        if self.ap_on:
            return "ap"
        return "sta"

    def status(self, now):
        """Dict for /api/status "wifi" (the service adds ssid, rssi, ...)."""
        d = {"mode": self.mode(), "state": self.state, "ip": self.sta_ip or NO_IP}
        if self.state == "setup" and self._setup_until is not None:
            d["setup_left_s"] = max(0, int(self._setup_until - now))
        return d


def is_dhcp(cfg):
    """True when a validated IP config asks for DHCP."""
    return not cfg or cfg.get("ip", NO_IP) == NO_IP
