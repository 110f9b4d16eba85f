"""Time zones without zoneinfo: POSIX TZ rule strings and a small table of names users pick.

Everything works on Unix epoch seconds (UTC) with pure integer civil-date math, so CPython and
MicroPython (whose time.gmtime/mktime differ between ports and epochs) give the same answers.

    z = tz.get("Europe/Paris")        # or "UTC", "UTC+02:00", "CET-1CEST,M3.5.0,M10.5.0/3"
    z.offset(t)                       # seconds east of UTC in force at UTC instant t
    z.parts(t)                        # local (year, month, day, hour, minute, second, wday, yday)
    z.start_of_day(t), z.start_of_month(t), z.next_day(t), z.next_month(t)   # UTC epochs
    z.from_local(2025, 3, 30, 2, 30)  # local wall time -> UTC epoch (gap/overlap resolved)

wday: Monday = 0 .. Sunday = 6 (as time.gmtime); yday: 1..366.
"""

from gateway.core.errors import ValidationError

_CET = "CET-1CEST,M3.5.0,M10.5.0/3"

# Names offered to users -> POSIX TZ string (the rules in force since 1996 in the EU).
ZONES = {
    "UTC": "UTC0",
    "Europe/Paris": _CET,
    "Europe/Brussels": _CET,
    "Europe/Amsterdam": _CET,
    "Europe/Luxembourg": _CET,
    "Europe/Berlin": _CET,
    "Europe/Madrid": _CET,
    "Europe/Rome": _CET,
    "Europe/Zurich": _CET,
    "Europe/Vienna": _CET,
    "Europe/Monaco": _CET,
    "Europe/London": "GMT0BST,M3.5.0/1,M10.5.0",
    "Europe/Dublin": "GMT0IST,M3.5.0/1,M10.5.0",
    "Europe/Lisbon": "WET0WEST,M3.5.0/1,M10.5.0",
    "Europe/Athens": "EET-2EEST,M3.5.0/3,M10.5.0/4",
    "Europe/Helsinki": "EET-2EEST,M3.5.0/3,M10.5.0/4",
    "America/Martinique": "AST4",
    "America/Guadeloupe": "AST4",
    "America/Cayenne": "<-03>3",
    "Indian/Reunion": "<+04>-4",
    "Indian/Mayotte": "EAT-3",
    "Pacific/Noumea": "<+11>-11",
    "Pacific/Tahiti": "<-10>10",
}

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


# ---- POSIX TZ strings --------------------------------------------------------------------


def _bad(msg):
    raise ValidationError("timezone", msg)


class _P:
    """Tiny cursor over the TZ string."""

    def __init__(self, s):
        self.s = s
        self.i = 0

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self):
        c = self.peek()
        self.i += 1
        return c

    def num(self):
        j = self.i
        while self.peek() and self.peek() in "0123456789":
            self.i += 1
        if j == self.i:
            _bad("number expected in %r" % self.s)
        return int(self.s[j : self.i])

    def name(self):
        if self.peek() == "<":
            j = self.s.find(">", self.i)
            if j < 0:
                _bad("unclosed <name> in %r" % self.s)
            n = self.s[self.i + 1 : j]
            self.i = j + 1
            return n
        j = self.i
        while self.peek() and self.peek().isalpha():
            self.i += 1
        if self.i - j < 3:
            _bad("zone name expected in %r" % self.s)
        return self.s[j : self.i]

    def hms(self):
        """[+-]hh[:mm[:ss]] -> signed seconds."""
        sign = 1
        if self.peek() in ("+", "-") and self.peek():
            sign = -1 if self.take() == "-" else 1
        v = self.num() * 3600
        if self.peek() == ":":
            self.take()
            v += self.num() * 60
            if self.peek() == ":":
                self.take()
                v += self.num()
        return sign * v

    def rule(self):
        """One transition rule -> (kind, a, b, c, time_of_day_s)."""
        c = self.peek()
        if c == "M":
            self.take()
            m = self.num()
            if self.take() != ".":
                _bad("bad M rule")
            w = self.num()
            if self.take() != ".":
                _bad("bad M rule")
            d = self.num()
            if not (1 <= m <= 12 and 1 <= w <= 5 and 0 <= d <= 6):
                _bad("bad M rule values")
            r = ["M", m, w, d]
        elif c == "J":
            self.take()
            n = self.num()
            if not 1 <= n <= 365:
                _bad("bad J rule")
            r = ["J", n, 0, 0]
        else:
            n = self.num()
            if not 0 <= n <= 365:
                _bad("bad day rule")
            r = ["N", n, 0, 0]
        tod = 7200
        if self.peek() == "/":
            self.take()
            tod = self.hms()
        r.append(tod)
        return r


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
    """A time zone from a POSIX TZ string; offsets are seconds east of UTC."""

    def __init__(self, name, posix):
        self.name = name
        self.posix = posix
        p = _P(posix)
        self.std_name = p.name()
        self.std = -p.hms()  # POSIX offsets are west-positive
        self.dst = None
        self.rules = None
        if p.peek():
            if p.peek() != ",":
                self.dst_name = p.name()
                self.dst = self.std + 3600
                if p.peek() and p.peek() != ",":
                    self.dst = -p.hms()
            if p.peek() == ",":
                p.take()
                start = p.rule()
                if p.take() != ",":
                    _bad("two rules expected in %r" % posix)
                end = p.rule()
                self.rules = (start, end)
            elif self.dst is not None:  # DST named without rules: POSIX default (US rules)
                self.rules = (["M", 3, 2, 0, 7200], ["M", 11, 1, 0, 7200])
        if p.peek():
            _bad("trailing text in %r" % posix)
        if self.rules is not None and self.dst is None:
            _bad("rules without a DST zone in %r" % posix)
        if not (-86400 < self.std < 86400) or (
            self.dst is not None and not -86400 < self.dst < 86400
        ):
            _bad("offset out of range in %r" % posix)
        self._year = None
        self._tr = None

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
        return self._tr

    def is_dst(self, t):
        if self.rules is None:
            return False
        y = utc_parts(t + self.std)[0]
        s, e = self.transitions(y)
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
        offs = (self.std,) if self.dst is None else (self.dst, self.std)
        for off in offs:
            t = lt - off
            if self.to_local(t) == lt and (best is None or t < best):
                best = t
        if best is None:
            best = lt - self.std
        return best

    def from_local(self, y, m, d, hh=0, mm=0, ss=0):
        """UTC instant of local wall time y-m-d hh:mm:ss."""
        return self.from_local_seconds(epoch(y, m, d, hh, mm, ss))

    def start_of_day(self, t):
        """UTC instant of the local midnight that starts the day containing t."""
        y, m, d = self.date(t)
        return self.from_local(y, m, d)

    def next_day(self, t):
        """UTC instant of the next local midnight after the start of t's day (23/24/25 h)."""
        y, m, d = self.date(t)
        n = days_from_civil(y, m, d) + 1
        y, m, d = civil_from_days(n)
        return self.from_local(y, m, d)

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
        p = self.parts(t)
        if seconds:
            return "%04d-%02d-%02d %02d:%02d:%02d" % p[:6]
        return "%04d-%02d-%02d %02d:%02d" % p[:5]


def _fixed(name):
    """'UTC', 'UTC+2', 'UTC-03:30', 'GMT+1', '+05:30' -> POSIX string, or None."""
    s = name
    for pre in ("UTC", "GMT"):
        if s.startswith(pre):
            s = s[len(pre) :]
            break
    if s == "":
        return "UTC0"
    if s[0] not in "+-":
        return None
    body = s[1:]
    if not body or body[0] not in "0123456789":
        return None
    try:
        p = _P(body)
        v = p.hms()
        if p.peek():
            return None
    except ValidationError:
        return None
    if v > 14 * 3600:
        return None
    east = v if s[0] == "+" else -v
    if east == 0:
        return "UTC0"
    w = -east
    sign = "-" if w < 0 else ""
    w = abs(w)
    hh, mm = w // 3600, (w // 60) % 60
    label = "%s%02d%s" % ("+" if east > 0 else "-", abs(east) // 3600, "%02d" % mm if mm else "")
    if mm:
        return "<%s>%s%d:%02d" % (label, sign, hh, mm)
    return "<%s>%s%d" % (label, sign, hh)


def resolve(name):
    """POSIX TZ string for a zone name, a fixed offset or a POSIX string; ValidationError if not."""
    if not isinstance(name, str) or not name or len(name) > 64:
        _bad("unknown time zone")
    if name in ZONES:
        return ZONES[name]
    f = _fixed(name)
    if f is not None:
        return f
    if "/" in name and "," not in name:
        _bad("unknown time zone %r" % name)
    Zone(name, name)  # raises ValidationError if it does not parse
    return name


def get(name=None):
    """The Zone for a name (see resolve); cached. None -> DEFAULT."""
    if name is None:
        name = DEFAULT
    if isinstance(name, Zone):
        return name
    z = _cache.get(name)
    if z is None:
        z = Zone(name, resolve(name))
        if len(_cache) > 16:
            _cache.clear()
        _cache[name] = z
    return z


def known(name):
    """True if get(name) would succeed."""
    try:
        get(name)
        return True
    except ValidationError:
        return False


def names():
    """The zone names offered to users, sorted."""
    return sorted(ZONES)
