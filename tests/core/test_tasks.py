"""The task supervisor (services/tasks.py) lets go of a task that ended for good: what its
factory and coroutine held (a parsed configuration, an on-demand module) leaves the heap, whether
it returned, crashed without restart or was cancelled; GET /api/system/tasks still says done.

Runs on CPython and the MicroPython unix port (where a finished coroutine keeps its frame).
"""
import gc
import sys

try:
    import asyncio
except ImportError:  # MicroPython with MICROPYPATH set: asyncio is frozen into the binary
    sys.path.append(".frozen")
    import asyncio

from gateway.services.tasks import Tasks

BIG = 96 * 1024


def _used():
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc()
    import tracemalloc

    return tracemalloc.get_traced_memory()[0]


async def _until(pred, what):
    for _ in range(500):
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached: " + what)


async def _job(held, release, end):
    await release.wait()
    if end == "crash":
        raise ValueError(len(held))
    return len(held)


def _spawn(tasks, release, end):
    """Task "t" whose factory (a closure) alone refers to a big buffer (made in this plain
    function: no coroutine frame of the test keeps a stale reference to it)."""
    held = bytearray(BIG)
    tasks.spawn("t", lambda: _job(held, release, end), restart=False)


def _run(end):
    """(heap while task "t" runs, heap kept after it ended by ``end``: "return", "crash" or
    "cancel", its status)."""
    async def main():
        tasks = Tasks()
        release = asyncio.Event()
        before = _used()
        _spawn(tasks, release, end)
        await asyncio.sleep(0.01)
        during = _used() - before
        if end == "cancel":
            tasks.tasks["t"].cancel()
        else:
            release.set()
        await _until(lambda: tasks.status()["t"]["done"], "the task ended")
        await asyncio.sleep(0.01)
        after = _used() - before
        return during, after, tasks.status()["t"]

    tracing = not hasattr(gc, "mem_alloc")
    if tracing:
        import tracemalloc

        tracemalloc.start()
    try:
        return asyncio.run(main())
    finally:
        if tracing:
            tracemalloc.stop()


def test_a_task_that_ended_holds_nothing():
    for end in ("return", "crash", "cancel"):
        during, after, status = _run(end)
        assert during >= BIG, (end, during)  # the measure sees the buffer
        # the supervisor keeps a crash's exception for its report: on CPython its traceback
        # holds the frames (the factory's buffer with them); a MicroPython one holds none
        if end != "crash" or hasattr(gc, "mem_alloc"):
            assert after < BIG // 4, "%s: %d bytes still held after it ended" % (end, after)
        assert status["done"] is True, status
        assert status["restarts"] == (1 if end == "crash" else 0), status
