"""/api/genset (on demand): the generator's configuration and state; DELETE removes generator
control (the contact opened, its Home Assistant entities deleted; run hours are kept);
POST /api/genset/service records a service (the next is due service_interval_h from now)."""
from gateway.web.http import error, json_body


def _idle_view(ctx, reason):
    """The configuration and state while no generator service runs (not configured yet)."""
    from gateway.core.genset_config import validate_genset

    d = validate_genset(ctx.store.load("genset") or {})
    d.update({"relay": False, "contact": False, "running_since": None, "state": "stopped",
              "reason": reason})
    return d


def get(ctx, req):
    if ctx.genset is None:
        return _idle_view(ctx, "generator control not configured")
    return ctx.genset.status()


def put(ctx, req):
    if ctx.genset is None:  # first configuration: validate, save, start the service
        from gateway.core.genset_config import validate_genset

        cfg = validate_genset(json_body(req), ctx.store.load("genset"))
        ctx.store.save("genset", cfg)
        ctx.event("config", "genset", "gs.configured", {"by": req.g.session["user"], "mode": cfg["mode"]})
        ctx.apply("genset")
        return _idle_view(ctx, "starting")
    old_mode = ctx.genset.controller.config["mode"]
    cfg = ctx.genset.set_config(json_body(req))
    who = req.g.session["user"]
    if cfg["mode"] != old_mode:
        ctx.event("genset", "genset", "gs.mode", {"from": old_mode, "to": cfg["mode"], "by": who})
    else:
        ctx.event("config", "genset", "gs.changed", {"by": who})
    return ctx.genset.status()


def service(ctx, req):
    if ctx.genset is None:
        return error(404, "generator control is not configured")
    ctx.genset.service_done()
    ctx.event("genset", "genset", "gs.serviced", {"by": req.g.session["user"]})
    return ctx.genset.status()


def delete(ctx, req):
    if ctx.store.load("genset") is None:
        return error(404, "generator control is not configured")
    ctx.store.delete("genset")
    ctx.event("config", "genset", "gs.removed", {"by": req.g.session["user"]})
    ctx.apply("genset")
    return _idle_view(ctx, "generator control not configured")


ROUTES = (
    ("GET", "genset", "user", get),
    ("PUT", "genset", "installer", put),
    ("DELETE", "genset", "installer", delete),
    ("POST", "genset/service", "installer", service),
)
