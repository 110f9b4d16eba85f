"""HTTP helpers shared by the API modules: JSON errors, body parsing, role checks."""
import json

from microdot import Response

from gateway.core.errors import ValidationError

MAX_JSON = 4096


def error(status, message, field=None, code=None, params=None):
    """A JSON error; ``code``/``params`` let the page translate it (see core.errors)."""
    body = {"error": message}
    if field is not None:
        body["field"] = field
    if code is not None:
        body["code"] = code
        if params:
            body["params"] = params
    return Response(body, status_code=status)


def _surrogate_escape(b):
    """Does the JSON text ``b`` escape a UTF-16 surrogate ("\\ud800")? MicroPython's json
    would turn it into a string that is not UTF-8, echoed back by errors and GETs."""
    i = b.find(b"\\u")
    while i >= 0:
        n = 0
        while i - n > 0 and b[i - n - 1:i - n] == b"\\":
            n += 1
        if not n % 2 and b[i + 2:i + 3] in (b"d", b"D") and b[i + 3:i + 4] in (
                b"8", b"9", b"a", b"b", b"c", b"d", b"e", b"f", b"A", b"B", b"C", b"D", b"E", b"F"):
            return True
        i = b.find(b"\\u", i + 2)
    return False


MAX_DEPTH = 6  # the deepest document the API takes is a meter: {registers: [{...}]}


class JsonDepth:
    """How deep a JSON text nests its objects/arrays, fed in pieces (bytes): ``feed`` returns
    True once it goes deeper than ``limit``. Checked on the bytes before parsing: a 600-deep
    document must not cost the parser's heap."""

    def __init__(self, limit=MAX_DEPTH):
        self.limit = limit
        self.depth = 0
        self.quoted = self.escaped = False

    def feed(self, b):
        depth, quoted, escaped = self.depth, self.quoted, self.escaped
        for c in b:
            if quoted:
                if escaped:
                    escaped = False
                elif c == 92:  # backslash
                    escaped = True
                elif c == 34:  # "
                    quoted = False
            elif c == 34:
                quoted = True
            elif c == 123 or c == 91:  # { [
                depth += 1
                if depth > self.limit:
                    return True
            elif c == 125 or c == 93:
                depth -= 1
        self.depth, self.quoted, self.escaped = depth, quoted, escaped
        return False


def json_body(req):
    """The request's JSON object; ValidationError (-> 400) when it is not one."""
    if req.content_length > MAX_JSON:
        raise ValidationError(None, "body too large", "too_large")
    body = req.body or b"null"
    try:
        text = body.decode()  # checks the UTF-8
    except ValueError:  # UnicodeError
        raise ValidationError(None, "the body is not UTF-8 text", "json")
    if JsonDepth().feed(body):
        raise ValidationError(None, "the JSON nests deeper than %d levels" % MAX_DEPTH, "too_deep")
    if _surrogate_escape(body):
        raise ValidationError(None, "text with a UTF-16 surrogate (\\ud800-\\udfff) is refused", "json")
    try:
        data = json.loads(text)
    except ValueError:
        raise ValidationError(None, "malformed JSON", "json")
    if not isinstance(data, dict):
        raise ValidationError(None, "a JSON object is expected", "format")
    return data


def plain(reading):
    """A poller reading ``{"status", "ts", "values"}`` with its values as a dict, for json.dumps
    (the poller keeps them as a core.values.Values)."""
    v = reading.get("values")
    if v is not None and not isinstance(v, dict):
        reading = dict(reading)
        reading["values"] = v.to_dict()
    return reading


def json_stream(items, each=None):
    """A JSON array (a list, or a dict's items) sent piece by piece: never one big string.
    ``each``: applied to a dict's every value before it is encoded (``plain``)."""
    if isinstance(items, dict):
        yield "{"
        first = True
        for k, v in items.items():
            if each is not None:
                v = each(v)
            yield ("%s: %s" if first else ", %s: %s") % (json.dumps(k), json.dumps(v))
            first = False
        yield "}"
        return
    yield "["
    first = True
    for item in items:
        yield json.dumps(item) if first else ", " + json.dumps(item)
        first = False
    yield "]"


def stream(items, status=200, each=None):
    return Response(json_stream(items, each), status, {"Content-Type": "application/json; charset=UTF-8"})


def require(role):
    """Decorator: the handler runs only for a session whose role allows ``role``."""
    from gateway.core.auth import role_allows

    def wrap(handler):
        async def checked(req, *args, **kwargs):
            who = req.g.session
            if who is None:
                return error(401, "login required")
            if not role_allows(who["role"], role):
                return error(403, "role %s required" % role)
            res = handler(req, *args, **kwargs)
            if hasattr(res, "send"):  # a coroutine
                res = await res
            return res

        return checked

    return wrap


def meter_scope(ctx, req):
    """The meter ids the session may see (None = every meter; a tenant: its own)."""
    from gateway.core.auth import meter_scope as scope

    s = req.g.session
    return scope(s["role"], ctx.users.get(s["user"]))


def meter_allowed(ctx, req, mid):
    sc = meter_scope(ctx, req)
    return sc is None or str(mid) in sc


def forbidden_meter():
    return error(403, "not one of your meters", "meter")
