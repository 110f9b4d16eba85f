"""Start `dingate emulate` as a separate process on free ports, for tests and benchmarks."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import requests

from . import procs
from .poll import HTTP_ERRORS, wait_until

SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulator",
                         "scenarios")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MODULES_OWN = "gateway.web.api_system"  # what GET /api/system/modules loads for itself


def only_resident_loaded(modules):
    """A GET /api/system/modules answer in which the request itself is the only on-demand call
    open and its own module the only one loaded beyond the resident set."""
    return modules["open_calls"] == 1 and modules["on_demand"] == [MODULES_OWN]


def with_repl_port(state_dir, extra_args=()):
    """An EmulatorProcess (not started) whose USB serial line (the REPL) is on a free port:
    ``.repl_port``, for mpremote, `dingate deploy` and `dingate provision`."""
    port = free_port()
    emu = EmulatorProcess(state_dir=state_dir, extra_args=["--repl-port", str(port)] + list(extra_args))
    emu.repl_port = port
    return emu


class EmulatorProcess:
    """A running emulated gateway. ``api()`` keeps the session cookie between calls."""

    def __init__(self, admin_password="correct-horse-42", scenario=None, bus=None, state_dir=None,
                 extra_args=(), log_path=None, demo=False):
        """``admin_password`` None: a generated one, to be changed at first login (``label()``
        has it); ``demo``: the demo world with its setup, as `make run` starts it."""
        self.admin_password = admin_password
        self.http_port = free_port()
        self.control_port = free_port()
        self._own_state = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="dingate-state-")
        # the demo devices and networks, without the demo's setup: tests configure what they need
        self.scenario = None if demo else scenario or os.path.join(SCENARIOS, "devices.json")
        self.bus = bus
        self.extra_args = list(extra_args)
        self.log_path = log_path or os.path.join(self.state_dir, "emulator.log")
        self.proc = None
        self.session = requests.Session()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    @property
    def panel_url(self):
        return "http://127.0.0.1:%d" % self.control_port

    def start(self, timeout=60):
        exe = os.path.join(os.path.dirname(sys.executable), "dingate")
        cmd = [exe, "emulate", "--http-port", str(self.http_port), "--control-port",
               str(self.control_port), "--state-dir", self.state_dir] + self.extra_args
        if self.admin_password:
            cmd += ["--admin-password", self.admin_password]
        if self.scenario:
            cmd += ["--scenario", self.scenario]
        if self.bus:
            cmd += ["--bus", self.bus]
        os.makedirs(self.state_dir, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60):
        def status():
            r = requests.get(self.url + "/api/status", timeout=2)
            return r.json() if r.status_code == 200 else None

        return wait_until(status, timeout, "the emulator's /api/status",
                          errors=requests.RequestException, detail=self.log, process=self.proc)

    def log(self):
        return procs.log_tail(self.log_path)

    def console(self):
        """The whole console log (``log`` is its tail)."""
        return procs.log_tail(self.log_path, None)

    def boots(self):
        """How many times the firmware has come up ("mem: running" on the console)."""
        return self.console().count("mem: running")

    def wait_reboot(self, boots_before, timeout=90, what="the reboot"):
        """Until the firmware has come up again (more than ``boots_before`` boots) and serves;
        the /api/status answer."""
        self.wait_for(lambda: self.boots() > boots_before, timeout=timeout, what=what)
        return self.wait_ready()

    def label(self):
        with open(os.path.join(self.state_dir, "label.json")) as f:
            return json.load(f)

    def api(self, method, path, body=None, **kw):
        kw.setdefault("timeout", 10)
        if body is not None:
            kw["json"] = body
        r = self.session.request(method, self.url + path, **kw)
        if path == "/api/login" and r.status_code == 200:
            # every later write of the session carries its CSRF token, as the page does
            self.session.headers["X-CSRF-Token"] = r.json().get("csrf", "")
        return r

    def login(self, user="admin", password=None):
        r = self.api("POST", "/api/login", {"user": user, "password": password or self.admin_password})
        assert r.status_code == 200, r.text
        return r

    def create(self, path, *bodies):
        """POST each body to ``path`` (each must be created: 201); the answers, in order."""
        out = []
        for body in bodies:
            r = self.api("POST", path, body)
            assert r.status_code == 201, r.text
            out.append(r.json())
        return out

    def add_meters(self, *bodies):
        """Create each meter (/api/meters); their ids, in order."""
        return [m["id"] for m in self.create("/api/meters", *bodies)]

    def record_often(self, sample_s=15, flush_s=20):
        """The recorder samples every meter every ``sample_s`` and flushes every ``flush_s``
        (instead of at the next 10-minute boundary of the wall clock): a soak or a bench then
        has the ring's coding state on the heap after ``recorded_since_boot()``."""
        r = self.api("GET", "/api/settings")
        settings = r.json()
        settings.update(sample_interval_s=sample_s, flush_interval_s=flush_s)
        r = self.api("PUT", "/api/settings", settings)
        assert r.status_code == 200, r.text

    def recorded_since_boot(self):
        """The recorder has written to the ring since the boot (GET /api/system "recordings")."""
        r = self.api("GET", "/api/system")
        return r.status_code == 200 and r.json()["recordings"]["writes"] > 0

    def add_users(self, *bodies):
        """Create each user (/api/users); the answers, in order."""
        return self.create("/api/users", *bodies)

    def session_as(self, user, password, csrf=True):
        """A new HTTP session logged in as ``user``, beside the admin's own ``session``; with
        ``csrf`` its CSRF token goes with every call, as the page sends it. ``.login_answer``
        holds the answer to the login."""
        s = requests.Session()
        r = s.post(self.url + "/api/login", json={"user": user, "password": password}, timeout=10)
        assert r.status_code == 200, r.text
        if csrf:
            s.headers["X-CSRF-Token"] = r.json()["csrf"]
        s.login_answer = r.json()
        return s

    def modbus_tcp_on(self, timeout=20):
        """Switch the Modbus TCP server on at a free port (PUT /api/modbus-tcp) and wait until it
        runs; its port."""
        port = free_port()
        r = self.api("PUT", "/api/modbus-tcp", {"enabled": True, "port": port})
        assert r.status_code == 200, r.text
        self.wait_for(lambda: self.api("GET", "/api/modbus-tcp").json()["state"]["running"],
                      timeout=timeout, what="the Modbus TCP server running")
        return port

    def hw(self):
        return requests.get(self.panel_url + "/api/hw", timeout=5).json()

    def hw_post(self, path, body):
        return requests.post(self.panel_url + path, json=body, timeout=70)

    def wait_for(self, predicate, timeout=30, interval=0.2, what="condition"):
        """Poll ``predicate()`` until it returns a truthy value; return it or fail at the deadline."""
        return wait_until(predicate, timeout, what, interval, HTTP_ERRORS, self.log)

    def stop(self, sig=signal.SIGINT, timeout=20):
        procs.stop(self.proc, sig, timeout, group=True)
        if getattr(self, "_log", None):
            self._log.close()

    def kill(self):
        """Power cut of the whole emulator (host side included)."""
        self.stop(sig=signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:  # a start that failed half way leaves nothing running
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
