"""/api/backup, /api/restore (on demand, admin; /api/firmware: gateway.web.api_firmware).

GET /api/backup       the configuration as a JSON file, streamed document by document
                      (gateway.core.backup: the format, what is left out: every secret).
POST /api/restore     a backup file: streamed into a temp file, parsed from it, every document
                      checked with the API's validators, all or nothing; then saved, and reboot.

Bodies over 4 KiB are refused everywhere else (413, gateway.web.server); these two routes read
theirs from ``req.stream`` (microdot leaves a body over ``Request.max_body_length`` unread).
"""
import gc
import json
import os

from gateway import VERSION
from gateway.core import backup
from gateway.core.errors import ValidationError
from gateway.services.meters import GONE
from gateway.web.http import JsonDepth, error
from gateway.web.upload import busy, drain, length, read_body

RESTORE_MAX = 64 * 1024
RESTORE_DEPTH = 10  # a backup nests 4 levels; deeper is hostile
RESTORE_TMP = "/data/restore.tmp"
SECRET_KEYS = ("hash", "password", "ap_password", "session_secret")


# --- backup ---------------------------------------------------------------------------------------

def _date(t):
    from gateway.core.tz import utc_parts

    y, m, d = utc_parts(int(t))[:3]
    return "%04d-%02d-%02d" % (y, m, d)


def _backup_docs(ctx):
    """(name, document) pairs of the backup, secrets left out. Built before the response is
    sent (it imports what it needs while this module is loaded); lists go out item by item."""
    gone = ctx.board.get("features_left_out") or ()  # their documents: not on this board
    docs = [("settings", ctx.settings), ("bus", ctx.meters.bus), ("meters", ctx.meters.meters)]
    g = ctx.genset.controller.config if ctx.genset is not None else ctx.store.load("genset")
    if g is not None and "genset" not in gone:
        docs.append(("genset", g))
    serial = ctx.identity["serial"]
    if "mqtt" not in gone:
        from gateway.core import mqtt_config

        docs.append(("mqtt", mqtt_config.public_view(ctx.store.load("mqtt")
                                                     or mqtt_config.defaults(serial))))
    if "modbus_tcp" not in gone:
        from gateway.core import modbus_tcp_config

        docs.append(("modbus_tcp", modbus_tcp_config.validate({}, ctx.store.load(
            modbus_tcp_config.STORE_KEY))))
    docs.append(("wifi", backup.public_wifi(ctx.wifi.cfg)))
    docs.append(("users", backup.public_users(ctx.users.records())))
    outputs = ctx.store.load("outputs")
    if outputs:
        docs.append(("outputs", outputs))
    # billing (tariffs, month-ends, statements): not restored, read by `dingate statement`
    docs.append(("billing", lambda: _billing_items(ctx.store.load("billing"),
                                                   ctx.storage.billing.root,
                                                   ctx.store.load(GONE))))
    return docs


def _billing_items(cfg, root, gone):
    """{"config"}, {"names"} (deleted meters' names) then {"file", "text"} per billing file,
    read one at a time."""
    from gateway.core.configstore import read_file

    yield {"config": cfg or {}}
    yield {"names": gone or {}}
    for n in sorted(os.listdir(root)):
        if n.endswith(".json"):
            yield {"file": n, "text": read_file(root + "/" + n).decode()}


def _backup_stream(head, docs):
    """The backup file, piece by piece (never the whole file as one string)."""
    text = json.dumps(head)
    yield text[:-1]  # without the header's closing brace: the documents follow
    for name, doc in docs:
        if callable(doc):  # a generator of the list's items, made when they are sent
            doc = doc()
        if not isinstance(doc, (dict, str, int, float, bool)) and doc is not None:
            yield ',\n"%s": [' % name
            first = True
            for item in doc:
                yield ("\n  " if first else ",\n  ") + json.dumps(_no_secrets(item))
                first = False
            yield "]"
        else:
            yield ',\n"%s": %s' % (name, json.dumps(_no_secrets(doc)))
    yield "\n}\n"


def _no_secrets(doc):
    if isinstance(doc, dict):
        for k in SECRET_KEYS:
            if k in doc:
                doc = dict(doc)
                doc.pop(k)
    return doc


def get_backup(ctx, req):
    from microdot import Response

    serial = ctx.identity["serial"]
    now = ctx.now()
    head = backup.header(serial, VERSION, ctx.board.get("name"), now)
    name = "dingate-%s-%s.json" % (serial, _date(now))
    # sent after this module is released: the generator holds what it needs itself
    return Response(_backup_stream(head, _backup_docs(ctx)), 200,
                    {"Content-Type": "application/json; charset=UTF-8",
                     "Content-Disposition": 'attachment; filename="%s"' % name,
                     "Cache-Control": "no-store"})


# --- restore --------------------------------------------------------------------------------------

async def restore(ctx, req):
    bad = length(req, RESTORE_MAX, "restore")
    if bad:
        return bad
    if busy(ctx):
        return error(409, "another upload is in progress")
    ctx.upload_busy = True
    n = req.content_length
    got = [0]
    try:
        f = open(RESTORE_TMP, "wb")
        depth = JsonDepth(RESTORE_DEPTH)

        def sink(chunk):
            if depth.feed(chunk):  # refused before json.load could spend the heap on it
                raise ValidationError("restore", "the backup nests deeper than %d levels"
                                      % RESTORE_DEPTH, "too_deep")
            f.write(chunk)

        try:
            await read_body(req, n, sink, got)
        finally:
            f.close()
        gc.collect()
        f = open(RESTORE_TMP)
        try:
            doc = json.load(f)
        except ValueError:
            raise ValidationError("restore", "this file is not a JSON backup", "not_backup")
        finally:
            f.close()
        _remove(RESTORE_TMP)
        who = req.g.session["user"]
        current = {"serial": ctx.identity["serial"], "mqtt": ctx.store.load("mqtt"),
                   "wifi": ctx.wifi.cfg, "users": ctx.users.records(), "me": who,
                   "taken_ports": (ctx.board.get("http", {}).get("port", 80),),
                   "relays": ctx.board.get("relays", []), "board": ctx.board.get("name"),
                   "left_out": ctx.board.get("features_left_out") or (),
                   "meters": [m["id"] for m in ctx.meters.meters]}
        plan = backup.check_restore(doc, current)
        doc = None
        _save(ctx, plan["docs"])
    except ValidationError:
        await drain(req, n - got[0])
        raise
    finally:
        _remove(RESTORE_TMP)
        ctx.upload_busy = False
    for name in plan["revoke"]:
        ctx.revoke_user(name)
    ctx.event("config", "restore", "restore", {"by": who, "docs": ", ".join(sorted(plan["docs"]))})
    for note in plan["kept"] + plan["notes"]:  # kept in the log: the page is gone with the reboot
        ctx.event("config", "restore", "restore.note", {"note": note})
    ctx.request_reboot("configuration restored by %s" % who)
    return {"ok": True, "reboot": True, "restored": sorted(plan["docs"]), "kept": plan["kept"],
            "notes": plan["notes"]}


def _save(ctx, docs):
    """Save every document; on a flash error put back the ones already saved."""
    old = {}
    try:
        for name in backup.DOCS:
            if name in docs:
                old[name] = ctx.store.load(name)
                ctx.store.save(name, docs[name])
        users = docs.get("users")
        if users is not None:  # the running service's table too, until the reboot
            recs = ctx.users.records()
            recs.clear()
            recs.update(users)
    except OSError:
        for name, doc in old.items():
            if doc is None:
                ctx.store.delete(name)
            else:
                ctx.store.save(name, doc)
        raise


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


ROUTES = (
    ("GET", "backup", "admin", get_backup),
    ("POST", "restore", "admin", restore),
)
