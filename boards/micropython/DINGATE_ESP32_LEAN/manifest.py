# dingate lean ESP32 image: what is frozen into the firmware.
#
# The port's usual modules (_boot.py with the vfs/ROMFS mounts, asyncio, network helpers).
include("$(PORT_DIR)/boards/manifest.py")

# The gateway itself is not frozen but ROMFS-packed: `dingate build --board esp32-devkitc-max485`
# writes build/esp32-devkitc-max485/romfs.img (its /lib as bytecode executed in place from the
# romfs partition) and `dingate flash` writes it at 0x200000. Frozen code would sit before /rom
# on sys.path and could not be replaced by a firmware update from the page; ROMFS can.
# microdot, the web framework, is frozen: it changes only with its PyPI release.
freeze("$(BOARD_DIR)/../../../build/esp32-devkitc-max485/fs/lib", "microdot")
