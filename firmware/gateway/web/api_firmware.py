"""/api/firmware (on demand, admin): what an update can do here; receive a signed bundle.

GET /api/firmware     version, board, ROMFS, room, whether the device has an update key, and
                      where `dingate build` writes this board's bundle.
POST /api/firmware    a signed firmware bundle (gateway.core.fwbundle; `dingate build` writes
                      build/<board>/firmware.tar) as application/octet-stream: refused early when
                      flash (507), heap (507) or the size limit (413) cannot take it; else read
                      through one 1 KiB buffer into the staging tree /fw.new (only the files that
                      differ from the installed ones), checked (signature, version, each member's
                      SHA-256, the whole body's against X-Firmware-SHA256 when given) before
                      anything changes; committed by one rename; then reboot: boot.py switches the
                      files and writes the ROMFS (gateway.core.fwswitch, docs/decisions/0006).
                      Any failure removes the staging, keeps the running firmware, logs why.
                      A device whose code runs from a ROMFS partition needs vfs.rom_ioctl to
                      rewrite it: without it the update is refused (409) with nothing changed.
"""
import gc
import os
import sys

from gateway import VERSION
from gateway.core.errors import ValidationError
from gateway.web.http import error
from gateway.web.upload import CHUNK, busy, drain, free_bytes, length

FIRMWARE_MAX = 2 * 1024 * 1024  # the emulator's bundle is ~1.05 MB (tar headers ~30 %); read 1 KiB at a time
SPARE = 64 * 1024  # flash left free after staging an update (history, config saves)
FIRMWARE_HEAP = 12 * 1024  # free heap an upload needs: 1 KiB buffer, hashes, a littlefs file


def _rom_ioctl():
    try:
        import vfs
    except ImportError:
        return None
    return getattr(vfs, "rom_ioctl", None)


def _runs_from_rom():
    from gateway.core.fwswitch import exists

    return "/rom/lib" in sys.path and exists("/rom/lib/gateway")


def firmware_info(ctx, req):
    from gateway.core import fwbundle

    rom = _rom_ioctl()
    return {"version": VERSION, "board": ctx.board.get("name"), "format": fwbundle.FORMAT,
            "code_in_romfs": _runs_from_rom(), "romfs_writable": rom is not None,
            "romfs_size": fwbundle.rom_capacity(rom), "max_upload": FIRMWARE_MAX,
            "free_bytes": free_bytes("/"), "signed": _update_key(ctx) is not None,
            "bundle": "build/%s/firmware.tar" % ctx.board.get("name")}


def _want_sha(req):
    text = req.headers.get("X-Firmware-SHA256")
    if text is None:
        return None
    text = text.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValidationError("X-Firmware-SHA256", "X-Firmware-SHA256 must be 64 hex digits",
                              "format")
    return text


def _update_key(ctx):
    """The device's update key (bytes, set by `dingate provision`), or None."""
    import binascii

    text = ctx.identity.get("update_key")
    try:
        return binascii.unhexlify(text) if text else None
    except ValueError:
        return None


def _refused(ctx, status, message, field="firmware", code=None, params=None):
    ctx.event("system", "firmware", "fw.refused", {"status": status, "error": message})
    return error(status, message, field, code, params)


async def _receive(req, n, feed, got):
    """The body's ``n`` bytes to ``feed(memoryview)`` through one fixed buffer; ``got[0]`` counts
    what was read (also when ``feed`` raises: the caller drains the rest)."""
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    readinto = getattr(req.stream, "readinto", None)
    while got[0] < n:
        k = min(CHUNK, n - got[0])
        if readinto is not None:
            r = await readinto(mv[:k])
            if r is None:
                continue
        else:
            chunk = await req.stream.read(k)
            r = len(chunk)
            buf[:r] = chunk
            chunk = None
        if not r:
            raise ValidationError("firmware", "the upload was cut short (%d of %d bytes)"
                                  % (got[0], n), "upload_cut")
        got[0] += r
        feed(mv[:r])


async def firmware(ctx, req):
    """Receive, verify, stage; commit in one rename; the next boot switches (boot.py)."""
    import hashlib

    from gateway.core import fwbundle, fwswitch

    n = req.content_length
    try:
        want = _want_sha(req)
    except ValidationError as e:
        await drain(req, n)
        return _refused(ctx, 400, e.message, e.field, e.code)
    bad = length(req, FIRMWARE_MAX, "firmware")
    if bad:
        return bad
    if busy(ctx):
        await drain(req, n)
        return error(409, "another upload is in progress")
    rom = _rom_ioctl()
    in_rom = _runs_from_rom()
    if in_rom and rom is None:
        await drain(req, n)
        return _refused(ctx, 409, "this device runs its code from a ROMFS partition and its "
                        "MicroPython has no vfs.rom_ioctl to rewrite it: nothing changed "
                        "(update it with `dingate deploy` or `dingate flash`)", code="fw_rom_ioctl")
    key = _update_key(ctx)
    if key is None:
        await drain(req, n)
        return _refused(ctx, 409, "this device has no update key: provision it "
                        "(dingate provision) to take signed bundles", code="fw_key")
    # what an earlier upload left (refused, cut short, or committed but not booted) goes first
    fwswitch.remove_tree(fwswitch.STAGE)
    fwswitch.remove_tree(fwswitch.READY)
    # only the files that differ from the installed ones are staged (fwbundle.Stager): the flash
    # is checked before each one, and at once here for the spare the data needs
    free = free_bytes("/")
    if free is not None and free < SPARE + 2 * fwbundle.BLOCK:
        await drain(req, n)
        return _refused(ctx, 507, "not enough flash for an update (%d bytes free)" % free,
                        code="fw_room")
    gc.collect()  # an upload is rare: a collection here is not on the hot path
    if gc.mem_free() < FIRMWARE_HEAP:
        await drain(req, n)
        return _refused(ctx, 507, "not enough free memory for an update now (%d bytes, %d "
                        "needed): try again later" % (gc.mem_free(), FIRMWARE_HEAP), code="fw_memory")
    ctx.upload_busy = True
    stager = fwbundle.Stager(spare=SPARE, free=lambda: free_bytes("/"))
    got = [0]
    try:
        unpacker = fwbundle.Unpacker(stager, ctx.board.get("name"), key, VERSION)
        whole = hashlib.sha256()

        def feed(mv):
            whole.update(mv)
            unpacker.feed(mv)

        try:
            await _receive(req, n, feed, got)
            manifest = unpacker.finish()
            digest = fwbundle._hex(whole.digest())
            if want is not None and digest != want:
                raise ValidationError("X-Firmware-SHA256",
                                      "SHA-256 mismatch: the upload is damaged, nothing changed",
                                      "upload_cut")
            staged_rom = fwswitch.STAGE + "/" + fwbundle.ROMFS
            has_rom = fwswitch.exists(staged_rom)
            if in_rom:
                if not has_rom:
                    raise ValidationError("firmware", "this device runs its code from ROMFS: "
                                          "the bundle needs its romfs.img", "fw_needs_rom")
                size, cap = os.stat(staged_rom)[6], fwbundle.rom_capacity(rom)
                if size > cap:
                    raise ValidationError("firmware", "the ROMFS image (%d bytes) is larger "
                                          "than this device's partition (%d bytes)" % (size, cap),
                                          "fw_rom_size")
            elif has_rom:
                os.remove(staged_rom)  # this device runs its code from /lib
                has_rom = False
        except ValidationError as e:
            stager.abort()
            await drain(req, n - got[0])
            return _refused(ctx, 400, e.message, e.field, e.code, e.params)
        except fwbundle.NoRoom as e:
            stager.abort()
            await drain(req, n - got[0])
            return _refused(ctx, 507, str(e), code="fw_room")
        except BaseException as e:  # noqa: B036 - MemoryError, OSError, a lost client: drop it all
            stager.abort()
            ctx.event("system", "firmware", "fw.failed", {"error": repr(e)})
            raise
        # the commit point (one rename): from here the next boot switches to the new firmware
        fwswitch.commit()
    finally:
        ctx.upload_busy = False
    who = req.g.session["user"]
    ctx.event("system", "firmware", "fw.received", {"version": manifest["version"], "by": who,
              "n": manifest["files"], "rom": ", ROMFS" if has_rom else ""})
    ctx.request_reboot("firmware update to %s by %s" % (manifest["version"], who))
    return {"ok": True, "reboot": True, "version": manifest["version"],
            "files": manifest["files"], "unchanged": stager.kept,
            "romfs": "at boot" if has_rom else "not used", "sha256": digest}


ROUTES = (
    ("GET", "firmware", "admin", firmware_info),
    ("POST", "firmware", "admin", firmware),
)
