"""Test-side RTU port: raw RTU frames over an asyncio stream pair (TCP as ser2net raw or
pymodbus' RTU framer over TCP speak), the port interface of gateway/services/rtu.py. Runs on
CPython and on the MicroPython unix port (MICROPYPATH with host/); the board never loads it."""
import asyncio


class StreamPort:
    """Port over an asyncio (reader, writer) pair carrying raw RTU frames (TCP, a pipe...).

    A pump task moves received bytes into a bounded buffer so ``drain_rx`` can discard them
    without waiting. Create it inside a running event loop; ``close()`` ends it.
    """

    RX_LIMIT = 512

    def __init__(self, reader, writer):
        self._r = reader
        self._w = writer
        self._rx = b""
        self._eof = False
        self._ev = asyncio.Event()
        self._pump_task = asyncio.create_task(self._pump())

    async def _pump(self):
        try:
            while True:
                data = await self._r.read(256)
                if not data:
                    break
                rx = self._rx + data
                if len(rx) > self.RX_LIMIT:
                    rx = rx[-self.RX_LIMIT :]
                self._rx = rx
                self._ev.set()
        except OSError:
            pass
        finally:
            self._eof = True
            self._ev.set()

    def write(self, buf):
        self._w.write(buf)
        if not self.txdone():  # MicroPython keeps what the socket did not take in out_buf
            asyncio.create_task(self._w.drain())

    def txdone(self):
        t = getattr(self._w, "transport", None)
        if t is not None:  # CPython
            return t.get_write_buffer_size() == 0
        return not getattr(self._w, "out_buf", b"")

    def set_de(self, on):
        pass

    def drain_rx(self):
        self._rx = b""

    async def read_some(self, n):
        while not self._rx:
            if self._eof:
                return b""
            self._ev.clear()
            await self._ev.wait()
        out = self._rx[:n]
        self._rx = self._rx[n:]
        return out

    def close(self):
        self._pump_task.cancel()
        try:
            self._w.close()
        except OSError:
            pass


async def open_tcp(host, port):
    """``StreamPort`` connected to a raw-RTU TCP endpoint (ser2net raw, pymodbus RTU-over-TCP)."""
    reader, writer = await asyncio.open_connection(host, port)
    return StreamPort(reader, writer)
