"""Configuration backup and restore: the file GET /api/backup writes and POST /api/restore checks.

Configuration-time code: loaded for the request only (gateway.web.api_backup), with the
validators it imports.

The file is one JSON object::

    {"format": "dingate-backup", "version": 1, "serial": "DG12AB34", "firmware": "0.1.0",
     "board": "esp32-...", "created": 1795000000, "secrets": "...",
     "settings": {...}, "bus": {...}, "meters": [{...}, ...], "genset": {...},
     "mqtt": {...}, "modbus_tcp": {...}, "wifi": {"ssid": ..., "ip": ...} | null,
     "users": [{...}, ...]}

Secrets are write-only (docs/openapi.yaml), so the backup carries none: no password hash, no
Wi-Fi key, no MQTT password, no AP password, no session secret (``identity`` is not backed up at
all: the serial is there for information only). A restore therefore keeps the device's own
secrets; secret keys found in a file (edited by hand) are ignored, never stored.

Restore rules, per document (a document absent from the file is left as it is):
  settings, bus, genset,  validated like PUT /api/settings, /api/bus, /api/genset,
  modbus_tcp              /api/modbus-tcp from the defaults (the file gives the whole document),
                          then replace the device's.
  meters                  every meter validated like POST /api/meters against the ones before it
                          in the file, keeping its id (history and the genset refer to it);
                          the list replaces the device's.
  mqtt                    validated like PUT /api/mqtt over the device's current settings, so the
                          device's broker password is kept, unless the file names another
                          broker or no user (then dropped, and said in "notes").
  wifi                    the station: only if it names the network the device is set for now
                          (its key is not in the file): the static IP settings are restored and
                          the key kept. Another network, or none, leaves the device's Wi-Fi as it
                          is (reported in "kept"): the device must stay reachable.
  outputs                 the plain relay outputs, validated like PUT /api/outputs/<id> against
                          this device's board (a relay it lacks is refused).
  users                   accounts here get their role, disabled flag and a tenant's meters from
                          the file (their password stays); accounts only in the file are created
                          disabled, with no usable password and must_change set (an admin gives
                          them one); accounts only here are kept. The account doing the restore
                          is never demoted or disabled, and the last enabled admin rule holds.
A document of a feature the board file leaves out (``DOC_FEATURE``; "features_left_out" in
``current["left_out"]``) is not restored, and "notes" says so: its validators are not on the
board. Everything is checked before anything is saved: the first error is raised as ValidationError
with the field in the file ("meters[2].address", "genset.start_soc", ...). A reference to a meter
the device will not have (the generator's source, a tenant's binding) is restored as it is and
said in "notes".
"""
from gateway.core import check, ondemand
from gateway.core.configstore import BACKUP_DOCS
from gateway.core.errors import ValidationError

FORMAT = "dingate-backup"
VERSION = 1
DOCS = BACKUP_DOCS  # the configuration documents a backup carries (core/configstore.py)
SECRETS_NOTE = ("no secrets: user passwords, the Wi-Fi key, the MQTT password and the device's "
                "AP password and session secret stay on the device")
LOCKED_HASH = "!"  # no password can match it (gateway.core.passwords only accepts its own scheme)
WIFI_PUBLIC = ("ssid", "ip", "netmask", "gateway", "dns")
# the documents of optional features (firmware/manifest.py): a board may leave them out
DOC_FEATURE = {"genset": "genset", "mqtt": "mqtt", "modbus_tcp": "modbus_tcp"}


def header(serial, firmware, board, created):
    return {"format": FORMAT, "version": VERSION, "serial": serial, "firmware": firmware,
            "board": board, "created": created, "secrets": SECRETS_NOTE}


def public_wifi(cfg):
    """The station settings without the key (None when no station is set)."""
    if not cfg or not cfg.get("ssid"):
        return None
    return dict((k, cfg[k]) for k in WIFI_PUBLIC if k in cfg)


def public_users(records):
    """The accounts without their password hashes, sorted by name."""
    from gateway.core.accounts import public_list

    return public_list(records)


def _prefixed(name, exc):
    f = exc.field
    code, params = getattr(exc, "code", None), getattr(exc, "params", None)
    if f is None or f == "":
        return ValidationError(name, exc.message, code, params)
    if f.startswith("["):
        return ValidationError(name + f, exc.message, code, params)
    return ValidationError(name + "." + f, exc.message, code, params)


def check_header(doc):
    if not isinstance(doc, dict):
        raise ValidationError("restore", "a backup is a JSON object", "not_backup")
    if doc.get("format") != FORMAT:
        raise ValidationError("format", 'not a dingate backup (format must be "%s")' % FORMAT,
                              "not_backup")
    v = doc.get("version")
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValidationError("version", "version must be a positive integer", "not_backup")
    if v > VERSION:
        raise ValidationError("version", "backup from a newer firmware (version %d)" % v,
                              "backup_newer", {"version": v})


def _meters(lst):
    from gateway.core.meters import validate_meter

    if not isinstance(lst, list):
        raise ValidationError("meters", "meters must be a list", "format")
    out = []
    ids = set()
    for i, m in enumerate(lst):
        name = "meters[%d]" % i
        check.obj(name, m)
        mid = m.get("id")
        if isinstance(mid, int) and not isinstance(mid, bool):
            mid = str(mid)
        if not isinstance(mid, str) or not mid.isdigit() or len(mid) > 6 or int(mid) < 1:
            raise ValidationError(name + ".id", "id must be a positive integer (as text)", "integer")
        mid = str(int(mid))
        if mid in ids:
            raise ValidationError(name + ".id", "id %s appears twice" % mid, "unique")
        ids.add(mid)
        clean = dict(m)
        for k in ("status", "last_ok", "error", "counters"):  # GET /api/meters adds these
            clean.pop(k, None)
        try:
            out.append(validate_meter(clean, out, mid))
        except ValidationError as e:
            raise _prefixed(name, e)
    return out


def _one(name, fn, *args):
    try:
        return fn(*args)
    except ValidationError as e:
        raise _prefixed(name, e)


def _mqtt(d, stored, serial):
    from gateway.core.mqtt_config import validate

    d = dict(check.obj("mqtt", d))
    d.pop("password", None)  # secret: the device's own is kept
    d.pop("state", None)  # GET /api/mqtt adds the link state
    return _one("mqtt", validate, d, stored, serial)


def _wifi(d, stored):
    """(new stored document or None to keep the device's, reason when kept)."""
    from gateway.core.wifi_config import validate_wifi

    if d is None:
        return None, "the backup has no Wi-Fi station: the device's is kept"
    check.obj("wifi", d)
    cur = stored or {}
    if not cur.get("ssid") or d.get("ssid") != cur.get("ssid"):
        return None, "the backup names another Wi-Fi network (its key is not in backups): the device's is kept"
    d = dict((k, d[k]) for k in WIFI_PUBLIC if k in d)
    d["password"] = cur.get("password", "")
    return _one("wifi", validate_wifi, d), None


def _users(lst, records, me):
    """(new records, names whose sessions must end, notes)."""
    from gateway.core.accounts import validate_user

    if not isinstance(lst, list):
        raise ValidationError("users", "users must be a list", "format")
    users = dict(records)
    changed = []
    notes = []
    seen = set()
    for i, u in enumerate(lst):
        name = "users[%d]" % i
        check.obj(name, u)
        user = u.get("user")
        low = user.lower() if isinstance(user, str) else None
        if low in seen:
            raise ValidationError(name + ".user", "user %s appears twice" % user, "unique")
        seen.add(low)
        want = {"role": u.get("role"), "disabled": u.get("disabled"),
                "must_change": u.get("must_change")}
        if u.get("meters") is not None:  # a tenant's: what it may read
            want["meters"] = u["meters"]
        here = None
        for n in users:
            if low is not None and n.lower() == low:
                here = n
        if here is not None:
            if here == me:  # never lock out the admin doing the restore
                if want["role"] not in (None, users[here].get("role")) or want["disabled"]:
                    notes.append("account %s (doing the restore) kept as it is" % here)
                continue
            valid = _one(name, validate_user, want, users, here)
            old = users[here]
            rec = _record(valid, old["hash"])
            if rec["role"] != old.get("role") or (rec["disabled"] and not old.get("disabled")):
                changed.append(here)
            users[here] = rec
        else:
            # a new account: validated with a placeholder password, stored with none usable
            req = {"user": user, "role": want["role"], "disabled": True, "must_change": True,
                   "password": "placeholder-8", "meters": want.get("meters")}
            valid = _one(name, validate_user, req, users)
            users[valid["user"]] = _record(valid, LOCKED_HASH)
            notes.append("account %s created disabled: an admin sets its password" % valid["user"])
    return users, changed, notes


def _record(valid, pw_hash):
    """A stored account from ``validate_user``'s result and the hash it keeps."""
    rec = {"role": valid["role"], "hash": pw_hash, "disabled": valid["disabled"],
           "must_change": valid["must_change"]}
    if valid.get("meters"):
        rec["meters"] = valid["meters"]
    return rec


def check_restore(doc, current):
    """Validate a whole backup against the device's ``current`` state; return the plan:
    {"docs": {name: new document}, "kept": [reasons], "revoke": [user names], "notes": [...]}.

    ``current``: {"serial", "mqtt" (stored or None), "wifi" (stored or None), "users" (records),
    "me" (the user doing the restore), "taken_ports" (the web server's), "relays" (the board's),
    "left_out" (the board's features_left_out), "board" (its name), "meters" (its meter ids)}.
    Nothing is saved here; ValidationError on the first problem, its field named as in the file.
    ``doc`` is consumed: each document leaves it once checked, so the heap holds one copy at a
    time.
    """
    check_header(doc)
    if not any(k in doc for k in DOCS):
        raise ValidationError("restore", "the backup holds no configuration document", "backup_empty")
    plan = {"docs": {}, "kept": [], "revoke": [], "notes": []}
    gone = current.get("left_out") or ()
    for name in DOCS:
        if name in doc and DOC_FEATURE.get(name) in gone:
            doc.pop(name)
            plan["notes"].append("%s: not restored: this board (%s) leaves the %s feature out "
                                 "(its heap cannot hold it)" % (name, current.get("board") or "-",
                                                                DOC_FEATURE[name]))
        elif name in doc:
            # each document's validators are loaded for it alone (gateway.core.ondemand): a
            # restore must fit beside the running gateway, like the API calls it stands for
            before = ondemand.mark()
            try:
                _restore_doc(name, doc.pop(name), current, plan)  # the file's copy freed as we go
            finally:
                ondemand.release(before)
    _unknown_meters(plan, current)
    return plan


def _unknown_meters(plan, current):
    """A note for each reference to a meter the device will not have after the restore (a
    backup made while one dangled): the generator's source, a tenant's binding. Kept as in
    the file: the generator reports its source lost, the tenant reads nothing of it."""
    docs = plan["docs"]
    ids = [m["id"] for m in docs["meters"]] if "meters" in docs else current.get("meters")
    if ids is None:
        return
    if "genset" in docs:
        from gateway.core.genset_config import source_meters

        for key, mid in source_meters(docs["genset"]):
            if mid not in ids:
                plan["notes"].append("genset: its %s is meter %s, which is not among the meters: "
                                     "the generator reports its source lost until another is "
                                     "chosen" % (key, mid))
    users = docs["users"] if "users" in docs else current.get("users") or {}
    for name in sorted(users):
        gone = [m for m in users[name].get("meters") or () if m not in ids]
        if gone:
            plan["notes"].append("account %s is bound to meter %s, not among the meters: it "
                                 "reads nothing of it" % (name, ", ".join(gone)))


def _restore_doc(name, d, current, plan):
    docs = plan["docs"]
    if name == "settings":
        from gateway.core.settings import validate_settings

        # as a base: keys an older firmware kept are dropped, not refused
        docs[name] = _one(name, lambda x: validate_settings({}, x), check.obj(name, d))
    elif name == "bus":
        from gateway.core.meters import validate_bus

        docs[name] = _one(name, validate_bus, check.obj(name, d))
    elif name == "meters":
        docs[name] = _meters(d)
    elif name == "genset":
        from gateway.core.genset_config import validate_genset

        docs[name] = _one(name, validate_genset, check.obj(name, d))
    elif name == "mqtt":
        stored = current.get("mqtt") or {}
        docs[name] = _mqtt(d, stored, current.get("serial", ""))
        if stored.get("password") and not docs[name]["password"]:
            plan["notes"].append("mqtt: the broker password was dropped (another broker or no user "
                                 "in the backup): give it again on the MQTT page")
    elif name == "modbus_tcp":
        from gateway.core.modbus_tcp_config import validate

        docs[name] = _one(name, validate, check.obj(name, d), None, current.get("taken_ports") or ())
    elif name == "wifi":
        w, why = _wifi(d, current.get("wifi"))
        if w is None:
            plan["kept"].append("wifi: " + why)
        else:
            docs[name] = w
    elif name == "outputs":  # the relays of this device's board
        from gateway.core.outputs import validate_outputs

        docs[name] = _one(name, validate_outputs, check.obj(name, d), current.get("relays") or ())
    elif name == "users":
        docs[name], plan["revoke"], notes = _users(d, current.get("users") or {}, current.get("me"))
        plan["notes"].extend(notes)

