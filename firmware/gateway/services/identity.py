"""Device identity: serial, AP password, session secret, first admin account.

Provisioning (`dingate provision`, or the emulator on a new device) leaves /provision.json on the
filesystem: {"serial", "ap_password", "admin_hash", "update_key"} (update_key: hex, the key
firmware bundles must be signed with, gateway.core.fwbundle; any of them may be left out). At boot it is taken into the config store
and removed; the identity record (kept by a factory reset) keeps the provisioned admin login,
so after a reset the label's passwords still work. A board flashed without provisioning gets a serial from its MAC and generated
passwords, printed once on the console (the label of last resort).
"""
import binascii
import os

# run at boot through gateway.core.ondemand: nothing here stays in RAM
from gateway.core import passwords

PROVISION_FILE = "/provision.json"


def _read_provision():
    import json

    try:
        with open(PROVISION_FILE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_identity(store, users, mac_hex):
    ident = store.load("identity") or {}
    prov = _read_provision()
    changed = False
    if prov:
        for key in ("serial", "ap_password", "update_key"):  # update_key: firmware signatures
            if prov.get(key):
                ident[key] = prov[key]
                changed = True
        if prov.get("admin_hash"):
            users.set_hash(prov.get("admin_user", "admin"), "admin", prov["admin_hash"],
                           must_change=bool(prov.get("must_change")))
            # the label's admin login, kept in the identity record that a factory reset keeps
            ident["admin"] = [prov.get("admin_user", "admin"), prov["admin_hash"],
                              bool(prov.get("must_change"))]
            changed = True
    if not ident.get("serial"):
        ident["serial"] = "DG" + mac_hex[-6:].upper()
        changed = True
    if not ident.get("ap_password"):
        ident["ap_password"] = passwords.generate_password(12)
        print("AP password (not provisioned): %s" % ident["ap_password"])
        changed = True
    if not ident.get("session_secret"):
        ident["session_secret"] = binascii.hexlify(os.urandom(32)).decode()
        changed = True
    if changed:
        store.save("identity", ident)
    if prov:
        os.remove(PROVISION_FILE)
    if not users.any() and ident.get("admin"):  # after a factory reset: the label's login again
        name, pw_hash, must_change = ident["admin"]
        users.set_hash(name, "admin", pw_hash, must_change=must_change)
        print("admin account restored from the provisioning record (the label's password)")
    if not users.any():
        pw = passwords.generate_password(12)
        users.set_hash("admin", "admin", passwords.hash_password(pw), must_change=True)
        print("admin password (not provisioned): %s" % pw)
    return ident
