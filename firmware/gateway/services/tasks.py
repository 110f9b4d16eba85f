"""Named asyncio tasks under a supervisor that cannot die, and the watchdog's health check.

A crashed task is restarted with back-off (1 s doubling to 30 s, back to 1 s after a long good
run). The failure path allocates nothing: the per-task record is made at spawn time, the crash
only stores the exception object and bumps counters; the console line and the event-log entry
are written later by ``check()`` (the watchdog's round), and skipped when the heap is short.

Essential tasks are spawned with ``progress``: a callable returning a value that changes while
the task works (a cycle counter). ``check()`` -> True only while every essential task is alive
and its value changed within its ``stall_ms``; the watchdog is fed only then, so a wedged
device resets itself.
"""
import asyncio
import sys

from gateway.core.ticks import ticks_diff, ticks_ms

# per-task record fields (a list made at spawn: nothing to allocate on the failure path)
RESTARTS, ERROR, PROGRESS, SEEN, CHANGED, STALL_MS, REPORTED, STARTED = range(8)
GOOD_RUN_MS = 60000
MAX_DELAY_MS = 30000

if hasattr(asyncio, "sleep_ms"):
    _sleep_ms = asyncio.sleep_ms
else:  # CPython, in tests
    def _sleep_ms(ms):
        return asyncio.sleep(ms / 1000)


def _print_exception(e):
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:  # CPython, in tests
        import traceback

        traceback.print_exception(e)


class _Ended:
    """Stands for a task that ended for good. A finished asyncio Task keeps its coroutine, and
    MicroPython keeps a finished coroutine's frame (py/objgenerator.c): kept in ``tasks``, it
    would hold whatever its locals held (an on-demand module, a parsed configuration)."""

    def done(self):
        return True

    def cancel(self):
        return False


ENDED = _Ended()


class Tasks:
    def __init__(self, log=None):
        self.tasks = {}
        self.state = {}
        self._log = log
        self.unhealthy = None  # the name of the task that stopped the watchdog, or None

    def spawn(self, name, factory, restart=True, progress=None, stall_s=120):
        """Run ``factory()`` (a coroutine function) as task ``name``; restart it if it crashes.
        With ``progress`` the task is essential: see ``check()``. Returns the asyncio task."""
        now = ticks_ms()
        st = self.state.get(name)
        if st is None:
            st = [0, None, progress, None, now, stall_s * 1000, 0, now]
            self.state[name] = st
        else:
            st[PROGRESS], st[CHANGED], st[STALL_MS] = progress, now, stall_s * 1000
        t = self.tasks[name] = asyncio.create_task(self._guard(name, factory, restart, st))
        return t

    def forget(self, *names):
        """Drop the records of tasks that ended for good (a stopped optional service)."""
        for n in names:
            self.tasks.pop(n, None)
            self.state.pop(n, None)

    def _ended(self, name):
        # called at each way out of _guard rather than from a try/finally around its loop: a
        # finally block makes every task's frame larger (~700 B on the WROOM's idle heap)
        if self.tasks.get(name) is asyncio.current_task():
            self.tasks[name] = ENDED

    async def _guard(self, name, factory, restart, st):
        delay = 1000
        while True:
            try:
                st[STARTED] = ticks_ms()
                await factory()
                self._ended(name)
                return
            except asyncio.CancelledError:
                self._ended(name)
                raise
            except Exception as e:  # a crashed service must not take the gateway down
                st[RESTARTS] += 1
                st[ERROR] = e
                if not restart:
                    self._ended(name)
                    return
                if ticks_diff(ticks_ms(), st[STARTED]) > GOOD_RUN_MS:
                    delay = 1000
            try:
                await _sleep_ms(delay)
            except asyncio.CancelledError:
                raise
            except Exception:  # nothing may end the supervisor
                pass
            if delay < MAX_DELAY_MS:
                delay = min(delay * 2, MAX_DELAY_MS)

    def _report(self, name, st):
        """The console line and event for crashes not yet reported (outside the failure path)."""
        if st[RESTARTS] == st[REPORTED] or st[ERROR] is None:
            return
        st[REPORTED] = st[RESTARTS]
        e = st[ERROR]
        try:
            print("task %s crashed (%d): %r" % (name, st[RESTARTS], e))
            if not isinstance(e, MemoryError):
                _print_exception(e)
            if self._log:
                self._log("task", "task.crashed", {"task": name, "n": st[RESTARTS], "error": repr(e)})
        except Exception:  # short of heap: the counters still say it
            pass

    def check(self):
        """True while every essential task is alive and progressing (feed the watchdog)."""
        now = ticks_ms()
        bad = None
        for name, st in self.state.items():
            self._report(name, st)
            probe = st[PROGRESS]
            if probe is None:
                continue
            t = self.tasks.get(name)
            if t is None or t.done():
                bad = name
                continue
            try:
                v = probe()
            except Exception:
                v = st[SEEN]
            if v != st[SEEN]:
                st[SEEN], st[CHANGED] = v, now
            elif ticks_diff(now, st[CHANGED]) > st[STALL_MS]:
                bad = name
        if bad != self.unhealthy:
            self.unhealthy = bad
            try:
                if bad is None:
                    print("watchdog: every essential task progresses again")
                else:
                    print("watchdog: task %s stalled or dead: not feeding" % bad)
                    if self._log:
                        self._log("watchdog", "task.stalled", {"task": bad})
            except Exception:
                pass
        return bad is None

    def status(self):
        now = ticks_ms()
        out = {}
        for n, t in self.tasks.items():
            st = self.state[n]
            d = {"done": t.done(), "restarts": st[RESTARTS]}
            if st[ERROR] is not None:
                d["last_error"] = repr(st[ERROR])
            if st[PROGRESS] is not None:
                d["essential"] = True
                d["idle_s"] = ticks_diff(now, st[CHANGED]) // 1000
            out[n] = d
        return out

    def cancel_all(self):
        for t in self.tasks.values():
            t.cancel()
