"""Password hashing (PBKDF2-HMAC-SHA256), checking and generation.

Loaded on demand (gateway.core.ondemand): at login, password change and provisioning only.
The cost choice is explained in gateway.core.auth.
"""
import binascii
import hashlib
import os

from gateway.core.auth import _hmac_pads, _pad_keys, ct_equal

_sha256 = hashlib.sha256

ITERATIONS = 4096
MIN_ITERATIONS = 1
MAX_ITERATIONS = 100000  # a stored hash claiming more is rejected: corrupt flash or a hostile
# backup must not stall the device for minutes at login
SALT_BYTES = 16
SCHEME = "pbkdf2-sha256"


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


def _b64e(b):
    return binascii.b2a_base64(b).strip().decode()


def _b64d(s):
    return binascii.a2b_base64(s.encode())


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


# A well-formed hash nobody's password matches: a failed login costs one PBKDF2 at the standard
# cost whatever failed (unknown name, disabled account, restored "!" account, corrupt hash), so
# timing reveals neither which users exist nor which are locked.
_DUMMY = None


def _checked_hash(rec, password):
    """(stored hash to verify, password text): the dummy hash when the record has no usable one."""
    global _DUMMY
    stored = rec.get("hash") if isinstance(rec, dict) else None
    p = _parse_hash(stored)
    if p is None:
        if _DUMMY is None:
            _DUMMY = "%s$%d$%s$%s" % (SCHEME, ITERATIONS, _b64e(b"\x00" * 16), _b64e(b"\x00" * 32))
        stored = _DUMMY
    return stored, password if isinstance(password, str) else ""


def _result(rec, ok, stored):
    if rec is None or not ok or stored is _DUMMY or rec.get("disabled"):
        return None
    return rec


def authenticate(users, name, password):
    """The user's record when ``name``/``password`` log in (known, enabled, password right),
    else None, at the same cost either way."""
    rec = users.get(name) if isinstance(name, str) else None
    stored, pw = _checked_hash(rec, password)
    return _result(rec, verify_password(pw, stored), stored)


async def authenticate_async(users, name, password, slice_n=256):
    """authenticate() that yields to the asyncio loop while hashing."""
    rec = users.get(name) if isinstance(name, str) else None
    stored, pw = _checked_hash(rec, password)
    return _result(rec, await verify_password_async(pw, stored, slice_n), stored)
