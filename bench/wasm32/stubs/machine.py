"""Names of the ESP32's C module `machine` for the heap probe (bench/heap32.py): nothing runs."""
PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5


class Pin:
    IN, OUT, PULL_UP, PULL_DOWN, IRQ_FALLING, IRQ_RISING = 1, 3, 1, 2, 2, 1


class UART:
    pass


class WDT:
    pass


class RTC:
    pass


def reset():
    pass


def reset_cause():
    return PWRON_RESET


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"
