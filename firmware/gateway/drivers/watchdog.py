"""Hardware watchdog: reset the chip if the asyncio loop stops turning."""
import machine


class Watchdog:
    def __init__(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms) if timeout_ms else None

    def feed(self):
        if self._wdt:
            self._wdt.feed()
