"""A real Home Assistant for `make test-ha`: installed into its own virtualenv, started headless
on loopback, onboarded through its REST API, with its MQTT integration pointed at our broker.

    python -m dingate.testing.homeassistant install   # what `make test-ha` runs first
"""
import json
import os
import subprocess
import sys

import requests

from ..paths import ROOT
from . import procs
from .broker import free_port
from .poll import HTTP_ERRORS, wait_until

VENV = os.path.join(ROOT, ".venv-ha")
REQUIREMENTS = os.path.join(ROOT, "tests", "ha", "requirements.txt")
HASS = os.path.join(VENV, "bin", "hass")
STAMP = os.path.join(VENV, ".requirements")

CONFIG = """homeassistant:
  name: dingate-test
  latitude: 50.85
  longitude: 4.35
  elevation: 0
  unit_system: metric
  time_zone: Europe/Brussels
  country: BE
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: %(port)d
api:
onboarding:
config:
recorder:
  commit_interval: 1
history:
energy:
logger:
  default: warning
"""


def installed():
    try:
        with open(STAMP) as f, open(REQUIREMENTS) as r:
            return f.read() == r.read() and os.path.exists(HASS)
    except OSError:
        return False


def install():
    """Create .venv-ha with the pinned requirements (idempotent: a stamp holds what was installed)."""
    if installed():
        return
    if not os.path.exists(os.path.join(VENV, "bin", "python")):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    pip = [os.path.join(VENV, "bin", "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(pip + ["install", "--quiet", "-r", REQUIREMENTS], check=True)
    with open(REQUIREMENTS) as r, open(STAMP, "w") as f:
        f.write(r.read())


class HomeAssistant:
    """One `hass` process on a free loopback port with a fresh configuration directory."""

    def __init__(self, config_dir):
        self.dir = str(config_dir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.token = None
        self.log_path = os.path.join(self.dir, "hass.log")

    def start(self, timeout=180):
        with open(os.path.join(self.dir, "configuration.yaml"), "w") as f:
            f.write(CONFIG % {"port": self.port})
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([HASS, "-c", self.dir, "--skip-pip"], stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: requests.get(self.url + "/api/onboarding", timeout=2).ok, timeout,
                   "Home Assistant's HTTP server", 0.3, HTTP_ERRORS, self.log, self.proc)
        self._onboard()
        return self

    def _onboard(self):
        client_id = self.url + "/"
        r = requests.post(self.url + "/api/onboarding/users", timeout=30, json={
            "client_id": client_id, "name": "Installer", "username": "installer",
            "password": "ha-test-password-1", "language": "en"})
        r.raise_for_status()
        r = requests.post(self.url + "/auth/token", timeout=30, data={
            "grant_type": "authorization_code", "code": r.json()["auth_code"],
            "client_id": client_id})
        r.raise_for_status()
        self.token = r.json()["access_token"]

    @property
    def headers(self):
        return {"Authorization": "Bearer " + self.token}

    def add_mqtt(self, port):
        """The MQTT integration, as a person adds it: a config flow with the broker's address."""
        r = requests.post(self.url + "/api/config/config_entries/flow", headers=self.headers,
                          json={"handler": "mqtt", "show_advanced_options": False}, timeout=30)
        r.raise_for_status()
        r = requests.post(self.url + "/api/config/config_entries/flow/" + r.json()["flow_id"],
                          headers=self.headers, json={"broker": "127.0.0.1", "port": port},
                          timeout=30)
        r.raise_for_status()
        result = r.json()
        assert result["type"] == "create_entry", result
        return result["result"]

    def states(self):
        r = requests.get(self.url + "/api/states", headers=self.headers, timeout=30)
        r.raise_for_status()
        return {s["entity_id"]: s for s in r.json()}

    def call_service(self, domain, service, data):
        r = requests.post(self.url + "/api/services/%s/%s" % (domain, service),
                          headers=self.headers, json=data, timeout=30)
        r.raise_for_status()
        return r.json()

    def ws(self, *commands):
        """Send websocket commands (dicts without id); the list of their results."""
        from websockets.sync.client import connect

        out = []
        with connect(self.url.replace("http", "ws", 1) + "/api/websocket",
                     open_timeout=30) as ws:
            assert json.loads(ws.recv())["type"] == "auth_required"
            ws.send(json.dumps({"type": "auth", "access_token": self.token}))
            assert json.loads(ws.recv())["type"] == "auth_ok"
            for i, cmd in enumerate(commands, 1):
                ws.send(json.dumps(dict(cmd, id=i)))
                while True:
                    msg = json.loads(ws.recv(timeout=60))
                    if msg.get("id") == i and msg["type"] == "result":
                        break
                if not msg["success"]:
                    raise RuntimeError("%s: %s" % (cmd["type"], msg.get("error")))
                out.append(msg["result"])
        return out

    def log(self):
        return procs.log_tail(self.log_path)

    def stop(self):
        procs.stop(self.proc, timeout=60)
        self.proc = None


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        install()
        print("Home Assistant installed in %s" % VENV)
    else:
        sys.exit("usage: python -m dingate.testing.homeassistant install")
