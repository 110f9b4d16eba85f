// dingate's lean ESP32 image (see mpconfigboard.cmake).
#ifndef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME "dingate lean ESP32 (ROMFS)"
#endif
#define MICROPY_HW_MCU_NAME "ESP32"
