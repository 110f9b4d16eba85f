"""--repl-port: the emulated board's USB serial line (README, "Commands"), bridged to TCP.
Part of ``runner.Emulator`` (its state: ``proc``, ``hw``, ``board``, ``repl_port``).
"""
import asyncio
import json
import os
import signal

from .. import boards

REPL_SOFT_RESET = {5: "friendly", 6: "raw"}  # Ctrl-D soft reset exit codes (emulator/mpy/replboot.py)


class ReplPort:
    """runner.Emulator's USB serial line.

    The device's stdin/stdout are its UART0: replboot.py, in the MicroPython process, speaks the
    REPL on them (friendly, raw, raw-paste) after main.py, as the board does. Here the line is
    bridged to one TCP client at a time (the newest connection wins), like a USB-UART bridge that
    stays open across resets. A Ctrl-C byte becomes SIGINT, which MicroPython raises as
    KeyboardInterrupt in whatever runs (firmware, exec'd code, the REPL waiting for a byte). A soft
    reset ends the process with code 5 (friendly) or 6 (raw REPL) and the next start resumes in
    that mode; a hard reset, a crash or the watchdog boot normally (friendly: main.py runs).
    """

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
