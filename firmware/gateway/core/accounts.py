"""User accounts: validation of create/update/delete requests and the stored record.

Configuration-time code, loaded on demand (gateway.core.ondemand): the login path needs only
gateway.core.auth.
"""
from gateway.core import check
from gateway.core.auth import ROLES
from gateway.core.errors import ValidationError
from gateway.core.passwords import hash_password

USER_MIN, USER_MAX = 3, 31
PASSWORD_MIN, PASSWORD_MAX = 8, 64
_USER_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


def _check_username(name):
    if not isinstance(name, str) or not name:
        raise ValidationError("user", "user name required", "required")
    if not (USER_MIN <= len(name) <= USER_MAX):
        raise ValidationError("user", "user name must be %d-%d characters" % (USER_MIN, USER_MAX),
                              "length", {"min": USER_MIN, "max": USER_MAX})
    for c in name:
        if c not in _USER_CHARS:
            raise ValidationError("user", "user name may only contain A-Z a-z 0-9 . _ -",
                                  "chars", {"chars": "A-Z a-z 0-9 . _ -"})
    return name


def check_password_rules(password, field="password"):
    """Raise ValidationError unless ``password`` is a str of 8-64 characters without controls."""
    if not isinstance(password, str):
        raise ValidationError(field, "password must be a string", "format")
    if not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise ValidationError(
            field, "password must be %d-%d characters" % (PASSWORD_MIN, PASSWORD_MAX), "length",
            {"min": PASSWORD_MIN, "max": PASSWORD_MAX})
    for c in password:
        if ord(c) < 32 or ord(c) == 127:
            raise ValidationError(field, "password contains a control character", "format")
    return password




def _flag(data, key, old):
    """``data[key]`` (true/false) if given, else the old account's flag (False when new)."""
    v = data.get(key)
    if v is None:
        return bool(old.get(key)) if old is not None else False
    return check.boolean(key, v)


def _enabled_admins(users, skip=None):
    n = 0
    for name, rec in users.items():
        if name != skip and rec.get("role") == "admin" and not rec.get("disabled"):
            n += 1
    return n


MAX_USERS = 40  # one tenant per meter (32) and the site's staff


def validate_user(data, existing_users, username=None):
    """Validate a create (``username`` None) or update (of ``username``) request.

    Returns {"user", "role", "disabled", "must_change", "password"} where "password" is the new
    plain password to hash (``make_record``) or None to keep the stored hash. On create, "user"
    and "password" are required, "role" defaults to "user"; on update, absent keys (and an empty
    password) keep the stored values and "user", if given, must equal ``username`` (no renames).
    User names are unique case-insensitively. The last enabled admin cannot be demoted
    (field "role") or disabled (field "disabled"); ``{"delete": true}`` with ``username`` checks
    a deletion instead (``validate_delete``: field "role" for the last admin).
    """
    if not isinstance(data, dict):
        raise ValidationError("", "object expected", "format")
    if username is None:
        if len(existing_users) >= MAX_USERS:  # the accounts stay in RAM: bound them
            raise ValidationError("user", "the device holds at most %d accounts" % MAX_USERS,
                                  "range", {"min": 1, "max": MAX_USERS})
        name = _check_username(data.get("user"))
        low = name.lower()
        for other in existing_users:
            if other.lower() == low:
                raise ValidationError("user", "user already exists", "unique")
        old = None
    else:
        if username not in existing_users:
            raise ValidationError("user", "unknown user", "unknown")
        name = username
        if data.get("delete") is True:  # {"delete": true}: the delete guard, as validate_delete
            validate_delete(username, existing_users)
            old = existing_users[username]
            return {
                "user": name,
                "role": old.get("role", "user"),
                "disabled": bool(old.get("disabled")),
                "must_change": bool(old.get("must_change")),
                "password": None,
            }
        if "user" in data and data["user"] is not None and data["user"] != username:
            raise ValidationError("user", "user name cannot be changed", "readonly")
        old = existing_users[username]

    role = data.get("role")
    if role is None:
        role = old.get("role", "user") if old is not None else "user"
    role = check.choice("role", role, ROLES)
    meters = _meters(data, role, old)
    disabled = _flag(data, "disabled", old)
    must_change = _flag(data, "must_change", old)

    password = data.get("password")
    if old is None:
        if password is None or password == "":
            raise ValidationError("password", "password required", "required")
        check_password_rules(password)
    elif password is None or password == "":
        password = None
    else:
        check_password_rules(password)

    last_admin = (
        old is not None
        and old.get("role") == "admin"
        and not old.get("disabled")
        and _enabled_admins(existing_users, skip=username) == 0
    )
    if last_admin and role != "admin":
        raise ValidationError("role", "the last administrator cannot be demoted", "last_admin")
    if last_admin and disabled:
        raise ValidationError("disabled", "the last administrator cannot be disabled", "last_admin")

    out = {
        "user": name,
        "role": role,
        "disabled": disabled,
        "must_change": must_change,
        "password": password,
    }
    if meters:
        out["meters"] = meters
    return out


def _meters(data, role, old):
    """A tenant's meter ids (list of 1-32 strings); other roles have none."""
    if role != "tenant":
        if data.get("meters"):
            raise ValidationError("meters", "only a tenant is bound to meters", "tenant_only")
        return None
    m = data.get("meters")
    if m is None and old is not None:
        m = old.get("meters")
    if not isinstance(m, list) or not m or len(m) > 32:
        raise ValidationError("meters", "a tenant needs a list of 1-32 meter ids", "required")
    out = []
    for x in m:
        if isinstance(x, int) and not isinstance(x, bool):
            x = str(x)
        if not isinstance(x, str) or not 0 < len(x) <= 32:
            raise ValidationError("meters", "meter ids are strings", "format")
        if x not in out:
            out.append(x)
    return out


def validate_delete(username, existing_users):
    """Raise ValidationError unless ``username`` exists and is not the last enabled admin."""
    rec = existing_users.get(username)
    if rec is None:
        raise ValidationError("user", "unknown user", "unknown")
    if (
        rec.get("role") == "admin"
        and not rec.get("disabled")
        and _enabled_admins(existing_users, skip=username) == 0
    ):
        raise ValidationError("role", "the last administrator cannot be deleted", "last_admin")


def make_record(valid, old=None, iterations=None):
    """Storage record {"role", "hash", "disabled", "must_change"} from validate_user's result
    (hashes the new password if any, else keeps ``old["hash"]``)."""
    if valid.get("password") is not None:
        h = hash_password(valid["password"], iterations)
    elif old is not None and "hash" in old:
        h = old["hash"]
    else:
        raise ValidationError("password", "password required", "required")
    rec = {
        "role": valid["role"],
        "hash": h,
        "disabled": bool(valid["disabled"]),
        "must_change": bool(valid["must_change"]),
    }
    if valid.get("meters"):
        rec["meters"] = valid["meters"]
    return rec


def public_user(name, rec):
    """What the API shows of a user: never the hash."""
    out = {
        "user": name,
        "role": rec.get("role", "user"),
        "disabled": bool(rec.get("disabled")),
        "must_change": bool(rec.get("must_change")),
    }
    if rec.get("meters"):
        out["meters"] = list(rec["meters"])
    return out


def public_list(users):
    """GET /api/users: every account, sorted by name, without hashes."""
    return [public_user(n, users[n]) for n in sorted(users)]
