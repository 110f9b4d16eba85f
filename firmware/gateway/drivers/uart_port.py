"""The RS485 port over a MicroPython ``machine.UART`` and an optional DE/RE output ``Pin``: the
port interface of services/rtu.py. The UART is pollable, so ``asyncio.StreamReader(uart)`` waits
for input without spinning; create it with ``timeout=0`` and a ``txbuf`` of at least 256 so
``write`` never blocks. (No ``machine`` import here: the UART and pin are given.)"""
import asyncio


class UartPort:
    """Port over a MicroPython ``machine.UART`` (pollable) and an optional DE/RE output ``Pin``."""

    PARITY = {"N": None, "E": 0, "O": 1}

    def __init__(self, uart, de=None):
        self.uart = uart
        self.de = de
        self._reader = asyncio.StreamReader(uart)
        self.set_de(False)

    def write(self, buf):
        self.uart.write(buf)

    def txdone(self):
        return self.uart.txdone()

    def set_de(self, on):
        if self.de is not None:
            self.de.value(1 if on else 0)

    def drain_rx(self):
        for _ in range(8):  # bounded: at most 8 buffer-fulls of noise
            n = self.uart.any()
            if not n:
                return
            self.uart.read(n)

    async def read_some(self, n):
        return await self._reader.read(n)

    def configure(self, baud, parity, stop):
        self.uart.init(baudrate=baud, bits=8, parity=self.PARITY[parity], stop=stop)
