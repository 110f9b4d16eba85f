"""A digital input on a GPIO pin (a contact such as the generator's running feedback)."""
from machine import Pin


class DigitalInput:
    """``active()`` is True while the pin is at its active level (high unless ``active_high``
    is False)."""

    def __init__(self, pin_no, active_high=True):
        self._pin = Pin(pin_no, Pin.IN)
        self._level = 1 if active_high else 0

    def active(self):
        return self._pin.value() == self._level
