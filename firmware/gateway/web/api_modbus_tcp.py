"""/api/modbus-tcp (on demand): the read-only Modbus TCP server's settings and state.

GET -> {"enabled", "port", "state": {"running", "port", "clients", "requests", "refused",
"error"}}; PUT {"enabled"?, "port"?} (installer). The server is (re)started after the answer,
outside the request (Device.apply). Register map: docs/modbus-tcp-map.md.
"""
from gateway.core import modbus_tcp_config as mtc
from gateway.web.http import json_body

_IDLE = {"running": False, "port": None, "clients": 0, "requests": 0, "refused": 0, "error": ""}


def _view(ctx):
    out = mtc.validate({}, ctx.store.load(mtc.STORE_KEY))
    srv = ctx.modbus_tcp
    out["state"] = srv.status() if srv is not None else _IDLE
    return out


def get(ctx, req):
    return _view(ctx)


def put(ctx, req):
    taken = (ctx.board.get("http", {}).get("port", 80), ctx.settings["http_port"])  # the page's
    cfg = mtc.validate(json_body(req), ctx.store.load(mtc.STORE_KEY), taken)
    ctx.store.save(mtc.STORE_KEY, cfg)
    ctx.event("config", "modbus-tcp", "mbtcp.on" if cfg["enabled"] else "mbtcp.off",
              {"port": cfg["port"], "by": req.g.session["user"]})
    ctx.apply("modbus_tcp")
    return _view(ctx)


ROUTES = (
    ("GET", "modbus-tcp", "installer", get),
    ("PUT", "modbus-tcp", "installer", put),
)
