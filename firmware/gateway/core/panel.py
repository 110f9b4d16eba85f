"""Front panel logic: what the NET / COM / READY LEDs show and what the PRG button does.

Pure functions of (state, now_ms); ``now_ms`` is ``ticks_ms()`` (wrap-safe differences via
gateway.core.ticks). The LED driver calls the pattern functions every ~50 ms and sets the pins.

LEDs (Solarman-stick conventions):

- NET   ``net_led(state, now)``: "off" = no router (off), "router" = router connected
        (slow blink), "broker" = MQTT broker connected (steady on).
- COM   ``com_led(state, now)``: "idle" = no bus traffic (off), "traffic" = blink,
        "error" = fast blink; ``com_state`` derives the state from the time of the last good
        and the last failed bus transaction (each shown for ``COM_HOLD_MS``; errors win).
- READY ``ready_led(state, now)``: "off" (booting), "running" = slow blink,
        "factory_reset" = fast blink (while the button is held into the factory-reset range
        and while the reset runs).

Blink timings: slow 1000 ms on / 1000 ms off, traffic 150/150, fast 100/100.

Button rules (``Button``, ``classify``) - the action fires on RELEASE, never while held:

- held <  50 ms                     -> nothing (glitch)
- 50 ms <= held <  2 s              -> "setup"          (Wi-Fi setup window)
- 2 s   <= held <  5 s              -> nothing          (dead zone between two actions)
- 5 s   <= held < 10 s              -> "restart"
- 10 s  <= held <= 30 s             -> "factory_reset"
- held  >  30 s                     -> nothing          (stuck button / something lying on it)
- already pressed at the first sample (held at boot): ignored until it has been seen released,
  so a stuck button can never cause a reset loop.
- the level must be stable for ``DEBOUNCE_MS`` before a press or a release is accepted; the
  held time is measured between the first raw edges of the accepted press and release.
"""

from gateway.core.ticks import ticks_diff

SLOW = (1000, 1000)
TRAFFIC = (150, 150)
FAST = (100, 100)
COM_HOLD_MS = 2000

DEBOUNCE_MS = 50
SETUP_MAX_MS = 2000
RESTART_MS = 5000
FACTORY_MS = 10000
STUCK_MS = 30000


def blink(now_ms, on_ms, off_ms):
    """True during the first ``on_ms`` of every ``on_ms + off_ms`` period."""
    return (now_ms % (on_ms + off_ms)) < on_ms


def net_led(state, now_ms):
    """NET: "off" -> off, "router" -> slow blink, "broker" -> on."""
    if state == "broker":
        return True
    if state == "router":
        return blink(now_ms, SLOW[0], SLOW[1])
    return False


def com_state(now_ms, last_ok_ms=None, last_error_ms=None, hold_ms=COM_HOLD_MS):
    """ "error" if a bus transaction failed within ``hold_ms``, else "traffic" if one succeeded
    within ``hold_ms``, else "idle". Times are ticks_ms values or None (never)."""
    if last_error_ms is not None and 0 <= ticks_diff(now_ms, last_error_ms) < hold_ms:
        return "error"
    if last_ok_ms is not None and 0 <= ticks_diff(now_ms, last_ok_ms) < hold_ms:
        return "traffic"
    return "idle"


def com_led(state, now_ms):
    """COM: "idle" -> off, "traffic" -> blink, "error" -> fast blink."""
    if state == "error":
        return blink(now_ms, FAST[0], FAST[1])
    if state == "traffic":
        return blink(now_ms, TRAFFIC[0], TRAFFIC[1])
    return False


def ready_led(state, now_ms):
    """READY: "running" -> slow blink, "factory_reset" -> fast blink, anything else -> off."""
    if state == "factory_reset":
        return blink(now_ms, FAST[0], FAST[1])
    if state == "running":
        return blink(now_ms, SLOW[0], SLOW[1])
    return False


def leds(net, com, ready, now_ms):
    """All three LEDs at once: {"net": bool, "com": bool, "ready": bool}."""
    return {
        "net": net_led(net, now_ms),
        "com": com_led(com, now_ms),
        "ready": ready_led(ready, now_ms),
    }


def classify(held_ms):
    """Action for a press held ``held_ms`` milliseconds (see the module rules), or None."""
    if held_ms < DEBOUNCE_MS:
        return None
    if held_ms < SETUP_MAX_MS:
        return "setup"
    if held_ms < RESTART_MS:
        return None
    if held_ms < FACTORY_MS:
        return "restart"
    if held_ms <= STUCK_MS:
        return "factory_reset"
    return None


def classify_press(press_ms, release_ms):
    """classify() from the ticks_ms of the press and of the release."""
    return classify(ticks_diff(release_ms, press_ms))


class Button:
    """Debounced PRG button. Call ``update(now_ms, pressed)`` every 10-50 ms; it returns the
    action ("setup" | "restart" | "factory_reset") on the update that accepts a release, else
    None. ``pending(now_ms)`` tells what releasing now would do (LED feedback)."""

    def __init__(self, now_ms=0, debounce_ms=DEBOUNCE_MS):
        self.debounce_ms = debounce_ms
        self.pressed = False  # debounced level
        self.armed = False  # becomes True once the button has been seen released
        self.stuck = False  # held beyond STUCK_MS (status/diagnostics)
        self._raw = None
        self._raw_since = now_ms
        self._press_at = None
        self._first = True

    def update(self, now_ms, pressed):
        pressed = bool(pressed)
        if self._first:
            self._first = False
            self._raw = pressed
            self._raw_since = now_ms
            self.pressed = pressed
            self.armed = not pressed  # held at boot: ignore until released
            return None
        action = None
        # a raw level that has lasted debounce_ms is accepted - also when the next edge is the
        # first call after it (edge-driven callers)
        if self._raw != self.pressed and ticks_diff(now_ms, self._raw_since) >= self.debounce_ms:
            action = self._commit()
        if pressed != self._raw:
            self._raw = pressed
            self._raw_since = now_ms
        elif self._raw != self.pressed and ticks_diff(now_ms, self._raw_since) >= self.debounce_ms:
            action = self._commit()
        if self.pressed and self._press_at is not None:
            self.stuck = ticks_diff(now_ms, self._press_at) > STUCK_MS
        return action

    def _commit(self):
        """Accept the raw level (which began at _raw_since); returns the action of a release."""
        self.pressed = self._raw
        if self.pressed:
            self._press_at = self._raw_since if self.armed else None
            self.stuck = False
            return None
        start = self._press_at
        self._press_at = None
        if not self.armed:
            self.armed = True  # the button held at boot has been let go: live from now on
            return None
        if start is None:
            return None
        return classify(ticks_diff(self._raw_since, start))

    def held_ms(self, now_ms):
        """How long the current (armed) press has lasted, or 0."""
        if not self.pressed or self._press_at is None:
            return 0
        return ticks_diff(now_ms, self._press_at)

    def pending(self, now_ms):
        """The action a release now would trigger (None when not pressed / not armed)."""
        if not self.pressed or self._press_at is None:
            return None
        return classify(self.held_ms(now_ms))
