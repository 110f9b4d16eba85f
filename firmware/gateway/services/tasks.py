"""Named asyncio tasks with restart on failure (MicroPython's create_task takes no name)."""
import asyncio
import sys


def _print_exception(e):
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:  # CPython, in tests
        import traceback

        traceback.print_exception(e)


class Tasks:
    def __init__(self, log=None):
        self.tasks = {}
        self.restarts = {}
        self._log = log

    def spawn(self, name, factory, restart=True):
        """Run ``factory()`` (a coroutine function) as task ``name``; restart it if it crashes."""
        self.tasks[name] = asyncio.create_task(self._guard(name, factory, restart))

    async def _guard(self, name, factory, restart):
        delay = 1
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a crashed service must not take the gateway down
                self.restarts[name] = self.restarts.get(name, 0) + 1
                print("task %s crashed: %r" % (name, e))
                _print_exception(e)
                if self._log:
                    self._log("system", "task %s crashed: %r" % (name, e))
                if not restart:
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60)

    def status(self):
        return {n: {"done": t.done(), "restarts": self.restarts.get(n, 0)} for n, t in self.tasks.items()}

    def cancel_all(self):
        for t in self.tasks.values():
            t.cancel()
