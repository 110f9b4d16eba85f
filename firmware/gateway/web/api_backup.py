"""/api/backup, /api/restore, /api/firmware (on demand, admin).

GET /api/backup       the configuration as a JSON file, streamed document by document
                      (gateway.core.backup: the format, what is left out: every secret).
POST /api/restore     a backup file: streamed into a temp file, parsed from it, every document
                      checked with the API's validators, all or nothing; then saved, and reboot.
GET /api/firmware     what an update can do here (version, board, ROMFS, room for the upload).
POST /api/firmware    a firmware bundle (gateway.core.fwbundle; `dingate build` writes
                      build/firmware.tar) as application/octet-stream: read 1 KiB at a time into a
                      staging tree, checked (each member's SHA-256, and the whole body's against
                      X-Firmware-SHA256 when given) before anything is replaced; then reboot.
                      A device whose code runs from a ROMFS partition needs vfs.rom_ioctl to
                      rewrite it (written at the next boot, by boot.py): without it the update is
                      refused (409) with nothing changed.

Bodies over 4 KiB are refused everywhere else (413, gateway.web.server); these two routes read
theirs from ``req.stream`` (microdot leaves a body over ``Request.max_body_length`` unread).
"""
import gc
import json
import os
import sys

from gateway import VERSION
from gateway.core import backup
from gateway.core.errors import ValidationError
from gateway.web.http import error

CHUNK = 1024
RESTORE_MAX = 64 * 1024
FIRMWARE_MAX = 1024 * 1024
RESTORE_TMP = "/data/restore.tmp"
SPARE = 64 * 1024  # flash left free after staging an update (history, config saves)
SECRET_KEYS = ("hash", "password", "ap_password", "session_secret")


# --- backup ---------------------------------------------------------------------------------------

def _date(t):
    from gateway.core.tz import utc_parts

    y, m, d = utc_parts(int(t))[:3]
    return "%04d-%02d-%02d" % (y, m, d)


def _backup_docs(ctx):
    """(name, document) pairs of the backup, secrets left out. Built before the response is
    sent (it imports what it needs while this module is loaded); lists go out item by item."""
    from gateway.core import mqtt_config

    docs = [("settings", ctx.settings), ("bus", ctx.meters.bus), ("meters", ctx.meters.meters)]
    g = ctx.genset.controller.config if ctx.genset is not None else ctx.store.load("genset")
    if g is not None:
        docs.append(("genset", g))
    serial = ctx.identity["serial"]
    docs.append(("mqtt", mqtt_config.public_view(ctx.store.load("mqtt")
                                                 or mqtt_config.defaults(serial))))
    from gateway.core import modbus_tcp_config

    docs.append(("modbus_tcp", modbus_tcp_config.validate({}, ctx.store.load(
        modbus_tcp_config.STORE_KEY))))
    docs.append(("wifi", backup.public_wifi(ctx.wifi.cfg)))
    docs.append(("users", backup.public_users(ctx.users.records())))
    return docs


def _backup_stream(head, docs):
    """The backup file, piece by piece (never the whole file as one string)."""
    text = json.dumps(head)
    yield text[:-1]  # without the header's closing brace: the documents follow
    for name, doc in docs:
        if isinstance(doc, list):
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


# --- uploads --------------------------------------------------------------------------------------

def _free_bytes(path):
    try:
        st = os.statvfs(path)
        return st[0] * st[4]
    except (OSError, AttributeError):
        return None


async def _drain(req, left):
    """Read and drop what is left of a body, so the client gets the answer and not a reset."""
    while left > 0:
        chunk = await req.stream.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


async def _read_body(req, n, sink, got):
    """Feed the body's ``n`` bytes to ``sink`` in chunks; ``got[0]`` counts what was read (also
    when ``sink`` raises: what is left is then drained)."""
    while got[0] < n:
        chunk = await req.stream.read(min(CHUNK, n - got[0]))
        if not chunk:
            raise ValidationError(None, "the upload was cut short (%d of %d bytes)" % (got[0], n))
        got[0] += len(chunk)
        sink(chunk)


def _busy(ctx):
    return getattr(ctx, "upload_busy", False)


def _length(req, limit, field):
    n = req.content_length
    if not n:
        return error(411 if "Content-Length" not in req.headers else 400,
                     "a body with a Content-Length is required", field)
    if n > limit:
        return error(413, "request body too large (at most %d bytes)" % limit, field)
    return None


# --- restore --------------------------------------------------------------------------------------

async def restore(ctx, req):
    bad = _length(req, RESTORE_MAX, "restore")
    if bad:
        return bad
    if _busy(ctx):
        return error(409, "another upload is in progress")
    ctx.upload_busy = True
    n = req.content_length
    got = [0]
    try:
        f = open(RESTORE_TMP, "wb")
        try:
            await _read_body(req, n, f.write, got)
        finally:
            f.close()
        gc.collect()
        f = open(RESTORE_TMP)
        try:
            doc = json.load(f)
        except ValueError:
            raise ValidationError("restore", "this file is not a JSON backup")
        finally:
            f.close()
        _remove(RESTORE_TMP)
        who = req.g.session["user"]
        current = {"serial": ctx.identity["serial"], "mqtt": ctx.store.load("mqtt"),
                   "wifi": ctx.wifi.cfg, "users": ctx.users.records(), "me": who,
                   "taken_ports": (ctx.board.get("http", {}).get("port", 80),)}
        plan = backup.check_restore(doc, current)
        doc = None
        _save(ctx, plan["docs"])
    except ValidationError:
        await _drain(req, n - got[0])
        raise
    finally:
        _remove(RESTORE_TMP)
        ctx.upload_busy = False
    for name in plan["revoke"]:
        ctx.revoke_user(name)
    ctx.event("config", "restore", "configuration restored by %s (%s); rebooting" % (
        who, ", ".join(sorted(plan["docs"]))))
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


# --- firmware -------------------------------------------------------------------------------------

def _rom_ioctl():
    try:
        import vfs
    except ImportError:
        return None
    return getattr(vfs, "rom_ioctl", None)


def _runs_from_rom():
    from gateway.core.fwbundle import exists

    return "/rom/lib" in sys.path and exists("/rom/lib/gateway")


def firmware_info(ctx, req):
    from gateway.core import fwbundle

    rom = _rom_ioctl()
    return {"version": VERSION, "board": ctx.board.get("name"), "format": fwbundle.FORMAT,
            "code_in_romfs": _runs_from_rom(), "romfs_writable": rom is not None,
            "romfs_size": fwbundle.rom_capacity(rom), "max_upload": FIRMWARE_MAX,
            "free_bytes": _free_bytes("/")}


def _want_sha(req):
    text = req.headers.get("X-Firmware-SHA256")
    if text is None:
        return None
    text = text.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValidationError("X-Firmware-SHA256", "X-Firmware-SHA256 must be 64 hex digits")
    return text


async def firmware(ctx, req):
    import hashlib

    from gateway.core import fwbundle

    try:
        want = _want_sha(req)
    except ValidationError:
        await _drain(req, req.content_length)
        raise
    bad = _length(req, FIRMWARE_MAX, "firmware")
    if bad:
        return bad
    n = req.content_length
    free = _free_bytes("/")
    if free is not None and n + SPARE > free:
        await _drain(req, n)
        return error(507, "not enough flash for this update (%d bytes free)" % free, "firmware")
    if _busy(ctx):
        await _drain(req, n)
        return error(409, "another upload is in progress")
    ctx.upload_busy = True
    stager = fwbundle.Stager()
    got = [0]
    try:
        fwbundle.remove_tree(fwbundle.STAGE)
        unpacker = fwbundle.Unpacker(stager, ctx.board.get("name"))
        whole = hashlib.sha256()

        def sink(chunk):
            whole.update(chunk)
            unpacker.feed(chunk)

        try:
            await _read_body(req, n, sink, got)
            manifest = unpacker.finish()
            digest = fwbundle._hex(whole.digest())
            if want is not None and digest != want:
                raise ValidationError("X-Firmware-SHA256",
                                      "SHA-256 mismatch: the upload is damaged, nothing changed")
        except ValidationError:
            stager.abort()
            await _drain(req, n - got[0])
            raise
        except BaseException:  # noqa: B036 - MemoryError, OSError, a lost client: drop it all
            stager.abort()
            raise
        has_rom = fwbundle.staged_romfs()
        has_code = fwbundle.exists(fwbundle.STAGE + "/lib")
        rom = _rom_ioctl()
        in_rom = _runs_from_rom()
        if has_code and in_rom:
            if rom is None:
                stager.abort()
                return error(409, "this device runs its code from a ROMFS partition and its "
                             "MicroPython has no vfs.rom_ioctl to rewrite it: nothing changed "
                             "(update it with `dingate deploy` or `dingate flash`)", "firmware")
            if not has_rom:
                stager.abort()
                raise ValidationError("firmware", "this device runs its code from ROMFS: the "
                                      "bundle needs its romfs.img")
        if has_rom:
            part = fwbundle.STAGE + "/" + fwbundle.ROMFS_PART
            if rom is None or not in_rom:
                os.remove(part)  # this device runs its code from /lib
                has_rom = False
            else:
                size = os.stat(part)[6]
                cap = fwbundle.rom_capacity(rom)
                if size > cap:
                    stager.abort()
                    raise ValidationError("firmware", "the ROMFS image (%d bytes) is larger than "
                                          "this device's partition (%d bytes)" % (size, cap))
                # the commit point: from here boot.py writes the image at the next boot
                fwbundle.commit_romfs()
        # from here on the device changes: the littlefs files now, the ROMFS at the next boot
        count = 0
        for _ in fwbundle.install_files():
            count += 1
            if not count % 8:
                await _yield()
        if not has_rom:
            fwbundle.remove_tree(fwbundle.STAGE)
    finally:
        ctx.upload_busy = False
    who = req.g.session["user"]
    ctx.event("system", "firmware", "firmware %s installed by %s (%d files%s); rebooting" % (
        manifest["version"], who, count, ", ROMFS at boot" if has_rom else ""))
    ctx.request_reboot("firmware update to %s by %s" % (manifest["version"], who))
    return {"ok": True, "reboot": True, "version": manifest["version"], "files": count,
            "romfs": "at boot" if has_rom else "not used", "sha256": digest}


async def _yield():
    import asyncio

    await asyncio.sleep(0)


ROUTES = (
    ("GET", "backup", "admin", get_backup),
    ("POST", "restore", "admin", restore),
    ("GET", "firmware", "admin", firmware_info),
    ("POST", "firmware", "admin", firmware),
)
