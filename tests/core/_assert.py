"""Helpers shared by the core tests on CPython and MicroPython (no pytest there)."""


def raises(exc, fn, *args, **kwargs):
    """Call fn and return the exception of type exc it raised; fail if it raised nothing."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc.__name__, getattr(fn, "__name__", fn)))


def approx(a, b, rel=1e-6, abs_=1e-9):
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def tmpdir(prefix="dgt_"):
    """A new empty directory under /tmp (both interpreters: no tempfile module on MicroPython)."""
    import os

    d = "/tmp/" + prefix + "".join("%02x" % b for b in os.urandom(6))
    os.mkdir(d)
    return d


def rmtree(d):
    import os

    for n in os.listdir(d):
        p = d + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)
    os.rmdir(d)


class tempdir:
    """``with tempdir("dgt_x_") as d:`` a new empty directory (tmpdir), removed with all in it
    at the end of the block."""

    def __init__(self, prefix="dgt_"):
        self.path = tmpdir(prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        rmtree(self.path)


def cut_last_line(path, keep):
    """A power cut while the file's last line was written: ``keep`` of its bytes stay (at most
    all but its newline; negative: all but that many, its newline counted). Returns how many
    bytes the line had without its newline."""
    with open(path, "rb") as f:
        data = f.read()
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    whole = len(data) - start - 1
    keep = min(keep, whole) if keep >= 0 else whole + 1 + keep
    with open(path, "wb") as f:
        f.write(data[:start + keep])
    return whole
