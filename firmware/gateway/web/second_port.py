"""The page on a second TCP port (settings "http_port"), for a router's port forwarding (MEGA's
"HTTP port"). The board's own port (80) always stays: the access point's captive portal needs it.

    sp = SecondPort(dev.event)   # by task "http_port" once a port is set (app.py)
    sp.serve(app, host)          # the web task's app (again after a restart of that task)
    await sp.run(lambda: dev.settings["http_port"])
    sp.kick()                    # the setting changed: listen on the new port, or stop

Both ports feed the same app, so the web server's connection slots bound them together. A port
that cannot be opened (another listener has it) is logged ("http.port") and tried again at the
next change; ``port`` is the one actually listening (0 = none).
"""

import asyncio


class SecondPort:
    def __init__(self, event):
        self.event = event  # the device's event log (type, source, code, params)
        self.app = None
        self.host = None
        self.port = 0
        self._server = None
        self._bound = None  # the app the listener feeds
        self._changed = asyncio.Event()

    def serve(self, app, host):
        self.app, self.host = app, host
        self.kick()

    def kick(self):
        self._changed.set()

    async def run(self, wanted):
        """Follow ``wanted()`` (0 = no second port) whenever kicked."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            p = wanted() if self.app is not None else 0
            if p == self.port and self._bound is self.app:
                continue
            await self._close()
            if not p:
                continue
            try:
                self._server = await self.app.listen(self.host, p)
            except OSError as e:
                self.event("system", "http", "http.port", {"port": p, "error": str(e)})
                continue
            self.port, self._bound = p, self.app
            print("http: also listening on %s:%d" % (self.host, p))

    async def _close(self):
        s, self._server, self.port, self._bound = self._server, None, 0, None
        if s is not None:
            s.close()
            await s.wait_closed()
