"""Every route of docs/openapi.yaml walked with no session, each role and a must_change user.

The expected answer comes from the operation's ``x-role``: a session below it gets 403, no
session 401, a session at or above it anything but 401/403. A user who must change the password
gets 403 code "must_change" on every /api route but their account, the password change and
logout. Write bodies are a JSON array (refused before any handler acts) so the walk changes
nothing; the destructive operations are checked for the refusals only.

The tenant (an account bound to one meter of two) also walks every route open to tenants with
real query parameters: its own meter answers, the other meter's id or name never appears, and
asking for the other meter is 403.
"""
import json
import os
import time

import pytest
import requests
import yaml

from dingate.testing.emuproc import EmulatorProcess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")
RANK = {"public": 0, "tenant": 1, "user": 2, "installer": 3, "admin": 4}
DESTRUCTIVE = {("POST", "/api/system/reboot"), ("POST", "/api/system/factory-reset"),
               ("POST", "/api/restore"), ("POST", "/api/firmware"), ("POST", "/api/login"),
               ("POST", "/api/logout"), ("PUT", "/api/me/password")}
MUST_CHANGE_OPEN = {"/api/me", "/api/me/password", "/api/logout", "/api/login", "/api/status"}
PARAMS = {"{name}": "nobody-here", "{id}": "999"}
PW = "role-walk-pw-1"
OTHER_NAME = "Neighbour-meter-x7"  # the meter the tenant is not bound to: never in its answers


def _operations():
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield method.upper(), path, op.get("x-role", "admin")


def _url(path):
    for k, v in PARAMS.items():
        path = path.replace(k, v)
    if path.startswith("/static/"):
        path = "/static/app.js"
    return path


@pytest.fixture(scope="module")
def sessions():
    with EmulatorProcess() as emu:
        emu.login()
        ids = emu.add_meters({"name": "Tenant own meter", "address": 2, "profile": "sdm120"},
                             {"name": OTHER_NAME, "address": 3, "profile": "sdm120"})
        emu.meter_ids = ids  # [the tenant's, the other]
        emu.add_users(*[{"user": name, "password": PW, "role": role, "must_change": must}
                        for name, role, must in (("walk-user", "user", False),
                                                 ("walk-inst", "installer", False),
                                                 ("walk-new", "installer", True))])
        emu.add_users({"user": "walk-tenant", "password": PW, "role": "tenant", "meters": ids[:1]})
        out = {"none": requests.Session()}
        for key, name, pw in (("user", "walk-user", PW), ("installer", "walk-inst", PW),
                              ("admin", "admin", emu.admin_password), ("must_change", "walk-new", PW),
                              ("tenant", "walk-tenant", PW)):
            out[key] = emu.session_as(name, pw)
        yield emu, out


def _call(emu, s, method, path, url=None):
    kw = {"timeout": 20, "allow_redirects": False}
    if method != "GET":
        kw["json"] = []  # not an object: refused by the body parser before any handler acts
    return s.request(method, emu.url + (url or _url(path)), **kw)


@pytest.mark.parametrize("who", ["none", "tenant", "user", "installer", "admin", "must_change"])
def test_role_walk(sessions, who):
    emu, ss = sessions
    wrong = []
    for method, path, role in _operations():
        need = RANK[role]
        if who == "none":
            want = "pass" if need == 0 else 401
        elif who == "must_change" and path.startswith("/api/") and path not in MUST_CHANGE_OPEN:
            want = "must_change"
        else:
            have = RANK["installer" if who == "must_change" else who]
            want = "pass" if have >= need else 403
        if (method, path) in DESTRUCTIVE and want == "pass":
            continue  # only the refusals of these are walked
        url = None
        if who == "tenant" and role == "tenant":
            url = _url(path.replace("{id}", emu.meter_ids[0])) + "?meter=" + emu.meter_ids[0]  # its own
        r = _call(emu, ss[who], method, path, url)
        if want == "pass":
            ok = r.status_code not in (401, 403) and r.status_code < 500
        elif want == "must_change":
            ok = r.status_code == 403 and r.json().get("code") == "must_change"
        else:
            ok = r.status_code == want
        if not ok:
            wrong.append("%s %s as %s: want %s, got %s %s" % (method, path, who, want, r.status_code,
                                                              r.text[:120]))
    assert not wrong, "\n".join(wrong)


def _param(spec, p):
    if "$ref" in p:
        return spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
    return p


def _query(spec, op, meter):
    """Query parameters for ``op``: the meter asked for, a recent day, this month."""
    now = int(time.time())
    values = {"meter": meter, "from": now - 86400, "to": now + 60,
              "month": time.strftime("%Y-%m", time.gmtime(now))}
    out = {}
    for p in op.get("parameters", []):
        p = _param(spec, p)
        if p.get("in") == "query" and p["name"] in values:
            out[p["name"]] = values[p["name"]]
    return out


def _meter_refs(obj, ids, key=None):
    """Meter ids an answer refers to: values of "id"/"meter", keys of a dict keyed by meter."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ids:
                yield k
            yield from _meter_refs(v, ids, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _meter_refs(v, ids, key)
    elif key in ("id", "meter", "meters") and str(obj) in ids:
        yield str(obj)


def test_tenant_sees_only_its_meter(sessions):
    emu, ss = sessions
    s = ss["tenant"]
    mine, other = emu.meter_ids
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    emu.wait_for(lambda: all(r["status"] == "ok" for r in emu.api("GET", "/api/readings").json()
                             .values()), timeout=30, what="both meters read")
    wrong = []
    n = 0
    for path, ops in spec["paths"].items():
        op = ops.get("get")
        if op is None or op.get("x-role") != "tenant":
            continue
        scoped = "{id}" in path or "meter" in _query(spec, op, "x")
        for meter in (mine, other) if scoped else (mine,):
            n += 1
            r = s.get(emu.url + path.replace("{id}", meter), params=_query(spec, op, meter),
                      timeout=20, allow_redirects=False)
            what = "GET %s (meter %s): %s %s" % (path, meter, r.status_code, r.text[:120])
            if meter == other:
                if r.status_code != 403:
                    wrong.append(what)
                continue
            if r.status_code in (401, 403) or r.status_code >= 500 or OTHER_NAME in r.text:
                wrong.append(what)
            elif r.headers.get("Content-Type", "").startswith("application/json"):
                if other in set(_meter_refs(r.json(), {mine, other})):
                    wrong.append(what + " names the other meter")
    assert n >= 15 and not wrong, "\n".join(wrong)
    # the same checks see the other meter where it may be seen (an admin's answers)
    assert OTHER_NAME in emu.api("GET", "/api/meters").text
    assert other in set(_meter_refs(emu.api("GET", "/api/readings").json(), {mine, other}))
    # the readings a tenant gets: its meter's, polled, and nothing else (snapshot and live stream)
    assert list(s.get(emu.url + "/api/readings", timeout=10).json()) == [mine]
    with s.get(emu.url + "/api/live", headers={"Accept": "text/event-stream"}, stream=True,
               timeout=20) as r:
        assert r.status_code == 200, r.text
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: {") and '"status"' in line:
                data = json.loads(line[6:])
                assert list(data) == [mine], data
                break
