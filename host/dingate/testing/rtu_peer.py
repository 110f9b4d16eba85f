"""An outside RS485 line for tests: emulated meters answered by a real pymodbus server.

It runs in its own thread and event loop (as another program would) and speaks raw RTU frames
over TCP (as ser2net's raw mode), so a test can point `dingate emulate --bus tcp://...` at it
and move its clock forward. Frames go through the emulated wire's rules (emulator/bus.py):
an address nobody has stays silent, as on a real line (pymodbus alone would answer it).
"""
import asyncio
import threading

from ..emulator import bus, devices, scenario


class RtuPeer:
    def __init__(self, world):
        """``world``: a scenario dict with "devices" (see emulator/scenario.py)."""
        self.clock = devices.ManualClock()
        self.scenario = scenario.parse_scenario(world)
        self._ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._main, name="rtu-peer", daemon=True)
        self._thread.start()
        if not self._ready.wait(20) or self._error:
            raise RuntimeError("pymodbus peer did not start: %r" % (self._error,))

    def _main(self):
        self.loop = asyncio.new_event_loop()
        try:
            self.backend = self._backend()
            self.loop.run_until_complete(self.backend.start())
            server = self.loop.run_until_complete(
                asyncio.start_server(self._client, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
        except Exception as e:  # reported to the constructor
            self._error = e
        finally:
            self._ready.set()
        self.loop.run_forever()

    def _backend(self):
        return bus.PymodbusBackend.from_scenario(self.scenario, clock=self.clock)

    async def _client(self, reader, writer):
        try:
            while True:
                frame = await reader.read(256)  # the gateway writes each request at once
                if not frame:
                    return
                reply = await self.backend.transact(frame)
                if reply is not None and reply.data:
                    writer.write(reply.data)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    @property
    def url(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _in_loop(self, fn, *args):
        async def run():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def registers(self, address):
        """(input registers, holding registers) of the device at ``address``, as it holds them now."""
        return self._in_loop(lambda: self.backend.device(address).registers())

    def set_soc(self, address, soc):
        """The battery at ``address`` reports ``soc`` % from now on."""
        def apply():
            dev = self.backend.device(address)
            dev.mode, dev.profile, dev.soc = "profile", [(0.0, float(soc))], float(soc)

        self._in_loop(apply)

    def set_silent(self, address, silent=True):
        """The device at ``address`` stops (or starts again) answering."""
        self._in_loop(setattr, self.backend.device(address), "silent", bool(silent))

    def advance(self, seconds):
        """Move the line's simulated time forward (returns once done)."""
        self._in_loop(self.clock.advance, seconds)

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.backend.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
