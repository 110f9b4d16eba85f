# dingate's lean ESP32 (WROOM, no PSRAM) image: MicroPython with ROMFS, so the gateway's bytecode
# executes in place from flash instead of filling the ~110 KB heap (docs/decisions/0002, 0007).
# Tier 2 only: tier 1 boards run the stock images from micropython.org.
set(IDF_TARGET esp32)

# no Bluetooth: the gateway does not use it, and its stack costs internal RAM the heap needs
set(MICROPY_PY_BLUETOOTH OFF)

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    ${MICROPY_BOARD_DIR}/sdkconfig.board
)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_HW_BOARD_NAME="dingate lean ESP32 (ROMFS)"
    MICROPY_VFS_ROM=1
)
