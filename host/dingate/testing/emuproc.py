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

from .poll import HTTP_ERRORS, wait_until

SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulator",
                         "scenarios")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
                 extra_args=(), log_path=None):
        self.admin_password = admin_password
        self.http_port = free_port()
        self.control_port = free_port()
        self._own_state = state_dir is None
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="dingate-state-")
        # the demo devices and networks, without the demo's setup: tests configure what they need
        self.scenario = scenario or os.path.join(SCENARIOS, "devices.json")
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
               str(self.control_port), "--state-dir", self.state_dir,
               "--admin-password", self.admin_password] + self.extra_args
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
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-6000:].decode(errors="replace")
        except OSError:
            return ""

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

    def add_meters(self, *bodies):
        """POST each meter body to /api/meters (each must be created); their ids, in order."""
        ids = []
        for body in bodies:
            r = self.api("POST", "/api/meters", body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        return ids

    def hw(self):
        return requests.get(self.panel_url + "/api/hw", timeout=5).json()

    def hw_post(self, path, body):
        return requests.post(self.panel_url + path, json=body, timeout=70)

    def wait_for(self, predicate, timeout=30, interval=0.2, what="condition"):
        """Poll ``predicate()`` until it returns a truthy value; return it or fail at the deadline."""
        return wait_until(predicate, timeout, what, interval, HTTP_ERRORS, self.log)

    def stop(self, sig=signal.SIGINT, timeout=20):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
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
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
