"""Which firmware modules go on the board: what boot.py and main.py reach, by feature.

``imported()`` follows the firmware's imports from its two scripts: ``import``/``from`` lines
(at any depth, lazy ones included) and module names in string constants (the names given to
gateway.core.ondemand, the API dispatch table, the resident set), docstrings aside.
firmware/manifest.py lists the same modules by feature; ``shipped(board)`` is what the build
copies: the imported modules but the features the board file leaves out.
"""
import ast
import os
import re

from .paths import FIRMWARE

SCRIPTS = ("boot", "main")
_NAME = re.compile(r"gateway(?:\.[a-z_0-9]+)+")


def modules():
    """{module name: source path} of every firmware module (the scripts included)."""
    out = {}
    for root, dirs, files in os.walk(os.path.join(FIRMWARE, "gateway")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                name = os.path.relpath(path, FIRMWARE)[:-3].replace(os.sep, ".")
                out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    for s in SCRIPTS:
        out[s] = os.path.join(FIRMWARE, s + ".py")
    return out


def references(name, path, known):
    """The firmware modules module ``name`` (at ``path``) refers to."""
    with open(path) as f:
        tree = ast.parse(f.read())
    docs = set(id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.rsplit(".", node.level)[0]
                base = pkg + ("." + base if base else "")
            names.add(base)
            names.update(base + "." + a.name for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            names.update(_NAME.findall(node.value))
    out = set()
    for n in names:
        parts = n.split(".")
        for i in range(1, len(parts) + 1):  # a package's __init__ is loaded with its modules
            if ".".join(parts[:i]) in known:
                out.add(".".join(parts[:i]))
    return out


def imported():
    """Every gateway module the firmware can load, from boot.py and main.py on."""
    known = modules()
    seen = set()
    todo = list(SCRIPTS)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(references(n, known[n], known) - seen)
    return set(n for n in seen if n not in SCRIPTS)


def features():
    """firmware/manifest.py's FEATURES: {feature: (module names)}."""
    scope = {}
    with open(os.path.join(FIRMWARE, "manifest.py")) as f:
        exec(compile(f.read(), "firmware/manifest.py", "exec"), scope)
    return scope["FEATURES"]


def shipped(board):
    """Module names the build ships for ``board``: the imported ones, minus the modules of the
    features its board file lists in "features_left_out"."""
    out = imported()
    feats = features()
    for feat in board.get("features_left_out") or ():
        out.difference_update(feats.get(feat, ()))
    return out


def source_path(name):
    """fs path on the board ("/lib/gateway/core/x.mpy") and the source of module ``name``."""
    path = modules()[name]
    rel = os.path.relpath(path, FIRMWARE)
    return "/lib/" + rel[:-3].replace(os.sep, "/") + ".mpy", path
