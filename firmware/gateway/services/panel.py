"""Front panel task: LED patterns from the gateway's state, PRG button actions."""
from gateway.core import panel
from gateway.core.ticks import sleep_ms, ticks_ms

TICK_MS = 50


class PanelService:
    """``state()`` returns (net, com, ready) states for core.panel; ``on_action(name)`` runs
    "setup", "restart" or "factory_reset" when the button is released after that long."""

    def __init__(self, leds, button, state, on_action):
        self.leds = leds
        self.button = button
        self.state = state
        self.on_action = on_action
        self.resetting = False
        self._btn = panel.Button(ticks_ms())

    def step(self, now):
        if self.button is not None:
            action = self._btn.update(now, self.button.pressed())
            if action:
                self.on_action(action)
        net, com, ready = self.state(now)
        if self.resetting or (self.button is not None and self._btn.pending(now) == "factory_reset"):
            ready = "factory_reset"
        for name, on in panel.leds(net, com, ready, now).items():
            led = self.leds.get(name)
            if led:
                led.set(on)

    async def run(self):
        while True:
            self.step(ticks_ms())
            await sleep_ms(TICK_MS)
