"""The SPI flash of an emulated ESP32 board (`dingate emulate --board NAME`, NAME a chip board).

The whole flash is one file in the state dir, spiflash.bin, the size of the board's flash: what
esptool writes through the emulated ROM loader (rom_loader.py, `--download-mode`) and what the
board boots from. Before starting MicroPython the emulator checks it as the chip would: the
second-stage bootloader's image header at the chip's bootloader offset (0x1000 on the ESP32,
0x0 on the ESP32-S3) must carry the board's chip id, the partition table at 0x8000 must parse
(and match its MD5 entry), the app partition must start with an image header for the chip. The
vfs partition (MicroPython >= 1.26 makes it from the end of the app to the end of flash when the
table has none) is mounted as littlefs straight from the file; a romfs partition, where the
table has one, is mapped as the board's /rom.

A state dir without spiflash.bin is a board from the factory: the emulator writes a stand-in
firmware (well-formed headers and the board's partition table, espimage.blank_firmware), the
build's filesystem with a provisioning record, and the ROMFS image on a ROMFS board. Started
again it deploys the current build into the filesystem (as `dingate deploy` would). A board
flashed by esptool is booted as flashed; the emulated network only maps its HTTP port to
--http-port (its /board.json's "http" is set to 127.0.0.1:<port>, port 53 DNS is off, no NTP).
"""
import json
import os

from .. import boards, espimage, fsimage

FLASH_FILE = "spiflash.bin"
CHIP_FILE = "chip.json"  # the chip's own: its MAC (eFuse), kept across flashing
CHIPROM = "chiprom.img"  # the emulated chip's built-in modules (see device_flash.py chip_rom)


class BootError(Exception):
    pass


class ChipFlash:
    def __init__(self, board, state_dir):
        self.board = board
        self.chip = board["chip"]
        self.path = os.path.join(state_dir, FLASH_FILE)
        self.size = boards.flash_size(board)
        self.block = boards.fs_geometry(board)[2]
        self.state_dir = state_dir

    def exists(self):
        return os.path.exists(self.path)

    def mac(self):
        """The chip's MAC address (made once per state dir, like the eFuse of one chip)."""
        path = os.path.join(self.state_dir, CHIP_FILE)
        try:
            with open(path) as f:
                return json.load(f)["mac"]
        except (OSError, ValueError, KeyError):
            mac = "24:0a:c4:" + ":".join("%02x" % b for b in os.urandom(3))
            os.makedirs(self.state_dir, exist_ok=True)
            with open(path, "w") as f:
                json.dump({"mac": mac}, f)
            return mac

    def read(self, offset, size):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def write(self, offset, data):
        with open(self.path, "r+b") as f:
            f.seek(offset)
            f.write(data)

    # --- a factory-fresh board ------------------------------------------------------------------
    def factory(self, files, romfs_image=None):
        """Erased flash, then the stand-in MicroPython, the ROMFS and the filesystem."""
        from .rom_loader import SpiFlash

        if self.exists():
            os.remove(self.path)
        SpiFlash(self.path, self.size)
        table = espimage.board_table(self.board)
        self.write(espimage.bootloader_offset(self.chip), espimage.blank_firmware(self.chip, table))
        lay = espimage.layout(table, self.size)
        if lay["romfs"] and romfs_image is not None:
            self.write(lay["romfs"][0], romfs_image)
        off, size = lay["vfs"]
        self.write(off, fsimage.make_image(files, self.block, size // self.block))

    # --- what the ROM and MicroPython's boot check ------------------------------------------------
    def boot_layout(self):
        """{"vfs": (offset, size), "romfs": (offset, size) or None}, or BootError saying why the
        chip would not boot (as its ROM prints "invalid header" and resets)."""
        boot = espimage.bootloader_offset(self.chip)
        try:
            espimage.check_chip(self.read(boot, 24), self.chip, "the bootloader at 0x%x" % boot)
            table = espimage.parse_table(self.read(espimage.PARTITION_TABLE,
                                                   espimage.PARTITION_TABLE_SIZE))
            if not table:
                raise BootError("no partition table at 0x%x" % espimage.PARTITION_TABLE)
            lay = espimage.layout(table, self.size)
            espimage.check_chip(self.read(lay["app"][0], 24), self.chip,
                                "the app at 0x%x" % lay["app"][0])
        except espimage.ImageError as e:
            raise BootError(str(e))
        return lay

    def open_fs(self, lay):
        off, size = lay["vfs"]
        try:
            return fsimage.open_image(self.read(off, size), self.block, size // self.block)
        except Exception:  # noqa: BLE001 - littlefs says only "corrupt": no filesystem there yet
            return None

    def store_fs(self, lay, fs):
        self.write(lay["vfs"][0], bytes(fs.context.buffer))

    def sync_files(self, lay, files, owned):
        """Deploy ``files`` into the vfs (the build's files; the device's own data stays)."""
        fs = self.open_fs(lay)
        if fs is None:
            off, size = lay["vfs"]
            self.write(off, fsimage.make_image(files, self.block, size // self.block))
            return
        fsimage.sync(fs, files, owned)
        self.store_fs(lay, fs)

    def map_network(self, lay, http_port):
        """The emulated network: the board's web server on 127.0.0.1:<http_port>, no DNS on 53,
        no NTP (no internet), written into the flashed /board.json."""
        fs = self.open_fs(lay)
        raw = fs and fsimage.read_file(fs, "/board.json")
        if not raw:
            return
        board = json.loads(raw)
        board.update({"http": {"host": "127.0.0.1", "port": http_port}, "dns_port": 0,
                      "ntp_server": ""})
        new = json.dumps(board, separators=(",", ":")).encode()
        if new != raw:
            fsimage.write_files(fs, {"/board.json": new})
            self.store_fs(lay, fs)

    def extract_romfs(self, lay, dest):
        """The romfs partition as a file (what the launcher maps and _vfsrom rewrites)."""
        off, size = lay["romfs"]
        with open(dest, "wb") as f:
            f.write(self.read(off, size))

    def store_romfs(self, lay, src):
        """Back into the flash after a run (a `dingate deploy` or firmware update may have
        rewritten the partition)."""
        off, size = lay["romfs"]
        with open(src, "rb") as f:
            data = f.read(size)
        if data != self.read(off, len(data)):
            self.write(off, data)
