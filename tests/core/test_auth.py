"""gateway.core.auth: HMAC/PBKDF2 vectors, password hashes, sessions, throttle, users, roles."""

import binascii
import os

from _assert import raises

from gateway.core import accounts, auth, passwords
from gateway.core.errors import ValidationError

try:  # CPython only: cross-check against the standard library
    import hashlib as _hl
    import hmac as _hmac
except ImportError:
    _hmac = None


def h(b):
    return binascii.hexlify(b).decode()


# --- HMAC ------------------------------------------------------------------------------------

HMAC_VECTORS = [
    # RFC 4231 test cases 1, 2, 6 + edge cases (empty key/msg, key of exactly one block)
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (b"", b"", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
    (b"k" * 64, b"m" * 200, "cbe7a7476313c59aa81a2a0a723c9f793d20d82b544e788bf308f39922b3d12c"),
]


def test_hmac_vectors():
    for key, msg, want in HMAC_VECTORS:
        assert h(auth.hmac_sha256(key, msg)) == want, (key, msg)


def test_hmac_matches_stdlib_random():
    if _hmac is None:
        return
    for n in range(0, 150, 7):
        key = os.urandom(n)
        msg = os.urandom(n * 3 + 1)
        assert auth.hmac_sha256(key, msg) == _hmac.new(key, msg, _hl.sha256).digest()


# --- PBKDF2 ----------------------------------------------------------------------------------

PBKDF2_VECTORS = [
    (
        b"password",
        b"salt",
        1,
        32,
        "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
    ),
    (
        b"password",
        b"salt",
        2,
        32,
        "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43",
    ),
    (
        b"password",
        b"salt",
        4096,
        32,
        "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a",
    ),
    (
        b"passwordPASSWORDpassword",
        b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
        4096,
        40,
        "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9",
    ),
    (b"pass\x00word", b"sa\x00lt", 4096, 16, "89b69d0516f829893c696226650a8687"),
    # RFC 7914 section 11 (two output blocks)
    (
        b"passwd",
        b"salt",
        1,
        64,
        (
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        ),
    ),
]


def test_pbkdf2_vectors():
    for pw, salt, it, dk, want in PBKDF2_VECTORS:
        assert h(passwords.pbkdf2_sha256(pw, salt, it, dk)) == want, (pw, it, dk)


def test_pbkdf2_matches_stdlib_random():
    if _hmac is None:
        return
    for n in (0, 1, 31, 32, 33, 64, 65, 100):
        pw = os.urandom(n)
        salt = os.urandom(16)
        for it, dk in ((1, 32), (3, 20), (17, 70)):
            assert passwords.pbkdf2_sha256(pw, salt, it, dk) == _hl.pbkdf2_hmac(
                "sha256", pw, salt, it, dk
            )


def test_pbkdf2_rejects_bad_parameters():
    raises(ValueError, passwords.pbkdf2_sha256, b"pw", b"salt", 0)
    raises(ValueError, passwords.pbkdf2_sha256, b"pw", b"salt", 1, 0)


def _asyncio():
    try:
        import asyncio
    except ImportError:  # MicroPython with MICROPYPATH replaced: no frozen asyncio
        return None
    return asyncio


def test_pbkdf2_async_equals_sync():
    asyncio = _asyncio()
    if asyncio is None:
        return

    got = asyncio.run(passwords.pbkdf2_sha256_async(b"password", b"salt", 4096, 40, 100))
    assert got == passwords.pbkdf2_sha256(b"password", b"salt", 4096, 40)


# --- password hashes -------------------------------------------------------------------------


def test_hash_format_and_verify():
    s = passwords.hash_password("correct horse")
    parts = s.split("$")
    assert parts[0] == "pbkdf2-sha256"
    assert int(parts[1]) == passwords.ITERATIONS
    assert len(binascii.a2b_base64(parts[2])) == 16
    assert len(binascii.a2b_base64(parts[3])) == 32
    assert passwords.verify_password("correct horse", s)
    assert not passwords.verify_password("correct horsE", s)
    assert not passwords.verify_password("", s)


def test_hash_is_salted():
    assert passwords.hash_password("same", 10) != passwords.hash_password("same", 10)


def test_hash_custom_iterations_and_unicode():
    s = passwords.hash_password("pässwörd€", 7)
    assert s.split("$")[1] == "7"
    assert passwords.verify_password("pässwörd€", s)
    assert not passwords.verify_password("passwörd€", s)


def test_hash_interoperates_with_stdlib():
    if _hmac is None:
        return
    salt = b"0123456789abcdef"
    dk = _hl.pbkdf2_hmac("sha256", b"secret99", salt, 1000)
    s = "pbkdf2-sha256$1000$%s$%s" % (
        binascii.b2a_base64(salt).strip().decode(),
        binascii.b2a_base64(dk).strip().decode(),
    )
    assert passwords.verify_password("secret99", s)


def test_verify_rejects_corrupt_hashes():
    good = passwords.hash_password("pw123456", 5)
    _it, salt, dk = good.split("$")[1:]
    for bad in (
        None,
        "",
        "x",
        "plain-text-password",
        "pbkdf2-sha256$5$%s" % salt,
        "pbkdf2-sha1$5$%s$%s" % (salt, dk),
        "pbkdf2-sha256$-5$%s$%s" % (salt, dk),
        "pbkdf2-sha256$0$%s$%s" % (salt, dk),
        "pbkdf2-sha256$abc$%s$%s" % (salt, dk),
        "pbkdf2-sha256$99999999999$%s$%s" % (salt, dk),
        "pbkdf2-sha256$5$!!!$%s" % dk,
        "pbkdf2-sha256$5$%s$###" % salt,
        "pbkdf2-sha256$5$$%s" % dk,
        "pbkdf2-sha256$5$%s$%s" % (salt, "QUJD"),
        12345,
    ):
        assert passwords.verify_password("pw123456", bad) is False, bad
    assert passwords.verify_password(None, good) is False


def test_verify_async():
    asyncio = _asyncio()
    if asyncio is None:
        return

    s = passwords.hash_password("async-pw", 600)
    assert asyncio.run(passwords.verify_password_async("async-pw", s, 100)) is True
    assert asyncio.run(passwords.verify_password_async("other-pw", s, 100)) is False
    assert asyncio.run(passwords.verify_password_async("async-pw", "junk")) is False


def test_ct_equal():
    assert auth.ct_equal(b"abc", b"abc")
    assert auth.ct_equal("abc", b"abc")
    assert not auth.ct_equal(b"abc", b"abd")
    assert not auth.ct_equal(b"abc", b"ab")
    assert auth.ct_equal(b"", b"")


def test_generate_password():
    seen = set()
    for _ in range(50):
        p = passwords.generate_password()
        assert len(p) == 12
        for c in p:
            assert c in passwords.ALPHABET
        seen.add(p)
    assert len(seen) == 50
    for c in "0O1lI":
        assert c not in passwords.ALPHABET
    assert len(passwords.generate_password(20)) == 20
    raises(ValueError, passwords.generate_password, 0)
    # every symbol shows up over enough draws (no hole in the alphabet mapping)
    allc = set("".join(passwords.generate_password(64) for _ in range(40)))
    assert len(allc) == len(passwords.ALPHABET)


# --- sessions --------------------------------------------------------------------------------

SECRET = b"0123456789abcdef0123456789abcdef"


def test_session_roundtrip_and_csrf():
    s = auth.Sessions(SECRET)
    t = s.new("alice", "installer", 1000)
    assert isinstance(t, str) and len(t) == 64
    for c in t:
        assert c in "0123456789abcdef"  # cookie/URL safe
    info = s.check(t, 1001)
    assert info["user"] == "alice" and info["role"] == "installer"
    assert len(info["csrf"]) == 32
    assert auth.csrf_ok(info, info["csrf"])
    assert not auth.csrf_ok(info, "0" * 32)
    assert not auth.csrf_ok(info, None)
    assert not auth.csrf_ok(None, info["csrf"])
    t2 = s.new("alice", "installer", 1000)
    assert t2 != t
    assert s.check(t2, 1000)["csrf"] != info["csrf"]


def test_session_expiry():
    s = auth.Sessions(SECRET, ttl_s=100)
    t = s.new("bob", "user", 1000)
    assert s.check(t, 1099) is not None
    assert s.check(t, 1100) is None
    assert s.check(t, 1050) is None  # gone for good once expired
    assert len(s) == 0


def test_session_revoke_and_revoke_user():
    s = auth.Sessions(SECRET)
    a1 = s.new("alice", "admin", 0)
    a2 = s.new("alice", "admin", 0)
    b = s.new("bob", "user", 0)
    s.revoke(a1)
    assert s.check(a1, 1) is None
    assert s.check(a2, 1) is not None
    s.revoke(a1)  # twice is harmless
    s.revoke("garbage")
    a3 = s.new("alice", "admin", 0)
    assert s.revoke_user("alice", keep=a3) == 1
    assert s.check(a2, 1) is None and s.check(a3, 1) is not None
    s.revoke_user("alice")
    assert s.check(a3, 1) is None
    assert s.check(b, 1)["user"] == "bob"


def test_session_tamper_and_garbage():
    s = auth.Sessions(SECRET)
    t = s.new("alice", "admin", 0)
    for i in (0, 10, 31, 32, 50, 63):
        c = "1" if t[i] != "1" else "2"
        assert s.check(t[:i] + c + t[i + 1 :], 1) is None, i
    for bad in (None, "", t[:-1], t + "0", t.upper(), "z" * 64, 123, b"x" * 64, "é" * 64):
        assert s.check(bad, 1) is None
    # a token signed with another secret is worthless here, even with a known session id
    other = auth.Sessions(b"another-secret-another-secret!!!")
    forged = t[:32] + other._mac(t[:32])
    assert s.check(forged, 1) is None
    assert s.check(t, 1) is not None


def test_session_bounded_evicts_oldest():
    s = auth.Sessions(SECRET, max_sessions=4)
    toks = [s.new("u%d" % i, "user", i) for i in range(6)]
    assert len(s) == 4
    assert s.check(toks[0], 10) is None and s.check(toks[1], 10) is None
    for t in toks[2:]:
        assert s.check(t, 10) is not None


def test_session_expired_ones_make_room_first():
    s = auth.Sessions(SECRET, ttl_s=10, max_sessions=2)
    old = s.new("a", "user", 0)
    keep = s.new("b", "user", 5)
    s.new("c", "user", 12)  # "a" expired: dropped instead of evicting "b"
    assert s.check(keep, 13) is not None
    assert s.check(old, 13) is None


def test_session_shift_with_the_clock():
    s = auth.Sessions(SECRET, ttl_s=100)
    t = s.new("bob", "installer", 1000)
    year = 365 * 86400
    s.shift(year)  # the clock was set a year forward: the session keeps its 100 s
    assert s.check(t, 1050 + year) is not None
    s.shift(-2 * year)  # and back: it does not live a year longer
    assert s.check(t, 1099 - year) is not None
    assert s.check(t, 1100 - year) is None


def test_session_secret_required():
    raises(ValueError, auth.Sessions, b"short")


# --- throttle --------------------------------------------------------------------------------


def test_throttle_free_failures_then_backoff():
    t = auth.LoginThrottle(free_failures=3, base_s=2, max_s=300, forget_s=10**6)
    ip = "10.0.0.9"
    for _i in range(3):
        assert t.allowed(ip, 100) == (True, 0)
        assert t.failure(ip, 100) == 0
    assert t.failure(ip, 100) == 2
    assert t.allowed(ip, 100) == (False, 2)
    assert t.allowed(ip, 101.5) == (False, 1)  # Retry-After rounds up
    assert t.allowed(ip, 102) == (True, 0)
    assert t.failure(ip, 102) == 4
    assert t.allowed(ip, 105) == (False, 1)
    assert t.allowed(ip, 106) == (True, 0)
    delays = [t.failure(ip, 1000 + i * 1000) for i in range(12)]  # wait out each block
    assert delays[:6] == [8, 16, 32, 64, 128, 256]
    assert delays[6:] == [300] * 6
    other = "10.0.0.10"
    assert t.allowed(other, 1000) == (True, 0)


def test_throttle_success_and_forget():
    t = auth.LoginThrottle(free_failures=1, base_s=10, forget_s=900)
    t.failure("a", 0)
    assert t.failure("a", 0) == 10
    assert t.allowed("a", 5) == (False, 5)
    t.success("a")
    assert t.allowed("a", 5) == (True, 0)
    assert t.failure("a", 5) == 0  # counting starts again
    assert t.failure("a", 6) == 10
    assert t.failure("a", 2000) == 0  # forgotten after forget_s of quiet
    assert len(t) == 1


def test_throttle_block_not_shortened_by_failures():
    t = auth.LoginThrottle(free_failures=0, base_s=100, max_s=100)
    t.failure("k", 0)
    t.failure("k", 50)
    assert t.allowed("k", 60) == (False, 90)


def test_throttle_shift_with_the_clock():
    t = auth.LoginThrottle(free_failures=0, base_s=100, max_s=100, forget_s=900)
    t.failure("k", 0)
    t.shift(-10**9)  # the clock went back: still blocked 100 s, not for 31 years
    assert t.allowed("k", 50 - 10**9) == (False, 50)
    assert t.allowed("k", 100 - 10**9) == (True, 0)
    t.failure("j", 0)
    t.shift(5000)  # forward: the block ends when it would have, the entry is not forgotten
    assert t.allowed("j", 5050) == (False, 50)


def test_throttle_bounded_lru():
    t = auth.LoginThrottle(max_keys=3, free_failures=0, base_s=60)
    t.failure("a", 0)
    t.failure("b", 1)
    t.failure("c", 2)
    assert t.allowed("a", 3)[0] is False  # touching "a" makes "b" the least recently used
    t.failure("d", 4)
    assert len(t) == 3
    assert t.allowed("b", 5) == (True, 0)  # evicted
    assert t.allowed("a", 5)[0] is False
    assert t.allowed("c", 5)[0] is False
    assert t.allowed("d", 5)[0] is False


def test_throttle_clock_callable():
    clock = [0]
    t = auth.LoginThrottle(lambda: clock[0], free_failures=0, base_s=5)
    t.failure("x")
    assert t.allowed("x") == (False, 5)
    clock[0] = 5
    assert t.allowed("x") == (True, 0)
    t2 = auth.LoginThrottle(12345)  # a plain number is accepted; time then comes with each call
    assert t2.allowed("x", 1) == (True, 0)
    raises(ValueError, t2.allowed, "x")


# --- roles -----------------------------------------------------------------------------------


def test_roles():
    assert auth.ROLES == ("admin", "installer", "user", "tenant")
    assert auth.role_allows("user", "tenant") and auth.role_allows("tenant", "tenant")
    assert not auth.role_allows("tenant", "user")
    assert auth.meter_scope("user", {}) is None
    assert auth.meter_scope("tenant", {"meters": ["2"]}) == ("2",)
    assert auth.meter_scope("tenant", None) == ()
    assert auth.role_allows("admin", "admin")
    assert auth.role_allows("admin", "user")
    assert auth.role_allows("installer", "installer")
    assert auth.role_allows("installer", "user")
    assert not auth.role_allows("installer", "admin")
    assert not auth.role_allows("user", "installer")
    assert auth.role_allows("user", "user")
    assert not auth.role_allows("root", "user")
    assert not auth.role_allows(None, "user")
    assert not auth.role_allows("admin", "superuser")


# --- users -----------------------------------------------------------------------------------


def users2():
    return {
        "admin": {"role": "admin", "hash": "H1", "disabled": False, "must_change": False},
        "tech": {"role": "installer", "hash": "H2", "disabled": False, "must_change": True},
    }


def field_of(fn, *a):
    return raises(ValidationError, fn, *a).field


def test_validate_create_ok_and_defaults():
    v = accounts.validate_user({"user": "Jean.D-1_x", "password": "secret12"}, users2())
    assert v == {
        "user": "Jean.D-1_x",
        "role": "user",
        "disabled": False,
        "must_change": False,
        "password": "secret12",
    }
    v = accounts.validate_user(
        {"user": "boss", "password": "x" * 64, "role": "admin", "must_change": True}, users2()
    )
    assert v["role"] == "admin" and v["must_change"] is True


def test_tenant_accounts_are_bound_to_meters():
    v = accounts.validate_user({"user": "dupont", "password": "secret12", "role": "tenant",
                                "meters": ["3", 4, "3"]}, users2())
    assert v["role"] == "tenant" and v["meters"] == ["3", "4"]
    rec = accounts.make_record(v, iterations=1)
    assert rec["meters"] == ["3", "4"]
    assert accounts.public_user("dupont", rec)["meters"] == ["3", "4"]
    assert auth.meter_scope("tenant", rec) == ("3", "4")
    for bad in (None, [], "3", [None], ["x" * 33]):
        assert field_of(accounts.validate_user, {"user": "t1x", "password": "secret12",
                                                 "role": "tenant", "meters": bad}, users2()) == "meters"
    # only a tenant is bound to meters; an update keeps the meters it does not mention
    assert field_of(accounts.validate_user, {"user": "u1x", "password": "secret12",
                                             "meters": ["1"]}, users2()) == "meters"
    u = users2()
    u["dupont"] = rec
    assert accounts.validate_user({"disabled": True}, u, "dupont")["meters"] == ["3", "4"]
    assert "meters" not in accounts.validate_user({"role": "user"}, u, "dupont")


def test_validate_create_errors():
    u = users2()
    V = accounts.validate_user
    assert field_of(V, {"password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "ab", "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "a" * 32, "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "bad name", "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "bad/name", "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "jéan", "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": 123, "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "admin", "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "ADMIN", "password": "secret12"}, u) == "user"
    assert field_of(V, {"user": "newbie"}, u) == "password"
    assert field_of(V, {"user": "newbie", "password": ""}, u) == "password"
    assert field_of(V, {"user": "newbie", "password": "short7!"}, u) == "password"
    assert field_of(V, {"user": "newbie", "password": "x" * 65}, u) == "password"
    assert field_of(V, {"user": "newbie", "password": 12345678}, u) == "password"
    assert field_of(V, {"user": "newbie", "password": "abc\ndefgh"}, u) == "password"
    assert field_of(V, {"user": "newbie", "password": "secret12", "role": "root"}, u) == "role"
    assert (
        field_of(V, {"user": "newbie", "password": "secret12", "disabled": "no"}, u) == "disabled"
    )
    assert (
        field_of(V, {"user": "newbie", "password": "secret12", "must_change": 1}, u)
        == "must_change"
    )
    assert field_of(V, ["user"], u) == ""
    assert len(accounts.validate_user({"user": "a" * 31, "password": "x" * 8}, u)["user"]) == 31


def test_validate_update():
    u = users2()
    v = accounts.validate_user({"role": "user"}, u, "tech")
    assert v == {
        "user": "tech",
        "role": "user",
        "disabled": False,
        "must_change": True,
        "password": None,
    }
    v = accounts.validate_user({"password": ""}, u, "tech")
    assert v["password"] is None and v["role"] == "installer"
    v = accounts.validate_user({"password": "newpass99", "user": "tech"}, u, "tech")
    assert v["password"] == "newpass99"
    assert field_of(accounts.validate_user, {"password": "short"}, u, "tech") == "password"
    assert field_of(accounts.validate_user, {"user": "other"}, u, "tech") == "user"
    assert field_of(accounts.validate_user, {}, u, "ghost") == "user"
    v = accounts.validate_user({"disabled": True}, u, "tech")
    assert v["disabled"] is True


def test_last_admin_guard():
    u = users2()
    V = accounts.validate_user
    assert field_of(V, {"role": "installer"}, u, "admin") == "role"
    assert field_of(V, {"disabled": True}, u, "admin") == "disabled"
    assert field_of(accounts.validate_delete, "admin", u) == "role"
    # changing its own password or flags is fine
    assert V({"password": "newadmin1", "must_change": True}, u, "admin")["role"] == "admin"
    # with a second enabled admin the first may go
    u["boss"] = {"role": "admin", "hash": "H3", "disabled": False, "must_change": False}
    assert V({"role": "user"}, u, "admin")["role"] == "user"
    assert V({"disabled": True}, u, "admin")["disabled"] is True
    accounts.validate_delete("admin", u)
    # a disabled second admin does not count
    u["boss"]["disabled"] = True
    assert field_of(V, {"role": "user"}, u, "admin") == "role"
    assert field_of(accounts.validate_delete, "admin", u) == "role"
    # a disabled admin may be deleted / changed freely
    accounts.validate_delete("boss", u)
    assert V({"role": "user"}, u, "boss")["role"] == "user"
    accounts.validate_delete("tech", u)
    assert field_of(accounts.validate_delete, "ghost", u) == "user"
    # the same guard through validate_user({"delete": true}, ..., username)
    assert field_of(V, {"delete": True}, u, "admin") == "role"
    assert V({"delete": True}, u, "tech")["user"] == "tech"
    assert field_of(V, {"delete": True}, u, "ghost") == "user"


def test_make_record_public_user_and_authenticate():
    u = {}
    v = accounts.validate_user({"user": "admin", "password": "firstpw1", "role": "admin"}, u)
    rec = accounts.make_record(v, iterations=50)
    assert set(rec) == {"role", "hash", "disabled", "must_change"}
    u["admin"] = rec
    assert passwords.authenticate(u, "admin", "firstpw1") is rec
    assert passwords.authenticate(u, "admin", "wrongpw1") is None
    assert passwords.authenticate(u, "nobody", "firstpw1") is None
    assert passwords.authenticate(u, None, None) is None
    pub = accounts.public_user("admin", rec)
    assert pub == {"user": "admin", "role": "admin", "disabled": False, "must_change": False}
    assert "hash" not in pub and "password" not in pub
    # update without a password keeps the hash
    v2 = accounts.validate_user({"must_change": True}, u, "admin")
    rec2 = accounts.make_record(v2, rec)
    assert rec2["hash"] == rec["hash"] and rec2["must_change"] is True
    raises(ValidationError, accounts.make_record, v2)
    # disabled users cannot log in
    u["admin"] = dict(rec, disabled=True)
    assert passwords.authenticate(u, "admin", "firstpw1") is None


def test_authenticate_async():
    asyncio = _asyncio()
    if asyncio is None:
        return

    u = {
        "op": accounts.make_record(
            accounts.validate_user({"user": "op1", "password": "op-pass-1"}, {}), iterations=300
        )
    }
    assert asyncio.run(passwords.authenticate_async(u, "op", "op-pass-1")) is u["op"]
    assert asyncio.run(passwords.authenticate_async(u, "op", "nope-nope")) is None
    assert asyncio.run(passwords.authenticate_async(u, "zz", "op-pass-1")) is None
