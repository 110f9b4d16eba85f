"""``os`` as the ESP32 port has it (see _espid.py): uname(), the rest the built-in's."""
import os as _real

from _espid import uname  # noqa: F401


def __getattr__(name):  # looked up on use: no copy of the built-in's names in the heap
    return getattr(_real, name)
