"""Front-panel pins: the NET/COM/READY LEDs and the PRG button (pin numbers from the board file)."""
from machine import Pin


class Led:
    def __init__(self, pin, active_high=True):
        self._on = 1 if active_high else 0
        self._pin = Pin(pin, Pin.OUT, value=1 - self._on)

    def set(self, on):
        self._pin.value(self._on if on else 1 - self._on)


class Button:
    def __init__(self, pin, active_high=False, pull="up"):
        self._level = 1 if active_high else 0
        self._pin = Pin(pin, Pin.IN, Pin.PULL_UP if pull == "up" else Pin.PULL_DOWN)

    def pressed(self):
        return self._pin.value() == self._level


def from_board(board):
    leds = {n: Led(c["pin"], c.get("active_high", True)) for n, c in board.get("leds", {}).items()}
    b = board.get("buttons", {}).get("prg")
    button = Button(b["pin"], b.get("active_high", False), b.get("pull", "up")) if b else None
    return leds, button
