"""Time zone names and POSIX TZ rule strings -> the fields of a tz.Zone (loaded on demand).

Only needed when a Zone is created (tz.get caches them) or the names are listed: tz.py calls
``compile`` and ``names`` through gateway.core.ondemand, so none of this stays on the heap.
"""

from gateway.core.errors import ValidationError

# Names offered to users -> POSIX TZ string (the rules in force since 1996 in the EU), one
# "\n<name>=<posix>" entry each: a constant string, read in place (no table on the heap).
_ZONES = """
UTC=UTC0
Europe/Paris=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Brussels=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Amsterdam=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Luxembourg=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Berlin=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Madrid=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Rome=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Zurich=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Vienna=CET-1CEST,M3.5.0,M10.5.0/3
Europe/Monaco=CET-1CEST,M3.5.0,M10.5.0/3
Europe/London=GMT0BST,M3.5.0/1,M10.5.0
Europe/Dublin=GMT0IST,M3.5.0/1,M10.5.0
Europe/Lisbon=WET0WEST,M3.5.0/1,M10.5.0
Europe/Athens=EET-2EEST,M3.5.0/3,M10.5.0/4
Europe/Helsinki=EET-2EEST,M3.5.0/3,M10.5.0/4
America/Martinique=AST4
America/Guadeloupe=AST4
America/Cayenne=<-03>3
Indian/Reunion=<+04>-4
Indian/Mayotte=EAT-3
Pacific/Noumea=<+11>-11
Pacific/Tahiti=<-10>10
"""


def names():
    """The zone names offered to users, sorted."""
    out = []
    for line in _ZONES.split("\n"):
        if line:
            out.append(line[: line.find("=")])
    out.sort()
    return out


def _table(name):
    if "\n" in name or "=" in name:
        return None
    k = _ZONES.find("\n%s=" % name)
    if k < 0:
        return None
    k += len(name) + 2
    return _ZONES[k : _ZONES.find("\n", k)]


def _bad(msg):
    raise ValidationError("timezone", msg, "format")


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
        """One transition rule -> [kind, a, b, c, time_of_day_s]."""
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


def parse(posix):
    """POSIX TZ string -> (std_name, std, dst_name, dst, rules); offsets in seconds east of UTC,
    rules None or (start, end). ValidationError if it does not parse."""
    p = _P(posix)
    std_name = p.name()
    std = -p.hms()  # POSIX offsets are west-positive
    dst_name = dst = rules = None
    if p.peek():
        if p.peek() != ",":
            dst_name = p.name()
            dst = std + 3600
            if p.peek() and p.peek() != ",":
                dst = -p.hms()
        if p.peek() == ",":
            p.take()
            start = p.rule()
            if p.take() != ",":
                _bad("two rules expected in %r" % posix)
            end = p.rule()
            rules = (start, end)
        elif dst is not None:  # DST named without rules: POSIX default (US rules)
            rules = (["M", 3, 2, 0, 7200], ["M", 11, 1, 0, 7200])
    if p.peek():
        _bad("trailing text in %r" % posix)
    if rules is not None and dst is None:
        _bad("rules without a DST zone in %r" % posix)
    if not (-86400 < std < 86400) or (dst is not None and not -86400 < dst < 86400):
        _bad("offset out of range in %r" % posix)
    return std_name, std, dst_name, dst, rules


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
    t = _table(name)
    if t is not None:
        return t
    f = _fixed(name)
    if f is not None:
        return f
    if "/" in name and "," not in name:
        _bad("unknown time zone %r" % name)
    parse(name)  # raises ValidationError if it does not parse
    return name


def compile(name, posix=None):
    """(posix, std_name, std, dst_name, dst, rules) of a zone name (or of a POSIX string)."""
    if posix is None:
        posix = resolve(name)
    return (posix,) + parse(posix)
