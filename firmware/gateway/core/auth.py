"""Access control core: password hashing, sessions, login throttling, users and roles.

Pure logic (no sockets, no machine); time is passed in as ``now`` (seconds, int or float).
Runs unchanged on CPython and MicroPython (whose hashlib has no ``.copy()`` and which has no
``hmac`` module, hence the own HMAC/PBKDF2 below).

Stored password format: ``pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`` (standard base64,
no newline), the same layout Django/passlib use, so hashes can be checked on the host too.

PBKDF2 cost (``ITERATIONS`` = 4096): measured on the MicroPython unix port (1.28+) of the dev
machine, ``verify_password`` at 4096 iterations takes 6.6 ms (best of 7), i.e. 1.6 us per
iteration (CPython: 0.9 us). Each iteration is two SHA-256 objects over 2 blocks each plus a
32-byte XOR done as one big-int XOR, so an ESP32 at 240 MHz, 20-40x slower than that host,
needs 32-64 us per iteration: 0.13-0.26 s per verification, and still ~0.5 s if the device
turns out 80x slower. That is "well under 1 s" with margin, and 4096x the cost of one salted
SHA-256 for an offline attacker who dumped the flash; online guessing is held back by
``LoginThrottle``. Each hash carries its iteration count, so the constant can be raised later
without invalidating stored users. ``verify_password_async`` / ``authenticate_async`` do the
same work in slices of 256 iterations (~10-20 ms on the ESP32) so the asyncio loop (Modbus
polling, HTTP) keeps running during a login.
"""

import binascii
import hashlib
import os

from gateway.core.errors import ValidationError

ITERATIONS = 4096
MIN_ITERATIONS = 1
MAX_ITERATIONS = 100000  # a stored hash claiming more is rejected: corrupt flash or a hostile
# backup must not stall the device for minutes at login
SALT_BYTES = 16
SCHEME = "pbkdf2-sha256"

_sha256 = hashlib.sha256
_BLOCK = 64
_IPAD = int.from_bytes(b"\x36" * _BLOCK, "big")
_OPAD = int.from_bytes(b"\x5c" * _BLOCK, "big")


# ---------------------------------------------------------------------------------------------
# HMAC / PBKDF2


def _pad_keys(key):
    """The two 64-byte HMAC key blocks (key XOR ipad, key XOR opad), computed once per key."""
    if len(key) > _BLOCK:
        key = _sha256(key).digest()
    k = int.from_bytes(key + b"\x00" * (_BLOCK - len(key)), "big")
    return (k ^ _IPAD).to_bytes(_BLOCK, "big"), (k ^ _OPAD).to_bytes(_BLOCK, "big")


def _hmac_pads(ipad, opad, msg):
    h = _sha256(ipad)
    h.update(msg)
    o = _sha256(opad)
    o.update(h.digest())
    return o.digest()


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) of ``msg`` under ``key`` (both bytes) -> 32 bytes."""
    ipad, opad = _pad_keys(bytes(key))
    return _hmac_pads(ipad, opad, bytes(msg))


def _pbkdf2_start(password, salt, iterations, dklen):
    if iterations < 1:
        raise ValueError("iterations")
    if dklen < 1:
        raise ValueError("dklen")
    ipad, opad = _pad_keys(bytes(password))
    return ipad, opad, bytes(salt), (dklen + 31) // 32


def _pbkdf2_first(ipad, opad, salt, block):
    u = _hmac_pads(ipad, opad, salt + block.to_bytes(4, "big"))
    return u, int.from_bytes(u, "big")


def _pbkdf2_run(ipad, opad, u, acc, n):
    """n further iterations of F(): u = PRF(u); acc ^= u. Returns (u, acc)."""
    sha = _sha256
    fb = int.from_bytes
    while n > 0:
        h = sha(ipad)
        h.update(u)
        o = sha(opad)
        o.update(h.digest())
        u = o.digest()
        acc ^= fb(u, "big")
        n -= 1
    return u, acc


def pbkdf2_sha256(password, salt, iterations, dklen=32):
    """PBKDF2-HMAC-SHA256 (RFC 8018) -> ``dklen`` bytes; same result as hashlib.pbkdf2_hmac."""
    ipad, opad, salt, blocks = _pbkdf2_start(password, salt, iterations, dklen)
    out = b""
    for block in range(1, blocks + 1):
        u, acc = _pbkdf2_first(ipad, opad, salt, block)
        u, acc = _pbkdf2_run(ipad, opad, u, acc, iterations - 1)
        out += acc.to_bytes(32, "big")
    return out[:dklen]


async def pbkdf2_sha256_async(password, salt, iterations, dklen=32, slice_n=256):
    """pbkdf2_sha256 that yields to the asyncio loop every ``slice_n`` iterations."""
    import asyncio

    ipad, opad, salt, blocks = _pbkdf2_start(password, salt, iterations, dklen)
    out = b""
    for block in range(1, blocks + 1):
        u, acc = _pbkdf2_first(ipad, opad, salt, block)
        left = iterations - 1
        while left > 0:
            n = min(left, slice_n)
            u, acc = _pbkdf2_run(ipad, opad, u, acc, n)
            left -= n
            await asyncio.sleep(0)
        out += acc.to_bytes(32, "big")
    return out[:dklen]


# ---------------------------------------------------------------------------------------------
# Helpers


def ct_equal(a, b):
    """Constant-time equality of two bytes/str values (time depends only on the length)."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


def _b64e(b):
    return binascii.b2a_base64(b).strip().decode()


def _b64d(s):
    return binascii.a2b_base64(s.encode())


def _hex(b):
    return binascii.hexlify(b).decode()


# ---------------------------------------------------------------------------------------------
# Passwords


def hash_password(password, iterations=None):
    """Salted PBKDF2 hash string "pbkdf2-sha256$<iter>$<salt b64>$<hash b64>" of a str password."""
    if iterations is None:
        iterations = ITERATIONS
    iterations = int(iterations)
    salt = os.urandom(SALT_BYTES)
    dk = pbkdf2_sha256(password.encode(), salt, iterations)
    return "%s$%d$%s$%s" % (SCHEME, iterations, _b64e(salt), _b64e(dk))


def _parse_hash(stored):
    """(iterations, salt, dk) of a stored hash, or None when it is not one of ours / corrupt."""
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != SCHEME:
        return None
    try:
        if not parts[1].isdigit():
            return None
        it = int(parts[1])
        salt = _b64d(parts[2])
        dk = _b64d(parts[3])
    except Exception:  # binascii.Error / ValueError on either interpreter
        return None
    if it < MIN_ITERATIONS or it > MAX_ITERATIONS or not salt or not (16 <= len(dk) <= 64):
        return None
    return it, salt, dk


def verify_password(password, stored):
    """True when ``password`` (str) matches the stored hash; False on mismatch or corruption."""
    p = _parse_hash(stored)
    if p is None or not isinstance(password, str):
        return False
    it, salt, dk = p
    return ct_equal(pbkdf2_sha256(password.encode(), salt, it, len(dk)), dk)


async def verify_password_async(password, stored, slice_n=256):
    """verify_password that yields to the asyncio loop while hashing."""
    p = _parse_hash(stored)
    if p is None or not isinstance(password, str):
        return False
    it, salt, dk = p
    got = await pbkdf2_sha256_async(password.encode(), salt, it, len(dk), slice_n)
    return ct_equal(got, dk)


# No 0/O/o, 1/l/I: readable from a printed label. 56 symbols -> 5.8 bits each (12 -> 69 bits).
ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generate_password(n=12):
    """Random password of ``n`` characters from ALPHABET (os.urandom, no modulo bias)."""
    if n < 1:
        raise ValueError("n")
    m = len(ALPHABET)
    limit = 256 - (256 % m)  # reject bytes >= limit so every symbol is equally likely
    out = []
    while len(out) < n:
        for b in os.urandom(n * 2):
            if b < limit:
                out.append(ALPHABET[b % m])
                if len(out) == n:
                    break
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Sessions


class Sessions:
    """In-RAM login sessions.

    A token is 64 hex characters: a random 16-byte session id and the first 16 bytes of
    HMAC-SHA256(secret, id), so forged or altered tokens are rejected before any lookup and
    tokens are cookie/URL safe. Sessions expire ``ttl_s`` after creation (absolute), can be
    revoked one by one or per user, and at most ``max_sessions`` live at once (the oldest is
    evicted). Each session has its own random ``csrf`` token (32 hex chars).
    """

    def __init__(self, secret, ttl_s=3600 * 8, max_sessions=16):
        if not secret or len(secret) < 16:
            raise ValueError("secret too short")
        self._ipad, self._opad = _pad_keys(bytes(secret))
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._s = {}  # sid hex -> [user, role, csrf, expires, seq]
        self._seq = 0

    def __len__(self):
        return len(self._s)

    def _mac(self, sid_hex):
        return _hex(_hmac_pads(self._ipad, self._opad, b"dingate-session:" + sid_hex.encode())[:16])

    def _sid(self, token):
        """The session id of a well-formed, correctly signed token, else None."""
        if not isinstance(token, str) or len(token) != 64:
            return None
        sid = token[:32]
        for c in token:
            if c not in "0123456789abcdef":
                return None
        if not ct_equal(self._mac(sid), token[32:]):
            return None
        return sid

    def purge(self, now):
        """Drop expired sessions."""
        dead = [k for k, v in self._s.items() if now >= v[3]]
        for k in dead:
            del self._s[k]

    def new(self, user, role, now):
        """Create a session for ``user``/``role``; returns its token."""
        self.purge(now)
        while len(self._s) >= self.max_sessions:
            oldest = None
            for k, v in self._s.items():
                if oldest is None or v[4] < self._s[oldest][4]:
                    oldest = k
            del self._s[oldest]
        sid = _hex(os.urandom(16))
        self._seq += 1
        self._s[sid] = [user, role, _hex(os.urandom(16)), now + self.ttl_s, self._seq]
        return sid + self._mac(sid)

    def check(self, token, now):
        """{"user", "role", "csrf"} of a live session, or None (unknown/expired/forged/revoked)."""
        sid = self._sid(token)
        if sid is None:
            return None
        v = self._s.get(sid)
        if v is None:
            return None
        if now >= v[3]:
            del self._s[sid]
            return None
        return {"user": v[0], "role": v[1], "csrf": v[2]}

    def revoke(self, token):
        """End one session (logout). Unknown or forged tokens are ignored."""
        sid = self._sid(token)
        if sid is not None and sid in self._s:
            del self._s[sid]

    def revoke_user(self, user, keep=None):
        """End every session of ``user`` (password change, disable, delete, role change),
        except the session whose token is ``keep`` (the one making the change), if given."""
        keep_sid = self._sid(keep) if keep is not None else None
        dead = [k for k, v in self._s.items() if v[0] == user and k != keep_sid]
        for k in dead:
            del self._s[k]
        return len(dead)


def csrf_ok(session, value):
    """Constant-time check of a request's CSRF header/field against the session's token."""
    if not session or not isinstance(value, str):
        return False
    return ct_equal(session["csrf"], value)


# ---------------------------------------------------------------------------------------------
# Login throttling


def _ceil(x):
    i = int(x)
    return i + 1 if x > i else i


class LoginThrottle:
    """Per-client (IP) back-off for failed logins.

    Rules: the first ``free_failures`` failures cost nothing; the next failure blocks the key
    for ``base_s`` seconds, each further one doubles it, capped at ``max_s``. A success clears
    the key; a key with no failure for ``forget_s`` starts again from zero. While blocked,
    ``allowed`` returns (False, seconds to wait) -> HTTP 429 with Retry-After. The table keeps
    at most ``max_keys`` keys and evicts the least recently used one.

    ``now`` (optional, first argument) may be a clock callable used when a method is called
    without ``now``; a number is accepted and ignored (time is passed to each call).
    """

    def __init__(self, now=None, max_keys=64, free_failures=3, base_s=2, max_s=300, forget_s=900):
        self._clock = now if callable(now) else None
        self.max_keys = max_keys
        self.free_failures = free_failures
        self.base_s = base_s
        self.max_s = max_s
        self.forget_s = forget_s
        self._t = {}  # key -> [failures, blocked_until, last_failure, lru_seq]
        self._seq = 0

    def __len__(self):
        return len(self._t)

    def _now(self, now):
        if now is None:
            if self._clock is None:
                raise ValueError("now")
            return self._clock()
        return now

    def _touch(self, e):
        self._seq += 1
        e[3] = self._seq

    def _fresh(self, key, now):
        """The key's entry, dropped first if it has been quiet for forget_s."""
        e = self._t.get(key)
        if e is not None and now >= e[1] and now - e[2] >= self.forget_s:
            del self._t[key]
            e = None
        return e

    def allowed(self, key, now=None):
        """(True, 0) when a login attempt from ``key`` may proceed, else (False, retry_after_s)."""
        now = self._now(now)
        e = self._fresh(key, now)
        if e is None:
            return True, 0
        self._touch(e)
        if now < e[1]:
            return False, max(1, _ceil(e[1] - now))
        return True, 0

    def failure(self, key, now=None):
        """Record a failed login; returns the seconds the key is now blocked for (0 if not)."""
        now = self._now(now)
        e = self._fresh(key, now)
        if e is None:
            while len(self._t) >= self.max_keys:
                lru = None
                for k, v in self._t.items():
                    if lru is None or v[3] < self._t[lru][3]:
                        lru = k
                del self._t[lru]
            e = [0, now, now, 0]
            self._t[key] = e
        self._touch(e)
        e[0] += 1
        e[2] = now
        over = e[0] - self.free_failures
        if over <= 0:
            return 0
        delay = self.base_s * (1 << min(over - 1, 20))
        delay = min(delay, self.max_s)
        until = now + delay
        e[1] = max(e[1], until)
        return delay

    def success(self, key):
        """A successful login clears the key."""
        if key in self._t:
            del self._t[key]


# ---------------------------------------------------------------------------------------------
# Roles and users

ROLES = ("admin", "installer", "user")
_RANK = {"admin": 3, "installer": 2, "user": 1}


def role_allows(role, need):
    """True when ``role`` is at least ``need`` (admin > installer > user); unknown -> False."""
    r = _RANK.get(role)
    n = _RANK.get(need)
    return r is not None and n is not None and r >= n


USER_MIN, USER_MAX = 3, 31
PASSWORD_MIN, PASSWORD_MAX = 8, 64
_USER_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


def _check_username(name):
    if not isinstance(name, str) or not name:
        raise ValidationError("user", "user name required")
    if not (USER_MIN <= len(name) <= USER_MAX):
        raise ValidationError("user", "user name must be %d-%d characters" % (USER_MIN, USER_MAX))
    for c in name:
        if c not in _USER_CHARS:
            raise ValidationError("user", "user name may only contain A-Z a-z 0-9 . _ -")
    return name


def check_password_rules(password, field="password"):
    """Raise ValidationError unless ``password`` is a str of 8-64 characters without controls."""
    if not isinstance(password, str):
        raise ValidationError(field, "password must be a string")
    if not (PASSWORD_MIN <= len(password) <= PASSWORD_MAX):
        raise ValidationError(
            field, "password must be %d-%d characters" % (PASSWORD_MIN, PASSWORD_MAX)
        )
    for c in password:
        if ord(c) < 32 or ord(c) == 127:
            raise ValidationError(field, "password contains a control character")
    return password


def _bool(data, key, default):
    v = data.get(key, default)
    if v is None:
        return default
    if v is True or v is False:
        return v
    raise ValidationError(key, "must be true or false")


def _enabled_admins(users, skip=None):
    n = 0
    for name, rec in users.items():
        if name != skip and rec.get("role") == "admin" and not rec.get("disabled"):
            n += 1
    return n


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
        raise ValidationError("", "object expected")
    if username is None:
        name = _check_username(data.get("user"))
        low = name.lower()
        for other in existing_users:
            if other.lower() == low:
                raise ValidationError("user", "user already exists")
        old = None
    else:
        if username not in existing_users:
            raise ValidationError("user", "unknown user")
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
            raise ValidationError("user", "user name cannot be changed")
        old = existing_users[username]

    role = data.get("role")
    if role is None:
        role = old.get("role", "user") if old is not None else "user"
    if role not in ROLES:
        raise ValidationError("role", "role must be one of admin, installer, user")
    disabled = _bool(data, "disabled", bool(old.get("disabled")) if old is not None else False)
    must_change = _bool(
        data, "must_change", bool(old.get("must_change")) if old is not None else False
    )

    password = data.get("password")
    if old is None:
        if password is None or password == "":
            raise ValidationError("password", "password required")
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
        raise ValidationError("role", "the last administrator cannot be demoted")
    if last_admin and disabled:
        raise ValidationError("disabled", "the last administrator cannot be disabled")

    return {
        "user": name,
        "role": role,
        "disabled": disabled,
        "must_change": must_change,
        "password": password,
    }


def validate_delete(username, existing_users):
    """Raise ValidationError unless ``username`` exists and is not the last enabled admin."""
    rec = existing_users.get(username)
    if rec is None:
        raise ValidationError("user", "unknown user")
    if (
        rec.get("role") == "admin"
        and not rec.get("disabled")
        and _enabled_admins(existing_users, skip=username) == 0
    ):
        raise ValidationError("role", "the last administrator cannot be deleted")


def make_record(valid, old=None, iterations=None):
    """Storage record {"role", "hash", "disabled", "must_change"} from validate_user's result
    (hashes the new password if any, else keeps ``old["hash"]``)."""
    if valid.get("password") is not None:
        h = hash_password(valid["password"], iterations)
    elif old is not None and "hash" in old:
        h = old["hash"]
    else:
        raise ValidationError("password", "password required")
    return {
        "role": valid["role"],
        "hash": h,
        "disabled": bool(valid["disabled"]),
        "must_change": bool(valid["must_change"]),
    }


def public_user(name, rec):
    """What the API shows of a user: never the hash."""
    return {
        "user": name,
        "role": rec.get("role", "user"),
        "disabled": bool(rec.get("disabled")),
        "must_change": bool(rec.get("must_change")),
    }


# A well-formed hash nobody's password matches: unknown users cost the same time as known ones.
_DUMMY = None


def authenticate(users, name, password):
    """The user's record when ``name``/``password`` log in (known, enabled, password right),
    else None. Unknown names still run one PBKDF2 so timing does not reveal which users exist."""
    global _DUMMY
    rec = users.get(name) if isinstance(name, str) else None
    if rec is None:
        if _DUMMY is None:
            _DUMMY = "%s$%d$%s$%s" % (SCHEME, ITERATIONS, _b64e(b"\x00" * 16), _b64e(b"\x00" * 32))
        verify_password(password if isinstance(password, str) else "", _DUMMY)
        return None
    ok = verify_password(password, rec.get("hash"))
    if not ok or rec.get("disabled"):
        return None
    return rec


async def authenticate_async(users, name, password, slice_n=256):
    """authenticate() that yields to the asyncio loop while hashing."""
    global _DUMMY
    rec = users.get(name) if isinstance(name, str) else None
    if rec is None:
        if _DUMMY is None:
            _DUMMY = "%s$%d$%s$%s" % (SCHEME, ITERATIONS, _b64e(b"\x00" * 16), _b64e(b"\x00" * 32))
        await verify_password_async(password if isinstance(password, str) else "", _DUMMY, slice_n)
        return None
    ok = await verify_password_async(password, rec.get("hash"), slice_n)
    if not ok or rec.get("disabled"):
        return None
    return rec
