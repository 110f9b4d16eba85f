"""Request checks before any handler: CSRF token, JSON-only bodies, a forced password change.

- Every write by a session carries the session's token in ``X-CSRF-Token`` (the page sends it;
  GET /api/me and the login answer give it), compared in constant time; 403 code "csrf".
- A write with a body is JSON (``Content-Type: application/json``), 415 otherwise; the upload
  routes (firmware, restore) take any type, their token is still checked.
- A session whose account must change its password reaches only the password change, its own
  account, logout and status: anything else under /api is 403 code "must_change".
"""
from gateway.core.auth import csrf_ok
from gateway.web.http import error

WRITE_METHODS = ("POST", "PUT", "DELETE", "PATCH")
UPLOAD_PATHS = ("/api/firmware", "/api/restore")
NO_TOKEN = ("/api/login", "/api/logout")  # no session yet / ending one
MUST_CHANGE_OPEN = ("/api/me", "/api/me/password", "/api/logout", "/api/login", "/api/status")


def check(ctx, req):
    """An error response refusing ``req``, or None."""
    s = req.g.session
    path = req.path
    if req.method in WRITE_METHODS:
        if s is not None and path not in NO_TOKEN and not csrf_ok(s, req.headers.get("X-CSRF-Token")):
            return error(403, "missing or wrong CSRF token (X-CSRF-Token header)", None, "csrf")
        if req.content_length and path not in UPLOAD_PATHS:
            ctype = req.headers.get("Content-Type") or ""
            if ctype.split(";")[0].strip().lower() != "application/json":
                return error(415, "the body must be JSON (Content-Type: application/json)",
                             None, "json_only")
    if s is not None and path.startswith("/api/") and path not in MUST_CHANGE_OPEN:
        rec = ctx.users.get(s["user"])
        if rec is not None and rec.get("must_change"):
            return error(403, "change your password first", None, "must_change")
    return None
