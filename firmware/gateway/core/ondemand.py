"""Modules loaded for one call and unloaded after it.

On a board the heap holds every imported module's objects (and, without a ROMFS partition,
its bytecode too). Configuration-time code (validation, password hashing, discovery payloads,
exports, most of the API) therefore sits in modules that nothing imports at module level: they
are loaded for the call and dropped after it, with whatever they imported themselves, so the
heap holds only what the gateway runs all the time.
"""
import gc
import sys


def unload(name):
    mod = sys.modules.pop(name, None)
    if mod is None:
        return
    parent, _, leaf = name.rpartition(".")
    pkg = sys.modules.get(parent)
    if pkg is not None and getattr(pkg, leaf, None) is mod:
        delattr(pkg, leaf)


def mark():
    """What is loaded now (give it to release())."""
    return set(sys.modules)


def release(before):
    """Unload every module loaded since ``before`` = mark()."""
    for name in [n for n in sys.modules if n not in before]:
        unload(name)
    gc.collect()


def call(name, fn, *args, **kwargs):
    """``name.fn(*args, **kwargs)`` with ``name`` (and what it imports) loaded for the call only."""
    before = mark()
    try:
        return getattr(__import__(name, None, None, (fn,)), fn)(*args, **kwargs)
    finally:
        release(before)


async def acall(name, fn, *args, **kwargs):
    """``await name.fn(*args, **kwargs)``, the module loaded for the call only."""
    before = mark()
    try:
        return await getattr(__import__(name, None, None, (fn,)), fn)(*args, **kwargs)
    finally:
        release(before)
