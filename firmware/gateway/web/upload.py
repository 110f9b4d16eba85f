"""Upload bodies read from ``req.stream`` in chunks (POST /api/restore, POST /api/firmware):
loaded with the route's module only (gateway.web.api_backup, gateway.web.api_firmware)."""
import os

from gateway.core.errors import ValidationError
from gateway.web.http import error

CHUNK = 1024


def free_bytes(path):
    try:
        st = os.statvfs(path)
        return st[0] * st[4]
    except (OSError, AttributeError):
        return None


async def drain(req, left):
    """Read and drop what is left of a body, so the client gets the answer and not a reset."""
    while left > 0:
        chunk = await req.stream.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


async def read_body(req, n, sink, got):
    """Feed the body's ``n`` bytes to ``sink`` in chunks; ``got[0]`` counts what was read (also
    when ``sink`` raises: what is left is then drained)."""
    while got[0] < n:
        chunk = await req.stream.read(min(CHUNK, n - got[0]))
        if not chunk:
            raise ValidationError(None, "the upload was cut short (%d of %d bytes)" % (got[0], n),
                                  "upload_cut")
        got[0] += len(chunk)
        sink(chunk)


def busy(ctx):
    return ctx.upload_busy


def length(req, limit, field):
    """None, or the error answer for a missing or too large Content-Length."""
    n = req.content_length
    if not n:
        return error(411 if "Content-Length" not in req.headers else 400,
                     "a body with a Content-Length is required", field)
    if n > limit:
        return error(413, "request body too large (at most %d bytes)" % limit, field)
    return None
