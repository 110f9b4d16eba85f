"""/api/mqtt (on demand): broker settings (the password is write-only) and link status."""
from gateway.core import mqtt_config
from gateway.web.http import json_body


def _view(ctx):
    stored = ctx.store.load("mqtt") or mqtt_config.defaults(ctx.identity["serial"])
    out = mqtt_config.public_view(stored)
    out["state"] = ctx.mqtt.status()
    return out


def get(ctx, req):
    return _view(ctx)


def put(ctx, req):
    stored = ctx.store.load("mqtt")
    cfg = mqtt_config.validate(json_body(req), stored, ctx.identity["serial"])
    ctx.store.save("mqtt", cfg)
    ctx.event("config", "mqtt", "mqtt", {"by": req.g.session["user"], "host": cfg.get("host") or "none"})
    ctx.apply("mqtt")
    return _view(ctx)


ROUTES = (
    ("GET", "mqtt", "installer", get),
    ("PUT", "mqtt", "installer", put),
)
