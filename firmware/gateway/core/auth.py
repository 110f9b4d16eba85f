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


def _hex(b):
    return binascii.hexlify(b).decode()


# ---------------------------------------------------------------------------------------------
# Sessions


class Sessions:
    """In-RAM login sessions.

    A token is 64 hex characters: a random 16-byte session id and the first 16 bytes of
    HMAC-SHA256(secret, id), so forged or altered tokens are rejected before any lookup and
    tokens are cookie/URL safe. Sessions expire ``ttl_s`` after creation (absolute), can be
    revoked one by one or per user, and at most ``max_sessions`` live at once. A user holds at
    most ``max_per_user`` (a new login ends that user's oldest); a full table loses the oldest
    session of the user holding the most, so one account's logins cannot log another out.
    Each session has its own random ``csrf`` token (32 hex chars).
    """

    def __init__(self, secret, ttl_s=3600 * 8, max_sessions=16, max_per_user=4):
        if not secret or len(secret) < 16:
            raise ValueError("secret too short")
        self._ipad, self._opad = _pad_keys(bytes(secret))
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self.max_per_user = max_per_user
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
        while self._count(user) >= self.max_per_user:
            self._evict(user)
        while len(self._s) >= self.max_sessions:
            top = 0
            for v in self._s.values():
                top = max(top, self._count(v[0]))
            oldest = None  # the oldest session of the users holding the most
            for k, v in self._s.items():
                if self._count(v[0]) == top and (oldest is None or v[4] < self._s[oldest][4]):
                    oldest = k
            del self._s[oldest]
        sid = _hex(os.urandom(16))
        self._seq += 1
        self._s[sid] = [user, role, _hex(os.urandom(16)), now + self.ttl_s, self._seq]
        return sid + self._mac(sid)

    def _count(self, user):
        n = 0
        for v in self._s.values():
            if v[0] == user:
                n += 1
        return n

    def _evict(self, user):
        """End ``user``'s oldest session."""
        oldest = None
        for k, v in self._s.items():
            if v[0] == user and (oldest is None or v[4] < self._s[oldest][4]):
                oldest = k
        del self._s[oldest]

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

    def shift(self, d):
        """The clock was set ``d`` seconds forward (or back): expiries move with it."""
        for v in self._s.values():
            v[3] += d

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

    def attempt(self, key, now=None):
        """Check and count one login attempt *before* the password is hashed, so concurrent
        attempts cannot all pass: (True, 0) to go on (it stands as a failure until
        ``success(key)``), else (False, retry_after_s) and nothing is counted."""
        now = self._now(now)
        ok, retry = self.allowed(key, now)
        if ok:
            self.failure(key, now)
        return ok, retry

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

    def shift(self, d):
        """The clock was set ``d`` seconds forward (or back): blocks and ages move with it."""
        for e in self._t.values():
            e[1] += d
            e[2] += d

    def success(self, key):
        """A successful login clears the key."""
        if key in self._t:
            del self._t[key]


# ---------------------------------------------------------------------------------------------
# Roles and users

ROLES = ("admin", "installer", "user", "tenant")
_RANK = {"admin": 3, "installer": 2, "user": 1, "tenant": 0}


def role_allows(role, need):
    """True when ``role`` is at least ``need`` (admin > installer > user > tenant); unknown ->
    False. A route open to "tenant" must also narrow what it shows with ``meter_scope``."""
    r = _RANK.get(role)
    n = _RANK.get(need)
    return r is not None and n is not None and r >= n


def meter_scope(role, record):
    """The meter ids a session may see: None = all; for a tenant, the ids bound to its account
    (``record`` = the stored user, ``{"meters": [...]}``), an empty tuple if none or unknown."""
    if role != "tenant":
        return None
    return tuple((record or {}).get("meters") or ())
