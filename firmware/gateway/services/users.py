"""User accounts persisted in the config store (passwords only as salted PBKDF2 hashes)."""
from gateway.core import ondemand

ACCOUNTS = "gateway.core.accounts"


class Users:
    def __init__(self, store, on_revoke):
        self._store = store
        self._on_revoke = on_revoke  # called with a user name whose sessions must end
        self._users = store.load("users") or {}

    def get(self, name):
        return self._users.get(name)

    def records(self):
        return self._users

    def any(self):
        return bool(self._users)

    def public_list(self):
        return ondemand.call(ACCOUNTS, "public_list", self._users)

    def _commit(self, users):
        """Save -> apply: when the save fails (503) the running accounts are unchanged."""
        self._store.save("users", users)
        self._users = users

    def _with(self, name, rec):
        users = dict(self._users)
        users[name] = rec
        self._commit(users)

    def set_hash(self, name, role, pw_hash, must_change=False):
        """Provisioning: install an account from a hash made elsewhere (the host's provision)."""
        self._with(name, {"role": role, "hash": pw_hash, "disabled": False, "must_change": must_change})

    def create(self, data):
        valid = ondemand.call(ACCOUNTS, "validate_user", data, self._users)
        name = valid["user"]
        self._with(name, ondemand.call(ACCOUNTS, "make_record", valid))
        return ondemand.call(ACCOUNTS, "public_user", name, self._users[name])

    def update(self, name, data, by_self=False):
        cur = self._users[name]
        if by_self:  # a user may change only their own password
            data = {"password": data.get("password"), "role": cur["role"],
                    "disabled": cur.get("disabled", False), "must_change": False}
        valid = ondemand.call(ACCOUNTS, "validate_user", data, self._users, name)
        new = ondemand.call(ACCOUNTS, "make_record", valid, cur)
        self._with(name, new)
        if new["disabled"] or new["role"] != cur["role"] or (valid.get("password") and not by_self):
            self._on_revoke(name)
        return ondemand.call(ACCOUNTS, "public_user", name, new)

    def delete(self, name):
        ondemand.call(ACCOUNTS, "validate_delete", name, self._users)
        users = dict(self._users)
        del users[name]
        self._commit(users)
        self._on_revoke(name)
