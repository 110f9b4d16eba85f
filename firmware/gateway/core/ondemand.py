"""The resident set, and modules loaded for one call and unloaded after it.

On a board the heap holds every imported module's objects (and, without a ROMFS partition,
its bytecode too). The gateway therefore keeps two kinds of modules:

* **Resident**: what it runs all the time. ``app.run()`` loads them with ``keep()`` before any
  task starts (the declared set, app.RESIDENT), an optional service loads its own with ``keep()``
  when it starts. They are listed in ``resident`` (name -> module) and never unloaded, so no
  module exists twice (a controller holding one copy while a request loads another).
* **On demand**: configuration-time code (validation, password hashing, discovery payloads,
  exports, most of the API) sits in modules nothing imports at module level. ``call`` /
  ``acall`` (``mark``/``release`` around a longer awaited step) load them for the call and drop
  them after it, with whatever they imported themselves, and never a resident one.

A synchronous ``call`` drops what it loaded at once (nothing else ran meanwhile). Awaited calls
(an API request, a discovery announcement) overlap: while one waits, another task makes its
own. Their modules are dropped when the last awaited call open ends (``open_calls`` counts them),
so nothing another call imported meanwhile disappears under it. Code outside any call that
needs a module for longer than a call uses ``keep()``.
"""
import gc
import sys

resident = {}  # name -> module: the resident set, never unloaded
_pending = []  # modules loaded by calls that ended while another call was open
open_calls = [0]  # awaited calls open now (GET /api/system/modules)


def _snapshot():
    """The loaded modules that are not resident (usually none; what an open call loaded): what
    a call must leave in place. Not a set of every module: it is made for every request, where
    the heap may be at its edge (a set of ~130 names was ~2 KB at 64-bit)."""
    return [n for n in sys.modules if n not in resident]


def keep(*names):
    """Import ``names`` as resident (with every module their import loads); returns the last.
    Synchronous, so nothing another task loads is counted as theirs."""
    if all(n in resident for n in names):  # the usual case after the first: no snapshot
        return resident[names[-1]]
    before = _snapshot()
    mod = None
    for name in names:
        mod = __import__(name, None, None, ("__name__",))
    for name in sys.modules:
        if name not in before or name in names:
            resident[name] = sys.modules[name]
    return mod


def keep_loaded():
    """Every module loaded now becomes resident (app.run(): what boot and the app imported)."""
    for name in sys.modules:
        resident[name] = sys.modules[name]


def duplicates():
    """Names of resident modules that ``sys.modules`` holds as another object (a second copy
    loaded after the first was dropped): empty when the resident set is whole."""
    return [n for n in resident if sys.modules.get(n) is not resident[n]]


def unload(name):
    if name in resident:
        return
    mod = sys.modules.pop(name, None)
    if mod is None:
        return
    parent, _, leaf = name.rpartition(".")
    pkg = sys.modules.get(parent)
    if pkg is not None and getattr(pkg, leaf, None) is mod:
        delattr(pkg, leaf)


def _unload_since(before):
    """Unload what was loaded since ``before`` (not a resident module); True if anything was."""
    new = [n for n in sys.modules if n not in before and n not in resident]
    for name in new:
        unload(name)
    return bool(new)


def mark():
    """Open an awaited on-demand call: what is loaded now (give it to release())."""
    before = _snapshot()  # a MemoryError here opens no call (one left open for good
    open_calls[0] += 1  # would keep every later call's modules loaded: the heap ran out)
    return before


def release(before):
    """Close the call opened by ``before`` = mark(): the modules loaded since are dropped now,
    or, when another awaited call is still open (it may use them), when the last one ends."""
    open_calls[0] -= 1
    for n in sys.modules:
        if n not in before and n not in resident and n not in _pending:
            _pending.append(n)
    if open_calls[0] > 0 or not _pending:
        return
    for n in _pending:
        unload(n)
    del _pending[:]
    gc.collect()


def call(name, fn, *args, **kwargs):
    """``name.fn(*args, **kwargs)`` with ``name`` (and what it imports) loaded for the call only.
    Synchronous: nothing else runs meanwhile, so what it loads is its own and goes at once."""
    before = _snapshot()
    try:
        return getattr(__import__(name, None, None, (fn,)), fn)(*args, **kwargs)
    finally:
        if _unload_since(before):
            gc.collect()


async def acall(name, fn, *args, **kwargs):
    """``await name.fn(*args, **kwargs)``, the module loaded for the call only."""
    before = mark()
    try:
        return await getattr(__import__(name, None, None, (fn,)), fn)(*args, **kwargs)
    finally:
        release(before)
