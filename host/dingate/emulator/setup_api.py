"""Configure a new emulated device through its HTTP API, as an installer would (scenario "setup")."""
import http.client
import http.cookiejar
import json
import time
import urllib.error
import urllib.request

from gateway.core import passwords

ORDER = ("settings", "meters", "genset", "mqtt")  # meters before what refers to them
METER_REFS = {"genset": ("soc_source", "voltage")}  # {key: parts whose "meter" names a meter}


def with_meter_ids(key, item, ids):
    """``item`` with the meters its parts name (``METER_REFS``) given by the ids the device gave
    them (``ids``: {name: id}, from the setup's POSTs): a scenario names a meter, as the page
    shows it, not by an id that depends on the order meters were added."""
    for part in METER_REFS.get(key, ()):
        d = item.get(part)
        if isinstance(d, dict) and d.get("meter") in ids:
            item = dict(item, **{part: dict(d, meter=ids[d["meter"]])})
    return item


class ApiClient:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""  # the session's token, sent with every write (as the page does)

    def call(self, method, path, body=None, timeout=15):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "X-CSRF-Token": self.csrf})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                out = json.loads(r.read() or b"null")
                if path == "/api/login" and isinstance(out, dict):
                    self.csrf = out.get("csrf") or ""
                return r.status, out
        except urllib.error.HTTPError as e:
            try:
                return e.code, json.loads(e.read() or b"null")
            except ValueError:
                return e.code, "(not JSON)"
            except http.client.HTTPException:  # the body cut short
                return e.code, "(cut short)"
        except (OSError, http.client.HTTPException) as e:  # closed without an answer, or cut
            return 0, "no answer (%s)" % (e.__class__.__name__,)  # (a device out of heap)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call("GET", "/api/status", timeout=2)[0] == 200:
                return True
            time.sleep(0.2)
        return False


def apply(base, user, password, setup):
    """Apply ``setup`` ({"settings", "meters", "genset", "mqtt"}); returns the problems met."""
    api = ApiClient(base)
    if not api.wait_ready():
        return ["the device did not answer"]
    status, body = api.call("POST", "/api/login", {"user": user, "password": password})
    if status != 200:
        return ["login refused: %s" % body]
    problems = []
    # A generated password must be changed at first login, and until then the API refuses
    # everything else: the setup changes it for a while, then gives the account its printed
    # password back with the change still required, as a new device has it.
    must_change = isinstance(body, dict) and body.get("must_change")
    if must_change:
        status, body = api.call("PUT", "/api/me/password", {
            "old_password": password, "password": passwords.generate_password(16)})
        if status != 200:
            return ["password change refused: %s" % body]
    ids = {}  # the setup's meters by name: {name: id}
    for key in ORDER:
        if key not in setup:
            continue
        items = setup[key] if key == "meters" else [setup[key]]
        for item in items:
            method, path = ("POST", "/api/meters") if key == "meters" else ("PUT", "/api/" + key)
            status, body = api.call(method, path, with_meter_ids(key, item, ids))
            if status >= 300:
                problems.append("%s %s: %s" % (method, path, body))
            elif key == "meters" and isinstance(body, dict):
                ids[item.get("name")] = body.get("id")
    if must_change:
        status, body = api.call("PUT", "/api/users/" + user,
                                {"password": password, "must_change": True})
        if status != 200:
            problems.append("PUT /api/users/%s (the printed password back): %s" % (user, body))
    return problems
