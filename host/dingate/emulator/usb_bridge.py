"""The emulated board's USB-UART bridge with its DTR/RTS lines, over RFC 2217 (telnet COM port).

`dingate emulate --board NAME --rfc2217-port N`: esptool's automatic reset works as on a
DevKitC, `esptool --port rfc2217://127.0.0.1:N --no-stub ...` with its default
`--before default-reset --after hard-reset`. The lines drive the board's auto-reset circuit (two
transistors, as on Espressif's DevKitC schematics): EN is low while RTS is asserted and DTR is
not, GPIO0 is low while DTR is asserted and RTS is not. EN rises through an RC delay, and the
classic reset passes from "RTS only" (EN low) through "both" to "DTR only" (GPIO0 low): on a board
the RC delay makes GPIO0 low when the ROM samples it. Over TCP each line change takes a round trip,
so the moment EN is released into "both", the ROM's sample is the next state within SETTLE_S:
"DTR only" -> the ROM's download mode, the serial data goes to the ROM loader (rom_loader.py);
anything else (or nothing) -> the board boots from its flash.

pyserial's PortManager speaks the RFC 2217 side; the serial port it drives is ``Lines`` below.
While the board runs its firmware this port carries no console (use --repl-port for the REPL).
"""
import asyncio
import socket

from serial.rfc2217 import PortManager

from .rom_loader import RomLoader, serve_serial

SETTLE_S = 0.3  # how long "both lines asserted" may last before the chip boots normally


class Lines:
    """The bridge chip as PortManager sees it: line settings and the DTR/RTS outputs."""

    def __init__(self, changed):
        self._changed = changed
        self._dtr = self._rts = False
        self.baudrate, self.bytesize, self.parity, self.stopbits = 115200, 8, "N", 1
        self.xonxoff = self.rtscts = self.break_condition = False
        self.cts = self.dsr = self.ri = self.cd = False

    @property
    def dtr(self):
        return self._dtr

    @dtr.setter
    def dtr(self, level):
        self._dtr = bool(level)
        self._changed(self._dtr, self._rts)

    @property
    def rts(self):
        return self._rts

    @rts.setter
    def rts(self, level):
        self._rts = bool(level)
        self._changed(self._dtr, self._rts)

    def reset_input_buffer(self):
        pass

    def reset_output_buffer(self):
        pass


class _Connection:
    def __init__(self, writer):
        self.writer = writer

    def write(self, data):
        self.writer.write(data)


class UsbBridge:
    """``board`` gets hold_in_reset() and release(download) calls; ``flash`` is its SpiFlash."""

    def __init__(self, board, chip, flash, port, mac, say=print):
        self.board, self.chip, self.flash, self.port, self.mac, self.say = board, chip, flash, port, mac, say
        self.server = None
        self.in_reset = False
        self.settling = None  # EN released into "both asserted": the ROM's sample still to come
        self.download = False

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    def close(self):
        if self.server is not None:
            self.server.close()

    def _lines(self, dtr, rts):
        en_low = rts and not dtr
        io0_low = dtr and not rts
        if en_low:
            if not self.in_reset:
                self.in_reset = True
                self.download = False
                self._settled()
                self.board.hold_in_reset()
        elif self.in_reset:
            self.in_reset = False
            if dtr and rts:  # both: EN still rising; GPIO0 decides with the next change
                self.settling = asyncio.get_running_loop().call_later(
                    SETTLE_S, self._out_of_reset, False)
            else:
                self._out_of_reset(io0_low)
        elif self.settling is not None:
            self._out_of_reset(io0_low)

    def _settled(self):
        if self.settling is not None:
            self.settling.cancel()
            self.settling = None

    def _out_of_reset(self, io0_low):
        self._settled()
        self.download = io0_low
        self.board.release(download=io0_low)

    async def _serve(self, reader, writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:  # one small answer per request: Nagle would hold each back ~40 ms
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        manager = PortManager(Lines(self._lines), _Connection(writer))
        rom = RomLoader(self.chip, self.flash, mac=self.mac, say=self.say)

        def answer(data):
            payload = b"".join(manager.filter(data))
            if not self.download:
                return ()  # the firmware's console is on --repl-port, not here
            return [b"".join(manager.escape(out)) for out in rom.feed(payload)]

        await serve_serial(reader, writer, answer)
