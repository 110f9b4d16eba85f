"""The emulated board's power and reset: a power cycle, the watchdog's reset, the EN and GPIO0
lines a USB bridge drives (--rfc2217-port, usb_bridge.py) and the ROM's download mode
(--download-mode, rom_loader.py). Part of ``runner.Emulator`` (its state: ``proc``, ``hw``,
``chip``, ``layout``, ``stopping``, ``_restart``, ``_held``, ``_release``).
"""
import asyncio
import os
import signal

from . import chipflash


class PowerAndReset:
    """runner.Emulator's power supply, watchdog and reset lines."""

    async def power_cycle(self):
        """Cut power (SIGKILL: nothing is flushed) and power up again."""
        self._restart = 1
        self._signal("kill")

    def _signal(self, how):
        """terminate() or kill() the firmware process if it still runs."""
        try:
            if self.proc is not None and self.proc.returncode is None:
                getattr(self.proc, how)()
        except ProcessLookupError:  # it ended on its own meanwhile
            pass

    def _check_power(self):
        """One look while the firmware runs: stop asked for -> end it; the board's watchdog
        expired -> reset it (as the chip does, nothing flushed)."""
        if self.stopping.is_set():
            self._signal("terminate")
        elif self.hw.watchdog_expired():
            self.say("[emulator] watchdog expired: resetting the device")
            self._restart = 3
            self._signal("kill")

    # --- --rfc2217-port: EN and GPIO0 driven by the bridge's DTR/RTS (usb_bridge.py) -------------
    async def _bridge_start(self):
        from .rom_loader import SpiFlash
        from .usb_bridge import UsbBridge

        if self.chip is None:
            raise SystemExit("--rfc2217-port needs a chip board (--board NAME)")
        mac = bytes.fromhex(self.chip.mac().replace(":", ""))
        bridge = UsbBridge(self, self.board["chip"], SpiFlash(self.chip.path, self.chip.size),
                           self.rfc2217_port, mac, say=self.say)
        try:
            await bridge.start()
        except OSError as e:
            raise SystemExit("rfc2217 port %d: %s" % (self.rfc2217_port, e.strerror))
        self.say("  USB bridge (RFC 2217, DTR/RTS reset): rfc2217://127.0.0.1:%d" % self.rfc2217_port)
        return bridge

    def hold_in_reset(self):
        """EN low: the chip stops (nothing is flushed, as with a power cut)."""
        if not self._held:
            self.say("[emulator] EN low: the %s is held in reset" % self.board["chip"])
        self._held = True
        self._release.clear()
        self._restart = 1
        self._signal("kill")

    def release(self, download):
        """EN high again: GPIO0 low -> the ROM's download mode, else a boot from flash."""
        if download:
            self.say("[emulator] EN released with GPIO0 low: ROM download mode (waiting for esptool)")
            return
        self._release.set()

    async def _held_until_booted(self):
        """Wait for a release from reset, then boot as the ROM would: False when stopping."""
        while True:
            stop = asyncio.ensure_future(self.stopping.wait())
            go = asyncio.ensure_future(self._release.wait())
            await asyncio.wait([stop, go], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            go.cancel()
            if self.stopping.is_set():
                return False
            self._release.clear()
            try:
                self.layout = self.chip.boot_layout()
            except chipflash.BootError as e:
                self.say("[emulator] the %s does not boot this flash: %s" % (self.board["chip"], e))
                continue  # as the chip's ROM: it stays in its boot loop until the next reset
            self.chip.map_network(self.layout, self.http_port)
            if self.layout["romfs"]:
                self.chip.extract_romfs(self.layout, os.path.join(self.state_dir, "romfs.img"))
            self.reset_cause = 1
            self._held = False
            self.say("[emulator] EN released: booting from flash")
            return True

    async def _download_mode(self):
        """The board held in ROM download mode: the serial line speaks the ROM loader."""
        from .rom_loader import DownloadMode, SpiFlash

        if self.chip is None or not self.repl_port:
            raise SystemExit("--download-mode needs a chip board (--board NAME) and --repl-port N")
        os.makedirs(self.state_dir, exist_ok=True)
        mac = bytes.fromhex(self.chip.mac().replace(":", ""))
        rom = DownloadMode(self.board["chip"], SpiFlash(self.chip.path, self.chip.size),
                           self.repl_port, mac=mac, say=self.say)
        try:
            await rom.start()
        except OSError as e:
            raise SystemExit("repl port %d: %s" % (self.repl_port, e.strerror))
        self.say("dingate emulator — board %s (%s) held in ROM download mode (BOOT held at reset)\n"
                 "  USB serial (ROM loader): socket://127.0.0.1:%d  (esptool --port "
                 "socket://127.0.0.1:%d --before no-reset --no-stub ...)\n"
                 "  flash: %s (%s)\nCtrl-C stops it; start it again without --download-mode to "
                 "boot what was flashed." % (self.board["name"], self.board["chip"], self.repl_port,
                                             self.repl_port, self.chip.path,
                                             self.board["flash"]["size"]))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        await self.stopping.wait()
        rom.close()
        self.say("[emulator] stopped")
