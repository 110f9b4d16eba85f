"""/api/genset (on demand): the generator's configuration and state."""
from gateway.web.http import json_body


def get(ctx, req):
    return ctx.genset.status()


def put(ctx, req):
    old_mode = ctx.genset.controller.config["mode"]
    cfg = ctx.genset.set_config(json_body(req))
    who = req.g.session["user"]
    if cfg["mode"] != old_mode:
        ctx.event("genset", "genset", "mode %s -> %s by %s" % (old_mode, cfg["mode"], who))
    else:
        ctx.event("config", "genset", "genset settings changed by %s" % who)
    return ctx.genset.status()


ROUTES = (
    ("GET", "genset", "user", get),
    ("PUT", "genset", "installer", put),
)
