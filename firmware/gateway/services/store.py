"""The configuration documents of the device (/data/cfg), one JSON file each."""
import json
import os

DATA = "/data"
CFG = DATA + "/cfg"


def _mkdirs(path):
    p = ""
    for part in path.strip("/").split("/"):
        p += "/" + part
        try:
            os.mkdir(p)
        except OSError:
            pass


class Store:
    def __init__(self, root=CFG):
        self.root = root
        _mkdirs(root)

    def _path(self, name):
        return "%s/%s.json" % (self.root, name)

    def load(self, name):
        try:
            with open(self._path(name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def save(self, name, doc):
        tmp = self._path(name) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, self._path(name))
