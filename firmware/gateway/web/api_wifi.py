"""/api/wifi (on demand): station status, scan ("List connection"), connect, forget."""
from gateway.web.http import json_body


def status(ctx, req):
    return ctx.wifi.public()


def scan(ctx, req):
    return [{"ssid": s, "rssi": r, "secure": sec} for s, r, sec in ctx.radio.scan()]


def connect(ctx, req):
    ctx.wifi.connect(json_body(req))
    ctx.event("config", "wifi", "wifi.set", {"ssid": ctx.wifi.cfg["ssid"], "by": req.g.session["user"]})
    return {"ok": True, "status": "connecting"}, 202


def forget(ctx, req):
    ctx.wifi.forget()
    return {"ok": True}


ROUTES = (
    ("GET", "wifi", "installer", status),
    ("GET", "wifi/scan", "installer", scan),
    ("POST", "wifi/connect", "installer", connect),
    ("POST", "wifi/forget", "installer", forget),
)
