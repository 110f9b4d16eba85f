"""Configure a new emulated device through its HTTP API, as an installer would (scenario "setup")."""
import http.client
import http.cookiejar
import json
import time
import urllib.error
import urllib.request

from gateway.core import passwords

ORDER = ("settings", "meters", "genset", "mqtt")  # meters before what refers to them
BUSY_TRIES = 3
ONCE = ("/api/me/password",)  # a write not sent twice: its old password may be gone


def again(method, path):
    """May a request answered "busy" be sent again as it is? Reads, and writes that do the same
    twice (PUT; a login, which only opens one more session); not a password change, nor a POST
    that adds (a second meter): ``ApiClient.call``'s ``took_effect`` checks those first."""
    return method == "GET" or method == "PUT" and path not in ONCE or path == "/api/login"


def _retry_after(value):
    """Seconds to wait from a Retry-After header (in seconds), 1 to 5."""
    try:
        return max(1.0, min(float(value or 1), 5.0))
    except ValueError:
        return 1.0


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

    def call(self, method, path, body=None, timeout=15, took_effect=None):
        """(status, JSON body); 0 and a text when the device gave no answer. A 503 "busy" (the
        device short of heap, maybe after the write took effect) is waited out as it says
        (Retry-After), up to ``BUSY_TRIES`` times: a request that does the same twice
        (``again``) is sent again, as the page does; one that must not be sent twice (a
        password change, a POST that adds) only when ``took_effect()`` ((status, body) of the
        write, or None) says it did not."""
        for i in range(BUSY_TRIES):
            status, out, wait = self._call(method, path, body, timeout)
            if status != 503:
                break
            if took_effect is None and (i == BUSY_TRIES - 1 or not again(method, path)):
                break
            time.sleep(wait)
            done = took_effect and took_effect()
            if done:
                return done
        return status, out

    def _call(self, method, path, body, timeout):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "X-CSRF-Token": self.csrf})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                out = json.loads(r.read() or b"null")
                if path == "/api/login" and isinstance(out, dict):
                    self.csrf = out.get("csrf") or ""
                return r.status, out, 0
        except urllib.error.HTTPError as e:
            wait = _retry_after(e.headers.get("Retry-After"))
            try:
                return e.code, json.loads(e.read() or b"null"), wait
            except ValueError:
                return e.code, "(not JSON)", wait
            except http.client.HTTPException:  # the body cut short
                return e.code, "(cut short)", wait
        except (OSError, http.client.HTTPException) as e:  # closed without an answer, or cut
            return 0, "no answer (%s)" % (e.__class__.__name__,), 0  # (a device out of heap)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call("GET", "/api/status", timeout=2)[0] == 200:
                return True
            time.sleep(0.2)
        return False


def _answered(result, status):
    """``result`` (status, body) when its status is ``status``, else None."""
    return result if result[0] == status else None


def _listed(api, meter):
    """(201, the meter) when the device lists a meter of ``meter``'s name (added), else None."""
    status, listed = api.call("GET", "/api/meters")
    found = [m for m in listed if isinstance(m, dict) and m.get("name") == meter.get("name")] \
        if status == 200 and isinstance(listed, list) else []
    return (201, found[0]) if found else None


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
        new = passwords.generate_password(16)
        status, body = api.call(
            "PUT", "/api/me/password", {"old_password": password, "password": new},
            took_effect=lambda: _answered(
                api.call("POST", "/api/login", {"user": user, "password": new}), 200))
        if status != 200:
            return ["password change refused: %s" % body]
    ids = {}  # the setup's meters by name: {name: id}
    for key in ORDER:
        if key not in setup:
            continue
        items = setup[key] if key == "meters" else [setup[key]]
        for item in items:
            if key == "meters":
                method, path = "POST", "/api/meters"
                status, body = api.call(method, path, item, took_effect=lambda m=item: _listed(api, m))
            else:
                method, path = "PUT", "/api/" + key
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
