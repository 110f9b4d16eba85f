"""`dingate emulate`: the real firmware under the MicroPython unix port, with emulated hardware.

One CPython asyncio process holds the emulated world (RS485 line and its devices, radio, pins,
panel) and supervises the MicroPython process that runs the firmware from its flash image.
"""
import asyncio
import json
import os
import signal
import socket
import sys

from .. import boards
from ..paths import EMULATOR_MPY, MissingTool, micropython
from . import chipflash
from .device_flash import DeviceFlash
from .hardware import HardwareServer, Wifi
from .power import PowerAndReset
from .repl_port import REPL_SOFT_RESET, ReplPort

RESET_EXIT = 3  # machine.reset() in the emulated firmware


def _die_with_parent():
    """In the child: get SIGKILL when the emulator dies, as a board loses power with its supply."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "micropython_rom.py")


class Emulator(DeviceFlash, PowerAndReset, ReplPort):
    """One emulated board: the world around it and the MicroPython process running its firmware.
    Its flash (device_flash.py), power and reset lines (power.py) and USB serial REPL
    (repl_port.py) are parts of their own."""

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
            self._check_power()
        await self.proc.wait()
        await pump
        if self.chip is not None and self.layout["romfs"]:
            self.chip.store_romfs(self.layout, os.path.join(self.state_dir, "romfs.img"))
        return self.proc.returncode

    async def run(self):
        if self.download_mode:
            return await self._download_mode()
        # before the flash is prepared: a run that ends here must not leave a device behind
        # whose first real boot would no longer be "new" (the demo's setup would be skipped)
        _check_free(self.control_port, "control port", "--control-port, make run CONTROL_PORT=...")
        _check_free(self.http_port, "HTTP port", "--http-port, make run HTTP_PORT=...")
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
            raise SystemExit("control port %d: %s (choose another: --control-port, make run "
                             "CONTROL_PORT=...)" % (self.control_port, e.strerror))
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

    def banner(self):
        lab = self.label
        lines = [
            "dingate emulator — board %s: the firmware runs under MicroPython %s (heap %s, code "
            "from %s)" % (self.board["name"], micropython(required=True), boards.heapsize_arg(self.board),
                          "ROMFS" if not self.layout or self.layout["romfs"] else "the filesystem"),
            "  web page and API : http://127.0.0.1:%d" % self.http_port,
            "  hardware panel   : http://127.0.0.1:%d" % self.control_port,
            "  Wi-Fi AP         : SSID %s  password %s" % (
                lab["ap_ssid"], lab["ap_password"] or "(not provisioned: printed on the console)"),
            "  admin login      : user %s  password %s" % (lab["admin_user"], (
                "the one chosen at first login (the label's was %s)" % lab["admin_password"]
                if self.admin_chose else
                (lab["admin_password"] or "(not provisioned: printed on the console)") + (
                    "  (generated; change it at first login)" if lab["generated_admin_password"] else ""))),
            "  state (flash)    : %s" % self.state_dir,
            "  RS485 bus        : %s" % (self.bus_url or "emulated devices of the scenario"),
            "Ctrl-C stops it.",
        ]
        self.say("\n".join(lines))


def _check_free(port, what, how):
    """Exit with a clear message when another program listens on ``port`` (127.0.0.1);
    ``how``: the ways to choose another."""
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        s.bind(("127.0.0.1", port))
    except OSError as e:
        raise SystemExit("%s %d: %s (another `dingate emulate` or `make run`? stop it, or choose "
                         "another port: %s)" % (what, port, e.strerror, how))
    finally:
        s.close()


def run(**kwargs):
    emu = Emulator(**kwargs)
    try:
        asyncio.run(emu.run())
    except KeyboardInterrupt:
        pass
    except MissingTool as e:
        raise SystemExit(str(e))
    return 0
