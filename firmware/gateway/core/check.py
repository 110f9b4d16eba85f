"""Validation primitives: each checks one field and returns the clean value, or raises
``ValidationError(field, message, code, params)`` (HTTP 400 with the field name).

The ``code`` is one of the page's "err.<code>" keys (firmware/www/lang-en.json): "integer",
"number", "range", "boolean", "choice", "length", "maxlen", "required", "format". Config modules
combine these instead of writing their own ``_int`` / ``_bool`` / ``_choice``.
"""

from gateway.core.errors import ValidationError

_BIG = 1e15  # floats beyond this (and inf, nan: 1e309 in JSON) are never taken as integers


def _fmt(x):
    if isinstance(x, float) and x == int(x) and -_BIG < x < _BIG:
        return "%d" % int(x)
    return "%s" % x


def in_range(field, v, lo, hi, unit=""):
    """``v`` (already a number) within lo..hi (either bound may be None); returns v."""
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        if lo is None:
            raise ValidationError(field, "must be at most %s%s" % (_fmt(hi), unit), "max",
                                  {"max": hi})
        if hi is None:
            raise ValidationError(field, "must be at least %s%s" % (_fmt(lo), unit), "min",
                                  {"min": lo})
        raise ValidationError(field, "must be between %s and %s%s" % (_fmt(lo), _fmt(hi), unit),
                              "range", {"min": lo, "max": hi})
    return v


def _int_text(s, signed, hex_ok):
    s = s.strip()
    if hex_ok and s[:2] in ("0x", "0X"):
        d = s[2:].lower()
        if d and len(d) <= 8:
            for c in d:
                if c not in "0123456789abcdef":
                    return None
            return int(d, 16)
        return None
    neg = signed and s[:1] == "-"
    digits = s[1:] if neg else s
    if not digits or len(digits) > 15 or not digits.isdigit():
        return None
    return -int(digits) if neg else int(digits)


def integer(field, v, lo=None, hi=None, text=False, signed=True, hex_ok=False, unit=""):
    """A whole number in lo..hi. Ints, and floats with no fraction (JSON 5.0) are taken; with
    ``text`` also decimal strings ("-" only when ``signed``; "0x.." when ``hex_ok``). Booleans,
    fractions, inf, nan and huge numbers (1e309) are refused with code "integer"."""
    n = None
    if isinstance(v, bool):
        pass
    elif isinstance(v, int):
        n = v
    elif isinstance(v, float):
        if -_BIG < v < _BIG and v == int(v):  # False for inf and nan
            n = int(v)
    elif text and isinstance(v, str):
        n = _int_text(v, signed, hex_ok)
    if n is None:
        raise ValidationError(field, "must be an integer", "integer")
    return in_range(field, n, lo, hi, unit)


def number(field, v, lo=None, hi=None, unit=""):
    """A finite int or float in lo..hi (booleans, inf and nan refused with code "number")."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v - v != 0:
        raise ValidationError(field, "must be a number", "number")
    return in_range(field, v, lo, hi, unit)


def boolean(field, v):
    """true or false (JSON), nothing else: not 0/1, not "true"."""
    if v is True or v is False:
        return v
    raise ValidationError(field, "must be true or false", "boolean")


def choice(field, v, choices):
    """One of ``choices`` (a tuple of str)."""
    if isinstance(v, str) and v in choices:
        return v
    raise ValidationError(field, "must be one of %s" % ", ".join(choices), "choice",
                          {"choices": ", ".join(choices)})


def text(field, v, maxlen, minlen=0, strip=False, none_ok=False, controls=False):
    """A string of minlen..maxlen characters (after ``strip``); None -> "" with ``none_ok``;
    control characters refused unless ``controls``."""
    if v is None and none_ok:
        v = ""
    if not isinstance(v, str):
        raise ValidationError(field, "must be text", "format")
    if strip:
        v = v.strip()
    if len(v) > maxlen or len(v) < minlen:
        if minlen == 0:
            raise ValidationError(field, "must be at most %d characters" % maxlen, "maxlen",
                                  {"max": maxlen})
        if minlen == 1 and not v:
            raise ValidationError(field, "must not be empty", "required")
        raise ValidationError(field, "must be %d to %d characters" % (minlen, maxlen), "length",
                              {"min": minlen, "max": maxlen})
    if not controls:
        for ch in v:
            o = ord(ch)
            if o < 32 or o == 127:
                raise ValidationError(field, "must not contain control characters", "format")
    return v


def obj(field, v):
    """A JSON object (dict)."""
    if not isinstance(v, dict):
        raise ValidationError(field, "must be an object", "format")
    return v


def known_keys(d, allowed, prefix=""):
    """Every key of dict ``d`` is in ``allowed``; else the first unknown one is the field."""
    for k in d:
        if k not in allowed:
            raise ValidationError(prefix + str(k), "unknown field", "unknown")
    return d
