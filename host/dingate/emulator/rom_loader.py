"""The emulated chip's ROM serial bootloader (download mode), as esptool talks to it.

`dingate emulate --download-mode --repl-port N` holds the board in download mode (BOOT held at
reset): the USB serial line (TCP port N) speaks the ROM loader's protocol instead of the REPL,
so the real esptool (`--before no-reset --no-stub`) and `dingate flash --port socket://...` can
write the board's SPI flash, one file in the state dir (``spiflash.bin``, the size of the
board's flash, erased bytes 0xFF). What is answered, as Espressif's serial protocol describes
the ROM (and esptool's loader expects it):

- frames are SLIP (0xC0 ends, 0xDB 0xDC / 0xDB 0xDD escape); a request is direction 0, command,
  size, checksum, data; a response is direction 1, command, size, a 32-bit value, data, then the
  ROM's four status bytes (0 0 = success, 1 <error> = failure);
- SYNC (0x08) answers eight times; READ_REG (0x0A) returns the chip-detect magic value, the MAC
  eFuses and the SPI peripheral's registers; WRITE_REG (0x09) sets them, and writing the SPI
  command register runs the flash command (RDID 0x9F, SFDP 0x5A) into W0, as esptool's
  run_spiflash_command expects;
- GET_SECURITY_INFO (0x14): the chip id on the ESP32-S3; the ESP32's ROM does not have it;
- SPI_ATTACH (0x0D), SPI_SET_PARAMS (0x0B), CHANGE_BAUDRATE (0x0F): acknowledged;
- FLASH_BEGIN (0x02) erases the region (4 KiB sectors), FLASH_DATA (0x03) checks the data's
  checksum (0xEF xor-ed with every byte) and sequence number and writes it, FLASH_END (0x04);
- SPI_FLASH_MD5 (0x13) returns the region's MD5 as 32 hex digits (the ROM's form);
- READ_FLASH_SLOW (0x0E, the ESP32's ROM only): 64 bytes of flash per request.
Anything else (the stub's commands: ERASE_FLASH, READ_FLASH, compressed writes, loading code to
RAM) gets the ROM's "invalid command" status: esptool must run with --no-stub.
"""
import asyncio
import hashlib
import os
import struct

SECTOR = 4096
ERR_INVALID, ERR_BAD_DATA_CHECKSUM, ERR_BAD_DATA_LEN, ERR_FAILED = 0x05, 0x07, 0xC0, 0xC1

# per chip: detect-magic value (read at 0x40001000), GET_SECURITY_INFO chip id (None: the ROM
# lacks the command), the SPI1 register block (base, USR2 offset, W0 offset), MAC eFuse words
CHIPS = {
    "esp32": {"magic": 0x00F01D83, "security_chip_id": None,
              "spi": (0x3FF42000, 0x24, 0x80), "mac_regs": (0x3FF5A004, 0x3FF5A008),
              # UART0's clock divider at 115200 baud from a 40 MHz crystal (the ROM's autobaud)
              "regs": {0x3FF40014: 40000000 // 115200}, "read_slow": True},
    "esp32s3": {"magic": 0x00000009, "security_chip_id": 9,
                "spi": (0x60002000, 0x20, 0x58), "mac_regs": (0x60007044, 0x60007048)},
}
MAGIC_REG = 0x40001000
SPI_CMD_USR = 1 << 18
JEDEC = {4: 0x1640EF, 8: 0x1740EF, 16: 0x1840EF}  # Winbond W25Q32/64/128: 0xEF, 0x40, size code
SFDP_SIGNATURE = 0x50444653


def slip_frames(buf):
    """Split ``buf`` (bytearray) into decoded SLIP frames; what is left stays in ``buf``."""
    frames = []
    while True:
        start = buf.find(b"\xc0")
        if start < 0:
            del buf[:]
            return frames
        end = buf.find(b"\xc0", start + 1)
        if end < 0:
            del buf[:start]
            return frames
        raw = bytes(buf[start + 1:end])
        del buf[:end]  # the closing 0xC0 may open the next frame
        if raw:
            frames.append(raw.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb"))


def slip(data):
    return b"\xc0" + data.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class SpiFlash:
    """The board's SPI flash chip: one file, erased bytes 0xFF."""

    def __init__(self, path, size):
        self.path = path
        self.size = size
        if not os.path.exists(path) or os.path.getsize(path) != size:
            with open(path, "wb") as f:
                for _ in range(size // (1 << 20)):
                    f.write(b"\xff" * (1 << 20))

    def erase(self, offset, length):
        start = offset // SECTOR * SECTOR
        end = min(self.size, -(-(offset + length) // SECTOR) * SECTOR)
        with open(self.path, "r+b") as f:
            f.seek(start)
            f.write(b"\xff" * (end - start))

    def write(self, offset, data):
        if offset + len(data) > self.size:
            raise ValueError("beyond the end of flash")
        with open(self.path, "r+b") as f:
            f.seek(offset)
            f.write(data)

    def read(self, offset, length):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)


class RomLoader:
    """One serial session's view of the ROM loader (the flash and registers outlive it)."""

    def __init__(self, chip, flash, mac=b"\x24\x0a\xc4\x00\x00\x01", say=print):
        self.chip = CHIPS[chip]
        self.flash = flash
        self.say = say
        base, usr2, w0 = self.chip["spi"]
        self.spi_cmd, self.spi_usr2, self.spi_w0 = base, base + usr2, base + w0
        self.regs = {MAGIC_REG: self.chip["magic"]}
        self.regs.update(self.chip.get("regs", {}))
        lo, hi = self.chip["mac_regs"]
        self.regs[lo] = struct.unpack(">I", mac[2:6])[0]
        self.regs[hi] = struct.unpack(">H", mac[0:2])[0]
        self.write = None  # (offset, block size, blocks, next sequence) of a FLASH_BEGIN
        self.written = 0
        self._buf = bytearray()  # serial bytes not yet a whole SLIP frame

    def feed(self, data):
        """Serial bytes in -> the response frames of every request they complete."""
        self._buf += data
        return [out for frame in slip_frames(self._buf) for out in self.handle(frame)]

    # --- one request -> the response frames ------------------------------------------------------
    def handle(self, frame):
        if len(frame) < 8 or frame[0] != 0:
            return []
        op, size, chk = struct.unpack_from("<BHI", frame, 1)
        data = frame[8:8 + size]
        if op == 0x08:  # SYNC
            return [self._resp(op, b"", val=0x20120707) for _ in range(8)]
        method = getattr(self, "_op_%02x" % op, None)
        if method is None:
            return [self._resp(op, b"", status=(1, ERR_INVALID))]
        try:
            val, out = method(data, chk)
        except RomError as e:
            return [self._resp(op, b"", status=(1, e.code))]
        return [self._resp(op, out, val=val)]

    @staticmethod
    def _resp(op, data, val=0, status=(0, 0)):
        body = data + bytes(status) + b"\0\0"
        return slip(struct.pack("<BBHI", 1, op, len(body), val) + body)

    def _op_0a(self, data, chk):  # READ_REG
        (addr,) = struct.unpack_from("<I", data)
        if addr == self.spi_cmd:
            return 0, b""  # the SPI command is always done
        return self.regs.get(addr, 0), b""

    def _op_09(self, data, chk):  # WRITE_REG addr, value, mask, delay
        addr, value, mask, _delay = struct.unpack_from("<IIII", data)
        old = self.regs.get(addr, 0)
        self.regs[addr] = (old & ~mask) | (value & mask) if mask != 0xFFFFFFFF else value
        if addr == self.spi_cmd and value & SPI_CMD_USR:
            self._spi_command(self.regs.get(self.spi_usr2, 0) & 0xFF)
        return 0, b""

    def _spi_command(self, command):
        w0 = 0
        if command == 0x9F:  # read JEDEC id
            w0 = JEDEC.get(self.flash.size >> 20, 0x1840EF)
        elif command == 0x5A:  # read SFDP (the signature is its first word)
            w0 = SFDP_SIGNATURE
        self.regs[self.spi_w0] = w0

    def _op_14(self, data, chk):  # GET_SECURITY_INFO
        if self.chip["security_chip_id"] is None:
            raise RomError(ERR_INVALID)
        return 0, struct.pack("<IB7sII", 0, 0, b"\0" * 7, self.chip["security_chip_id"], 0)

    def _ok(self, data, chk):
        return 0, b""

    _op_0d = _op_0b = _op_0f = _ok  # SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE

    def _op_02(self, data, chk):  # FLASH_BEGIN erase size, blocks, block size, offset[, encrypted]
        erase, blocks, block, offset = struct.unpack_from("<IIII", data)
        if offset + erase > self.flash.size:
            raise RomError(ERR_FAILED)
        self.flash.erase(offset, erase)
        self.write = [offset, block, blocks, 0]
        return 0, b""

    def _op_03(self, data, chk):  # FLASH_DATA size, seq, 0, 0, data
        if self.write is None:
            raise RomError(ERR_FAILED)
        size, seq = struct.unpack_from("<II", data)
        payload = data[16:16 + size]
        if len(payload) != size:
            raise RomError(ERR_BAD_DATA_LEN)
        x = 0xEF
        for b in payload:
            x ^= b
        if x != chk:
            raise RomError(ERR_BAD_DATA_CHECKSUM)
        offset, block, blocks, want = self.write
        if seq != want or seq >= blocks:
            raise RomError(ERR_FAILED)
        self.flash.write(offset + seq * block, payload)
        self.write[3] += 1
        self.written += size
        return 0, b""

    def _op_04(self, data, chk):  # FLASH_END
        if self.write is not None:
            self.say("[rom] wrote 0x%x bytes at 0x%x" % (self.write[3] * self.write[1], self.write[0]))
        self.write = None
        return 0, b""

    def _op_0e(self, data, chk):  # READ_FLASH_SLOW addr, size (<= 64): the ESP32's ROM only
        addr, size = struct.unpack_from("<II", data)
        if not self.chip.get("read_slow"):
            raise RomError(ERR_INVALID)
        if size > 64 or addr + size > self.flash.size:
            raise RomError(ERR_FAILED)
        return 0, self.flash.read(addr, size).ljust(64, b"\xff")

    def _op_13(self, data, chk):  # SPI_FLASH_MD5 addr, size
        addr, size = struct.unpack_from("<II", data)
        if addr + size > self.flash.size:
            raise RomError(ERR_FAILED)
        md5 = hashlib.md5()
        done = 0
        while done < size:
            n = min(1 << 20, size - done)
            md5.update(self.flash.read(addr + done, n))
            done += n
        return 0, md5.hexdigest().encode()


class RomError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


async def serve_serial(reader, writer, answer):
    """One TCP connection standing for a serial line: every chunk read goes to ``answer(data)``,
    whose byte strings are written back, until the peer closes."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            for out in answer(data):
                writer.write(out)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class DownloadMode:
    """The TCP endpoint of the USB serial line while the board sits in download mode."""

    def __init__(self, chip, flash, port, mac=None, say=print):
        self.chip, self.flash, self.port, self.mac, self.say = chip, flash, port, mac, say
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader, writer):
        rom = RomLoader(self.chip, self.flash, **({"mac": self.mac} if self.mac else {}),
                        say=self.say)
        await serve_serial(reader, writer, rom.feed)

    def close(self):
        if self.server is not None:
            self.server.close()
