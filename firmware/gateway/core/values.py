"""A meter's last values kept compact: its quantity names (a tuple shared between reads and
meters) beside the numbers in one array, instead of a dict of boxed floats.

The poller keeps one per meter for as long as its readings are current: 32 meters' values as
dicts take ~19 KB of 64-bit heap, as ``Values`` ~8 KB (docs/memory.md). A read-only mapping:
``v[q]``, ``v.get(q)``, ``q in v``, ``len(v)``, iteration over the names, ``items()``, ``==``
with a dict; ``to_dict()`` for json.dumps (one meter at a time: web/http.py ``plain``).
Lossless against the dict it replaces: integers come back as integers. The array holds singles
where the platform's floats are singles (an ESP32's) and every integer fits their 24-bit
mantissa, doubles on a platform whose floats are doubles, 64-bit integers when every value is an
integer; else (a single-float platform, floats beside a larger integer) the dict stays as it
is: an element of a double array is read back as the platform's float, a single, there.
"""
from array import array

DOUBLE_FLOATS = 1.0 + 2.0 ** -30 != 1.0  # this platform's float is a double (an ESP32's is not)
SINGLE_EXACT = 1 << 24  # integers up to this magnitude are exact in a single-precision float
DOUBLE_EXACT = 1 << 53
INT64 = 1 << 63
MAX_SHARED = 16  # distinct name tuples kept for sharing (profiles, partial reads)


class Values:
    """``names`` (tuple of str), ``nums`` (array of the numbers, same order), ``ints`` (bit i
    set: the i-th value is an integer)."""

    def __init__(self, names, nums, ints):
        self.names = names
        self.nums = nums
        self.ints = ints

    def _at(self, i):
        v = self.nums[i]
        return int(v) if self.ints >> i & 1 else v

    def __len__(self):
        return len(self.names)

    def __iter__(self):
        return iter(self.names)

    def __contains__(self, q):
        return q in self.names

    def __getitem__(self, q):
        try:
            i = self.names.index(q)
        except ValueError:
            raise KeyError(q)
        return self._at(i)

    def get(self, q, default=None):
        try:
            return self._at(self.names.index(q))
        except ValueError:
            return default

    def keys(self):
        return self.names

    def items(self):
        for i in range(len(self.names)):
            yield self.names[i], self._at(i)

    def to_dict(self):
        return dict(self.items())

    def __eq__(self, other):
        if isinstance(other, Values):
            other = other.to_dict()
        return self.to_dict() == other

    def __repr__(self):
        return "Values(%r)" % self.to_dict()


def compact(values, shared=None):
    """``values`` {quantity: number} as a ``Values`` (or ``values`` itself where no array holds
    them exactly: see above); ``shared`` (a dict): the name tuples seen before, so that meters
    of one profile keep a single tuple between them."""
    names = tuple(values)
    if shared is not None:
        known = shared.get(names)
        if known is None:
            if len(shared) >= MAX_SHARED:
                shared.clear()
            shared[names] = names
        else:
            names = known
    ints = 0
    top = 0  # the largest integer's magnitude
    for i in range(len(names)):
        v = values[names[i]]
        if isinstance(v, int):
            ints |= 1 << i
            top = max(top, -v if v < 0 else v)
    if top <= SINGLE_EXACT:
        code = "d" if DOUBLE_FLOATS else "f"
    elif DOUBLE_FLOATS and top <= DOUBLE_EXACT:
        code = "d"
    elif ints == (1 << len(names)) - 1 and top < INT64:
        code = "q"
    else:
        return values
    return Values(names, array(code, [values[q] for q in names]), ints)
