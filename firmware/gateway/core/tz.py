"""Time zones without zoneinfo: POSIX TZ rule strings and a small table of names users pick.

Everything works on Unix epoch seconds (UTC) with pure integer civil-date math, so CPython and
MicroPython (whose time.gmtime/mktime differ between ports and epochs) give the same answers.

    z = tz.get("Europe/Paris")        # or "UTC", "UTC+02:00", "CET-1CEST,M3.5.0,M10.5.0/3"
    z.offset(t)                       # seconds east of UTC in force at UTC instant t
    z.parts(t)                        # local (year, month, day, hour, minute, second, wday, yday)
    z.start_of_day(t), z.start_of_month(t), z.next_day(t), z.next_month(t)   # UTC epochs
    z.from_local(2025, 3, 30, 2, 30)  # local wall time -> UTC epoch (gap/overlap resolved)

wday: Monday = 0 .. Sunday = 6 (as time.gmtime); yday: 1..366.

The names table and the POSIX rule parser are in gateway.core.tzrules, loaded on demand when a
Zone is created (zones are cached). offset() and the day boundaries allocate nothing per call
once the year's transitions are known.
"""

from gateway.core import ondemand

DEFAULT = "Europe/Paris"

_cache = {}


# ---- civil calendar on day numbers (days since 1970-01-01), proleptic Gregorian -------------


def days_from_civil(y, m, d):
    """Day number of the date y-m-d (1970-01-01 is 0)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(n):
    """(year, month, day) of day number n."""
    n += 719468
    era = n // 146097
    doe = n - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400
    if m <= 2:
        y += 1
    return y, m, d


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, m):
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def weekday(n):
    """Weekday of day number n, Monday = 0 (1970-01-01 was a Thursday)."""
    return (n + 3) % 7


def utc_parts(t):
    """(year, month, day, hour, minute, second, wday, yday) of epoch seconds t, in UTC."""
    n = t // 86400
    s = t - n * 86400
    y, m, d = civil_from_days(n)
    yday = n - days_from_civil(y, 1, 1) + 1
    return (y, m, d, s // 3600, (s // 60) % 60, s % 60, weekday(n), yday)


def epoch(y, m, d, hh=0, mm=0, ss=0):
    """UTC epoch seconds of a UTC wall time."""
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss


def _rule_day(r, y):
    """Day number (since 1970) on which rule r falls in year y."""
    kind = r[0]
    if kind == "M":
        m, w, d = r[1], r[2], r[3]
        first = days_from_civil(y, m, 1)
        # POSIX d: 0 = Sunday; our weekday(): 0 = Monday.
        wd_first = (weekday(first) + 1) % 7
        day = first + (d - wd_first) % 7 + (w - 1) * 7
        last = first + days_in_month(y, m) - 1
        while day > last:
            day -= 7
        return day
    if kind == "J":  # 1..365, February 29 never counted
        n = r[1]
        day = days_from_civil(y, 1, 1) + n - 1
        if is_leap(y) and n >= 60:
            day += 1
        return day
    return days_from_civil(y, 1, 1) + r[1]  # "N": 0..365, leap day counted


class Zone:
    """A time zone from a POSIX TZ string (or a name: see tzrules); offsets are seconds east
    of UTC. ValidationError("timezone") if it does not parse."""

    def __init__(self, name, posix=None):
        self.name = name
        f = ondemand.call("gateway.core.tzrules", "compile", name, posix)
        self.posix, self.std_name, self.std, self.dst_name, self.dst, self.rules = f
        self._year = None
        self._tr = None
        self._lo = self._hi = 0  # UTC span of the (standard time) year of _tr

    def __repr__(self):
        return "Zone(%r, %r)" % (self.name, self.posix)

    def transitions(self, y):
        """(dst_start_utc, dst_end_utc) of year y, or None for a zone without DST."""
        if self.rules is None:
            return None
        if self._year != y:
            start, end = self.rules
            # the start time is given in standard local time, the end time in DST local time
            s = _rule_day(start, y) * 86400 + start[4] - self.std
            e = _rule_day(end, y) * 86400 + end[4] - self.dst
            self._year = y
            self._tr = (s, e)
            self._lo = days_from_civil(y, 1, 1) * 86400 - self.std
            self._hi = days_from_civil(y + 1, 1, 1) * 86400 - self.std
        return self._tr

    def is_dst(self, t):
        if self.rules is None:
            return False
        if not self._lo <= t < self._hi:
            self.transitions(civil_from_days((t + self.std) // 86400)[0])
        s, e = self._tr
        if s < e:
            return s <= t < e
        return not (e <= t < s)  # southern hemisphere: DST spans the new year

    def offset(self, t):
        """Seconds east of UTC in force at UTC instant t."""
        return self.dst if self.is_dst(t) else self.std

    def to_local(self, t):
        """Local wall-clock seconds (epoch-like) of UTC instant t."""
        return t + self.offset(t)

    def parts(self, t):
        """Local (year, month, day, hour, minute, second, wday, yday) of UTC instant t."""
        return utc_parts(self.to_local(t))

    def date(self, t):
        """Local (year, month, day) of UTC instant t."""
        return civil_from_days(self.to_local(t) // 86400)

    def from_local_seconds(self, lt):
        """UTC instant of local wall time lt (seconds). Ambiguous (autumn) -> the earlier
        instant; non-existent (spring gap) -> shifted forward by the gap."""
        best = None
        t = lt - self.std
        if self.to_local(t) == lt:
            best = t
        if self.dst is not None:
            t = lt - self.dst
            if self.to_local(t) == lt and (best is None or t < best):
                best = t
        return lt - self.std if best is None else best

    def from_local(self, y, m, d, hh=0, mm=0, ss=0):
        """UTC instant of local wall time y-m-d hh:mm:ss."""
        return self.from_local_seconds(epoch(y, m, d, hh, mm, ss))

    def start_of_day(self, t):
        """UTC instant of the local midnight that starts the day containing t."""
        return self.from_local_seconds(self.to_local(t) // 86400 * 86400)

    def next_day(self, t):
        """UTC instant of the next local midnight after the start of t's day (23/24/25 h)."""
        return self.from_local_seconds((self.to_local(t) // 86400 + 1) * 86400)

    def start_of_month(self, t):
        """UTC instant of local midnight on the 1st of t's local month."""
        y, m, _ = self.date(t)
        return self.from_local(y, m, 1)

    def next_month(self, t):
        """UTC instant of local midnight on the 1st of the month after t's local month."""
        y, m, _ = self.date(t)
        if m == 12:
            y, m = y + 1, 1
        else:
            m += 1
        return self.from_local(y, m, 1)

    def month_key(self, t):
        """ "YYYY-MM" of t's local month."""
        y, m, _ = self.date(t)
        return "%04d-%02d" % (y, m)

    def format(self, t, seconds=False):
        """ "YYYY-MM-DD HH:MM[:SS]" local wall time of t."""
        lt = self.to_local(t)
        n = lt // 86400
        s = lt - n * 86400
        y, m, d = civil_from_days(n)
        if seconds:
            return "%04d-%02d-%02d %02d:%02d:%02d" % (y, m, d, s // 3600, s // 60 % 60, s % 60)
        return "%04d-%02d-%02d %02d:%02d" % (y, m, d, s // 3600, s // 60 % 60)


def get(name=None):
    """The Zone for a name, a fixed offset ("UTC+02:00") or a POSIX string; cached.
    None -> DEFAULT. ValidationError("timezone") if unknown."""
    if name is None:
        name = DEFAULT
    if isinstance(name, Zone):
        return name
    z = _cache.get(name)
    if z is None:
        z = Zone(name)
        if len(_cache) > 16:
            _cache.clear()
        _cache[name] = z
    return z


def known(name):
    """True if get(name) would succeed."""
    try:
        get(name)
        return True
    except ValueError:  # ValidationError
        return False


def names():
    """The zone names offered to users, sorted."""
    return ondemand.call("gateway.core.tzrules", "names")
