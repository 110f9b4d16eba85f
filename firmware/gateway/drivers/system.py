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


def set_time(seconds, us=0):
    """Set the RTC (UTC) to Unix time ``seconds`` (an int) plus ``us`` microseconds.

    machine.RTC().datetime() takes calendar fields, (year, month, day, weekday, hours, minutes,
    seconds, subseconds): they are computed from the Unix time with integer civil-date math
    (gateway.core.tz), so the port's own epoch (time.gmtime(0) may be 2000, see
    gateway.core.ticks.EPOCH_SHIFT) plays no part and no float (single precision on the ESP32)
    is involved; unix_time() reads the new time at once.
    """
    from gateway.core.tz import utc_parts

    y, mo, d, hh, mi, ss, wd, _ = utc_parts(int(seconds))
    machine.RTC().datetime((y, mo, d, wd, hh, mi, ss, int(us)))
