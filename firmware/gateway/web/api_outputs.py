"""/api/outputs (on demand): the board's plain relay outputs (every relay but the genset's),
their configuration (core/outputs.py) and their on/off command (services/outputs.py).

PUT /api/outputs/<id> takes any configuration keys and ``"on"``: a changed configuration is
saved (the output becomes configured: Home Assistant gets its switch), the command is not
(switching writes nothing to flash). DELETE unconfigures it (switched off, switch deleted)."""
from gateway.core import check
from gateway.core.outputs import check_id, plain_ids, validate_plain_output
from gateway.web.http import error, json_body

DOC = "outputs"


def _idle(ctx, oid, doc, on=False):
    """An output's view while the service does not run (nothing configured yet)."""
    d = validate_plain_output(oid, doc.get(oid) or {})
    d.update({"id": oid, "configured": oid in doc, "on": on, "closed": False})
    return d


def list_outputs(ctx, req):
    if ctx.outputs is not None:
        return ctx.outputs.status()
    doc = ctx.store.load(DOC) or {}
    return [_idle(ctx, oid, doc) for oid in plain_ids(ctx.board.get("relays", []))]


def get(ctx, req, oid):
    check_id(oid, ctx.board.get("relays", []))
    if ctx.outputs is not None:
        return ctx.outputs.view(oid)
    return _idle(ctx, oid, ctx.store.load(DOC) or {})


def put(ctx, req, oid):
    check_id(oid, ctx.board.get("relays", []))
    body = json_body(req)
    on = body.pop("on", None)
    if on is not None:
        on = check.boolean("on", on)
    doc = ctx.store.load(DOC) or {}
    cfg = validate_plain_output(oid, body, doc.get(oid))
    who = req.g.session["user"]
    changed = doc.get(oid) != cfg
    if changed:
        doc[oid] = cfg
        ctx.store.save(DOC, doc)
        ctx.event("config", "output " + oid, "out.configured", {"id": oid, "name": cfg["name"], "by": who})
    svc = ctx.outputs
    if svc is None:  # the first configured output: the service starts outside the request
        if on is not None:
            ctx.services[DOC].pending[oid] = (on, who)
        ctx.apply(DOC)
        return _idle(ctx, oid, doc, bool(on))
    if changed:
        svc.configure(oid, cfg)
        ctx.mqtt.outputs_changed()
    if on is not None:
        svc.switch(oid, on, who)
    return svc.view(oid)


def delete(ctx, req, oid):
    check_id(oid, ctx.board.get("relays", []))
    doc = ctx.store.load(DOC) or {}
    if oid not in doc:
        return error(404, "output %s is not configured" % oid, "id")
    del doc[oid]
    if doc:
        ctx.store.save(DOC, doc)
    else:
        ctx.store.delete(DOC)
    ctx.event("config", "output " + oid, "out.removed", {"id": oid, "by": req.g.session["user"]})
    svc = ctx.outputs
    if svc is not None and doc:
        svc.remove(oid)
        ctx.mqtt.outputs_changed()
    elif not doc:
        ctx.apply(DOC)  # none left: the service stops, every contact open
    return _idle(ctx, oid, doc)


ROUTES = (
    ("GET", "outputs", "user", list_outputs),
    ("GET", "outputs/<id>", "user", get),
    ("PUT", "outputs/<id>", "installer", put),
    ("DELETE", "outputs/<id>", "installer", delete),
)
