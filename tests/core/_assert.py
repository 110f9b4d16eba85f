"""Assertion helpers shared by the core tests on CPython and MicroPython (no pytest there)."""


def raises(exc, fn, *args, **kwargs):
    """Call fn and return the exception of type exc it raised; fail if it raised nothing."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc.__name__, getattr(fn, "__name__", fn)))


def approx(a, b, rel=1e-6, abs_=1e-9):
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))
