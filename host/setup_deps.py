"""Fetch the MicroPython packages pip cannot install (bare sdists with no setup.py).

micropython-modbus (umodbus) is such a package: `pip download --no-clean` unpacks it in pip's
temporary folder before giving up on it; we take the package from there into .venv/mp-lib,
where the tests put it on MICROPYPATH (an independent slave implementation and the benchmark peer).
"""
import os
import shutil
import subprocess
import sys
import tempfile

VENV = os.path.dirname(os.path.dirname(os.path.abspath(sys.executable)))
MP_LIB = os.path.join(VENV, "mp-lib")
SDISTS = {"micropython-modbus==2.3.7": "umodbus"}


def fetch(requirement, package):
    dest = os.path.join(MP_LIB, package)
    stamp = dest + ".version"
    if os.path.isdir(dest) and os.path.exists(stamp) and open(stamp).read() == requirement:
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TMPDIR=tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-clean",
             "--disable-pip-version-check", "-d", os.path.join(tmp, "dl"), requirement],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        for root, dirs, _files in os.walk(tmp):
            if package in dirs and os.path.exists(os.path.join(root, package, "__init__.py")):
                shutil.rmtree(dest, ignore_errors=True)
                os.makedirs(MP_LIB, exist_ok=True)
                shutil.copytree(os.path.join(root, package), dest)
                with open(stamp, "w") as f:
                    f.write(requirement)
                print("setup: %s -> %s" % (requirement, dest))
                return
    sys.exit("setup: could not unpack %s from its sdist" % requirement)


WASM32 = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "wasm32")


def npm_install(folder=WASM32):
    """The 32-bit MicroPython (WebAssembly port, npm) that `make bench` measures heap with
    (bench/heap32.py): installed into bench/wasm32/node_modules from its package.json."""
    npm = shutil.which("npm")
    if npm is None:
        print("setup: npm not found: the 32-bit heap figures of `make bench` need Node.js + npm")
        return
    stamp = os.path.join(folder, "node_modules", ".dingate-stamp")
    with open(os.path.join(folder, "package.json")) as f:
        want = f.read()
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    subprocess.run([npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--silent"],
                   cwd=folder, check=True)
    with open(stamp, "w") as f:
        f.write(want)
    print("setup: npm packages of %s installed" % folder)


if __name__ == "__main__":
    for req, pkg in SDISTS.items():
        fetch(req, pkg)
    npm_install()
