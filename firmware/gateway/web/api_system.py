"""/api/status and the system actions (reboot)."""
import gc
import sys

from gateway import VERSION
from gateway.web.http import require


def register(app, ctx):
    @app.get("/api/status")
    def status(req):
        gc.collect()
        return {
            "firmware": VERSION,
            "implementation": sys.implementation.name,
            "board": ctx.board.get("name"),
            "serial": ctx.identity["serial"],
            "uptime_s": ctx.uptime_s(),
            "time": ctx.now(),
            "mem_free": gc.mem_free(),
            "mem_alloc": gc.mem_alloc(),
            "wifi": ctx.wifi_status(),
            "reset_cause": ctx.reset_cause,
        }

    @app.get("/api/system/tasks")
    @require("installer")
    def tasks(req):
        return ctx.tasks.status()

    @app.post("/api/system/reboot")
    @require("installer")
    def reboot(req):
        ctx.request_reboot("reboot requested by %s" % req.g.session["user"])
        return {"ok": True}
