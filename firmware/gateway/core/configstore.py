"""Configuration documents (``DOCS``: settings, meters, bus, ...) as versioned JSON.

    cs = ConfigStore("/data/cfg")
    cs.save("settings", doc, validator=check)      # atomic, keeps the last good copy
    doc, status = cs.load("settings", validator=check, default=None)

(the settings validator is gateway.core.settings, loaded on demand).

On flash: ``<name>.json`` (current), ``<name>.bak`` (previous good), ``<name>.tmp`` (being
written). Each holds ``{"v": schema, "gen": n, "data": ...}``. A save writes the tmp file,
renames the current file to .bak and the tmp file to the current name (rename is atomic on
littlefs and posix), so after a power cut at any point one complete, validated copy exists.

load() status: "ok"; "recovered" (the current file was missing but a complete .tmp was there:
the interrupted save is completed); "fallback" (current missing or corrupt: the .bak copy is
used and written back); "default" (nothing on flash: a fresh device); "corrupt" (files exist but
none is valid: ``default`` is returned, nothing is overwritten). Every status but "ok" and
"default" is also appended to ``self.problems`` as (name, status, detail) for the event log
(as is "discarded": an incomplete .tmp of a save that never completed was removed).
"""

import json
import os

SCHEMA = 1
# Every configuration document, the one list: a factory reset deletes them, a backup carries
# BACKUP_DOCS in this order (not "metrics": it holds the scrape token's hash). Device state
# (identity, genset_state) is not configuration.
DOCS = ("settings", "bus", "meters", "genset", "mqtt", "modbus_tcp", "wifi", "users", "outputs",
        "metrics")
BACKUP_DOCS = DOCS[:-1]


def mkdirs(path):
    p = "/" if path.startswith("/") else ""
    for part in path.strip("/").split("/"):
        if not part:
            continue
        p = p + part
        try:
            os.mkdir(p)
        except OSError:
            pass
        p += "/"


# (gateway.core.fwswitch keeps its own exists/remove_tree on purpose: it imports nothing of ours)
def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def remove_tree(path):
    """Remove a file or a directory with everything in it (nothing if it does not exist)."""
    if not exists(path):
        return
    if not is_dir(path):
        os.remove(path)
        return
    for name in os.listdir(path):
        remove_tree(path + "/" + name)
    os.rmdir(path)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def write_file(path, data):
    """Write bytes/str to path (one write), closing it (littlefs commits on close)."""
    f = open(path, "wb")
    try:
        if isinstance(data, str):
            data = data.encode()
        f.write(data)
    finally:
        f.close()
    return len(data)


def atomic_write(path, data):
    """Replace path with data atomically (write path.tmp, then rename). Returns bytes written."""
    tmp = path + ".tmp"
    n = write_file(tmp, data)
    os.rename(tmp, path)
    return n


def read_file(path):
    f = open(path, "rb")
    try:
        return f.read()
    finally:
        f.close()


def dumps(obj):
    """Compact JSON (no spaces after separators), as every document in flash is written."""
    try:
        return json.dumps(obj, separators=(",", ":"))
    except TypeError:  # very old MicroPython json without separators
        return json.dumps(obj)


class ConfigStore:
    def __init__(self, root):
        self.root = root.rstrip("/") if root != "/" else root
        mkdirs(self.root)
        self.problems = []
        self.bytes_written = 0
        self._gen = {}

    def _p(self, name, ext):
        if not name or "/" in name or "." in name:
            raise ValueError("bad document name")
        return "%s/%s.%s" % (self.root, name, ext)

    def _read(self, path, validator):
        """(data, gen) of a valid document file, or raise ValueError/OSError."""
        raw = read_file(path)
        doc = json.loads(raw)
        if not isinstance(doc, dict) or "data" not in doc or not isinstance(doc.get("gen"), int):
            raise ValueError("not a config document")
        if doc.get("v", 0) > SCHEMA:
            raise ValueError("document from a newer firmware (schema %s)" % doc.get("v"))
        data = doc["data"]
        if validator is not None:
            r = validator(data)
            if r is not None:
                data = r
        return data, doc["gen"]

    def load(self, name, validator=None, default=None):
        """(data, status): see the module doc. Never returns an empty document silently."""
        cur = self._p(name, "json")
        bak = self._p(name, "bak")
        tmp = self._p(name, "tmp")
        errors = []
        try:
            data, gen = self._read(cur, validator)
            self._gen[name] = gen
            return data, "ok"
        except (OSError, ValueError, TypeError, KeyError) as e:
            if exists(cur):
                errors.append("current: %s" % _errtext(e))
        # an interrupted save: tmp complete and current not yet renamed into place
        if not exists(cur):
            try:
                data, gen = self._read(tmp, validator)
                os.rename(tmp, cur)
                self._gen[name] = gen
                self.problems.append((name, "recovered", "completed an interrupted save"))
                return data, "recovered"
            except (OSError, ValueError, TypeError, KeyError):
                if exists(tmp):  # a save cut short before it completed: never acknowledged
                    _remove(tmp)
                    self.problems.append((name, "discarded", "removed an incomplete save"))
        try:
            data, gen = self._read(bak, validator)
            self._gen[name] = gen
            detail = "; ".join(errors) if errors else "current copy missing"
            self.problems.append((name, "fallback", "using the last good copy (%s)" % detail))
            try:
                atomic_write(cur, read_file(bak))
            except OSError:
                pass
            return data, "fallback"
        except (OSError, ValueError, TypeError, KeyError) as e:
            if exists(bak):
                errors.append("bak: %s" % _errtext(e))
        if errors:
            self.problems.append((name, "corrupt", "; ".join(errors)))
            return default, "corrupt"
        return default, "default"

    def save(self, name, data, validator=None):
        """Validate (ValidationError) then write atomically, keeping the previous good copy.
        Returns the stored data (as normalized by the validator)."""
        if validator is not None:
            r = validator(data)
            if r is not None:
                data = r
        cur = self._p(name, "json")
        bak = self._p(name, "bak")
        tmp = self._p(name, "tmp")
        gen = self._gen.get(name, 0) + 1
        text = dumps({"v": SCHEMA, "gen": gen, "data": data})
        self.bytes_written += write_file(tmp, text)
        if exists(cur):
            try:
                self._read(cur, None)
                os.rename(cur, bak)  # the current copy is good: it becomes the last good one
            except (OSError, ValueError, TypeError, KeyError):
                _remove(cur)
        os.rename(tmp, cur)
        self._gen[name] = gen
        return data

    def delete(self, name):
        for ext in ("json", "bak", "tmp"):
            _remove(self._p(name, ext))
        self._gen.pop(name, None)


def _errtext(e):
    if isinstance(e, OSError):
        return "OSError %s" % (e.args[0] if e.args else "")
    return "%s: %s" % (type(e).__name__, e)
