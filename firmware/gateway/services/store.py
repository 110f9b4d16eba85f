"""The device's configuration documents on flash (/data/cfg), through core.configstore."""
from gateway.core.configstore import ConfigStore

CFG = "/data/cfg"


class Store:
    """load(name) -> document or None; save(name, doc); problems reported once to the event log."""

    def __init__(self, root=CFG):
        self._cs = ConfigStore(root)
        self.root = root

    def load(self, name, validator=None):
        doc, _status = self._cs.load(name, validator=validator, default=None)
        return doc

    def save(self, name, doc, validator=None):
        self._cs.save(name, doc, validator=validator)

    def delete(self, name):
        self._cs.delete(name)

    def take_problems(self):
        out = list(self._cs.problems)
        del self._cs.problems[:]
        return out
