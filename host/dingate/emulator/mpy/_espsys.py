"""``sys`` as the ESP32 port has it (see _espid.py): platform "esp32", the rest the built-in's."""
import sys as _real

platform = "esp32"


def __getattr__(name):  # looked up on use: no copy of the built-in's names in the heap
    return getattr(_real, name)
