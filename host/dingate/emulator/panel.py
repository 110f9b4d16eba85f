"""The emulated hardware panel on --control-port: /api/hw JSON and a page a person can press."""
import os

from microdot import Microdot, Response

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "panel", "index.html")


def build_panel(emulator):
    app = Microdot()
    hw = emulator.hw

    @app.get("/")
    def page(req):
        return Response.send_file(PAGE, content_type="text/html; charset=UTF-8")

    @app.get("/api/hw")
    def state(req):
        snap = hw.snapshot()
        snap["device"] = emulator.device_state()
        return snap

    @app.post("/api/hw/button")
    async def button(req):
        data = req.json or {}
        name = data.get("name")
        if name not in hw.board.get("buttons", {}):
            return {"error": "unknown button", "field": "name"}, 400
        hold = data.get("hold_ms", 200)
        if not isinstance(hold, int) or not 0 < hold <= 60000:
            return {"error": "hold_ms must be 1..60000", "field": "hold_ms"}, 400
        await hw.press(name, hold)
        return {"ok": True, "name": name, "hold_ms": hold}

    @app.post("/api/hw/wifi")
    def wifi(req):
        action = (req.json or {}).get("action")
        if action not in ("drop", "restore"):
            return {"error": "action must be drop or restore", "field": "action"}, 400
        hw.drop_wifi(action == "drop")
        return {"ok": True}

    @app.post("/api/hw/power")
    async def power(req):
        action = (req.json or {}).get("action")
        if action != "cycle":
            return {"error": "action must be cycle", "field": "action"}, 400
        await emulator.power_cycle()
        return {"ok": True}

    @app.post("/api/hw/fault")
    def fault(req):
        """Test hook: "hang" = the firmware's loop blocks in a driver call (a stuck peripheral);
        the board's watchdog is then what resets it."""
        action = (req.json or {}).get("action")
        if action != "hang":
            return {"error": "action must be hang", "field": "action"}, 400
        if not hw.hang():
            return {"error": "the device is not running", "field": "action"}, 409
        emulator.say("[emulator] fault: a driver call hangs, the firmware's loop stops")
        return {"ok": True}

    return app
