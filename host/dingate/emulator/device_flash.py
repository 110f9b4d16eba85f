"""The emulated board's flash at power-up: a new device flashed and provisioned as at the
factory, or the current build deployed onto an existing one; a chip board's whole SPI flash
booted as its ROM would (chipflash.py); the chip's built-in modules as a ROM image of their own.
Part of ``runner.Emulator`` (its state: ``board``, ``state_dir``, ``chip``, ``layout``, ``label``).
"""
import json
import os

from gateway.core import passwords

from .. import boards, build, fsimage, fwkey
from ..paths import EMULATOR_MPY
from . import chipflash

FAKES = ("_emu.py", "machine.py", "network.py", "replboot.py", "_repl.py", "_resets.py",
         "_vfsrom.py", "_espid.py", "_espsys.py", "_espos.py")  # the chip's ROM
OWNED = ("/lib/", "/www/", "/boot.py", "/main.py", "/board.json", "/manifest.json")
USERS = "/data/cfg/users.json"  # gateway.services.store: {"v", "gen", "data": {user: record}}


def admin_chose(fs, user):
    """Has ``user`` set a password of its own (no change asked any more) on this flash?"""
    try:
        rec = json.loads(fsimage.read_file(fs, USERS) or b"null")["data"][user]
    except (ValueError, TypeError, KeyError):
        return False
    return isinstance(rec, dict) and rec.get("must_change") is False


class DeviceFlash:
    """runner.Emulator's flash: prepared before each power-up of the emulator."""

    def _geometry(self):
        _off, _size, block, count = boards.fs_geometry(self.board)
        return block, count

    def prepare_flash(self):
        """New state dir: a flashed, provisioned device. Existing one: the current build deployed.
        Returns True for a new device."""
        os.makedirs(self.state_dir, exist_ok=True)
        self.admin_chose = False  # set below for a device seen before
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
            # the label's generated password was replaced at first login: the banner says so
            self.admin_chose = bool(self.label.get("generated_admin_password")) and admin_chose(
                fs, self.label.get("admin_user", "admin"))
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
