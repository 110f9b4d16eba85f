"""core/ondemand.py: the resident set and on-demand calls (CPython and MicroPython)."""
import sys

from _assert import rmtree, tmpdir

from gateway.core import ondemand


def _modules(d, **sources):
    for name, src in sources.items():
        with open("%s/%s.py" % (d, name), "w") as f:
            f.write(src)


def _with_path(fn):
    d = tmpdir("dgt_od_")
    sys.path.insert(0, d)
    try:
        fn(d)
    finally:
        sys.path.remove(d)
        rmtree(d)


def test_call_drops_what_it_loaded_and_keep_stays():
    def body(d):
        _modules(d, od_helper="X = 1\n", od_res="Y = 2\n",
                 od_api="import od_helper\n\ndef f(a):\n    return a + od_helper.X\n")
        assert ondemand.call("od_api", "f", 41) == 42
        assert "od_api" not in sys.modules and "od_helper" not in sys.modules
        mod = ondemand.keep("od_res")
        assert mod.Y == 2 and ondemand.resident["od_res"] is mod
        assert ondemand.call("od_api", "f", 1) == 2  # a call never unloads a resident module
        assert sys.modules["od_res"] is mod and ondemand.duplicates() == []
        ondemand.unload("od_res")
        assert sys.modules["od_res"] is mod
        ondemand.resident.pop("od_res")
        ondemand.unload("od_res")
        assert "od_res" not in sys.modules

    _with_path(body)


def test_overlapping_awaited_calls_keep_each_others_modules():
    def body(d):
        _modules(d, od_a="A = 1\n", od_b="B = 2\n", od_c="def f():\n    return 3\n")
        first = ondemand.mark()  # an API request that awaits
        import od_a  # noqa: F401
        second = ondemand.mark()  # another request, started while the first waits
        import od_b  # noqa: F401
        ondemand.release(first)  # the first ends: od_b may still be used by the second
        assert "od_a" in sys.modules and "od_b" in sys.modules
        assert ondemand.call("od_c", "f") == 3
        assert "od_c" not in sys.modules  # a synchronous call's own module goes at once
        ondemand.release(second)
        assert "od_a" not in sys.modules and "od_b" not in sys.modules

    _with_path(body)


def test_a_call_that_cannot_open_leaves_none_open():
    """Out of heap at mark() (its snapshot of the loaded modules), as an emulated WROOM was: the
    request fails, but no call stays open, so later calls still drop what they load."""
    class Full:
        def __iter__(self):
            raise MemoryError

    def body(d):
        _modules(d, od_after="Z = 3\n")
        real = ondemand.sys
        ondemand.sys = type("S", (), {"modules": Full()})
        try:
            ondemand.mark()
            raise AssertionError("mark() did not fail")
        except MemoryError:
            pass
        finally:
            ondemand.sys = real
        assert ondemand.open_calls[0] == 0
        before = ondemand.mark()
        import od_after  # noqa: F401
        ondemand.release(before)
        assert "od_after" not in sys.modules

    _with_path(body)


def test_an_api_group_whose_module_runs_out_of_heap_leaves_no_call_open():
    """gateway.web.dispatch: the group's module fails half way through its import (what it
    imported first stays in sys.modules): the request fails, the call closes, that goes."""
    try:
        import asyncio
    except ImportError:  # MicroPython with MICROPYPATH set: asyncio is frozen into the binary
        sys.path.append(".frozen")
        import asyncio
    from gateway.web import dispatch

    def body(d):
        _modules(d, od_dep="D = 1\n", od_group="import od_dep\nraise MemoryError\n")
        dispatch.GROUPS["odgroup"] = "od_group"
        try:
            asyncio.run(dispatch.dispatch(None, None, "odgroup", ""))
            raise AssertionError("the import did not fail")
        except MemoryError:
            pass
        finally:
            del dispatch.GROUPS["odgroup"]
        assert ondemand.open_calls[0] == 0
        assert "od_dep" not in sys.modules and "od_group" not in sys.modules

    _with_path(body)


def test_a_resident_module_loaded_again_is_a_duplicate():
    def body(d):
        _modules(d, od_dup="Z = 1\n")
        mod = ondemand.keep("od_dup")
        sys.modules.pop("od_dup")
        again = __import__("od_dup")
        assert again is not mod and ondemand.duplicates() == ["od_dup"]
        ondemand.resident.pop("od_dup")
        sys.modules.pop("od_dup")

    _with_path(body)


def test_kept_inside_an_open_call_outlives_it():
    """A service started by a request (PUT /api/mqtt starts the uplink and its outbox) keeps
    its module: the request's end does not drop it, and keeping it again returns the same."""
    def body(d):
        _modules(d, od_kept="K = 1\n", od_req="R = 1\n")
        opened = ondemand.open_calls[0]
        before = ondemand.mark()
        import od_req  # noqa: F401  (the request's own module)
        mod = ondemand.keep("od_kept")
        assert ondemand.open_calls[0] == opened + 1
        ondemand.release(before)
        assert ondemand.open_calls[0] == opened
        assert "od_req" not in sys.modules and sys.modules["od_kept"] is mod
        assert ondemand.keep("od_kept") is mod and ondemand.duplicates() == []
        ondemand.resident.pop("od_kept")
        sys.modules.pop("od_kept")

    _with_path(body)
