"""Chip identity and reset (machine)."""
import machine


def mac_hex():
    return "".join("%02x" % b for b in machine.unique_id())


def reset():
    machine.reset()


def reset_cause():
    return {
        machine.PWRON_RESET: "power-on",
        machine.HARD_RESET: "hard reset",
        machine.WDT_RESET: "watchdog",
        machine.DEEPSLEEP_RESET: "deep sleep",
        machine.SOFT_RESET: "soft reset",
    }.get(machine.reset_cause(), "unknown")
