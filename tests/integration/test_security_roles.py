"""Every route of docs/openapi.yaml walked with no session, each role and a must_change user.

The expected answer comes from the operation's ``x-role``: a session below it gets 403, no
session 401, a session at or above it anything but 401/403. A user who must change the password
gets 403 code "must_change" on every /api route but their account, the password change and
logout. Write bodies are a JSON array (refused before any handler acts) so the walk changes
nothing; the destructive operations are checked for the refusals only.
"""
import os

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
    emu = EmulatorProcess()
    try:
        emu.start()
        emu.login()
        for name, role, must in (("walk-user", "user", False), ("walk-inst", "installer", False),
                                 ("walk-new", "installer", True)):
            r = emu.api("POST", "/api/users", {"user": name, "password": PW, "role": role,
                                               "must_change": must})
            assert r.status_code == 201, r.text
        out = {"none": requests.Session()}
        for key, name, pw in (("user", "walk-user", PW), ("installer", "walk-inst", PW),
                              ("admin", "admin", emu.admin_password), ("must_change", "walk-new", PW)):
            s = requests.Session()
            r = s.post(emu.url + "/api/login", json={"user": name, "password": pw}, timeout=10)
            assert r.status_code == 200, r.text
            s.headers["X-CSRF-Token"] = r.json()["csrf"]
            out[key] = s
        yield emu, out
    finally:
        emu.cleanup()


def _call(emu, s, method, path):
    kw = {"timeout": 20, "allow_redirects": False}
    if method != "GET":
        kw["json"] = []  # not an object: refused by the body parser before any handler acts
    return s.request(method, emu.url + _url(path), **kw)


@pytest.mark.parametrize("who", ["none", "user", "installer", "admin", "must_change"])
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
        r = _call(emu, ss[who], method, path)
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
