"""A relay output on a GPIO pin (the only place that touches machine.Pin for relays).

``Relay(pin_no, normally_closed=False, active_high=True)``:
  normally_closed  the wired contact is the relay's NC contact (closed while de-energised);
  active_high      the coil is energised by a high pin level (False for low-active boards).
``on()`` closes the terminals, ``off()`` opens them, ``value`` reads/writes that (True = closed).
The relay starts with its terminals OPEN; with an NO contact that is the de-energised state (the
same as an unpowered board).
"""
from machine import Pin


class Relay:
    def __init__(self, pin_no, normally_closed=False, active_high=True):
        self.normally_closed = bool(normally_closed)
        self.active_high = bool(active_high)
        self._closed = False
        level = self._level(False)
        try:
            self._pin = Pin(pin_no, Pin.OUT, value=level)
        except TypeError:  # a Pin without the value= keyword
            self._pin = Pin(pin_no, Pin.OUT)
        self._pin.value(level)

    def _level(self, closed):
        energise = closed != self.normally_closed
        return 1 if energise == self.active_high else 0

    def on(self):
        self.value = True

    def off(self):
        self.value = False

    @property
    def value(self):
        """True when the terminals are closed."""
        return self._closed

    @value.setter
    def value(self, closed):
        closed = bool(closed)
        self._pin.value(self._level(closed))
        self._closed = closed

    @property
    def energised(self):
        return self._closed != self.normally_closed
