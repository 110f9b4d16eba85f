"""Issue 16 in the pure logic: throttle before hashing, session caps, equal-cost failed logins,
a supervisor that cannot die, and writes whose failed save changes nothing.

Runs on CPython and the MicroPython unix port.
"""
import sys

try:
    import asyncio
except ImportError:  # MicroPython with MICROPYPATH set: asyncio is frozen into the binary
    sys.path.append(".frozen")
    import asyncio

from _assert import raises

from gateway.core import auth, passwords
from gateway.core.ticks import ticks_diff, ticks_ms

SECRET = b"0123456789abcdef0123456789abcdef"


# --- throttle: attempts are counted before the password is hashed ----------------------------


def test_concurrent_attempts_are_counted_before_hashing():
    t = auth.LoginThrottle(free_failures=3, base_s=2)
    got = [t.attempt("10.0.0.1 admin", 100)[0] for _ in range(10)]  # 10 at once: none finished
    assert got.count(True) == 4 and got[:4] == [True] * 4, got
    assert t.attempt("10.0.0.1 admin", 100) == (False, 2)


def test_one_accounts_success_does_not_clear_another():
    t = auth.LoginThrottle(free_failures=3, base_s=2)
    for _ in range(4):
        t.attempt("ip admin", 0)
    t.attempt("ip mallory", 0)
    t.success("ip mallory")  # the attacker's own account logs in
    assert t.allowed("ip admin", 0)[0] is False
    t.success("ip admin")  # the right password for the account itself clears it
    assert t.allowed("ip admin", 0) == (True, 0)


# --- sessions --------------------------------------------------------------------------------


def test_a_users_logins_cannot_evict_another_user():
    s = auth.Sessions(SECRET, max_sessions=8, max_per_user=3)
    admin = s.new("admin", "admin", 0)
    mine = [s.new("mallory", "user", i) for i in range(1, 30)]
    assert s.check(admin, 40) is not None
    assert sum(1 for t in mine if s.check(t, 40)) == 3
    assert s.check(mine[-1], 40) is not None  # the newest ones live


def test_a_full_table_loses_the_biggest_holders_oldest():
    s = auth.Sessions(SECRET, max_sessions=4, max_per_user=3)
    a = s.new("a", "user", 0)
    b1 = s.new("b", "user", 1)
    b2 = s.new("b", "user", 2)
    c = s.new("c", "user", 3)
    s.new("d", "user", 4)  # full: b holds the most, its oldest goes
    assert s.check(b1, 5) is None
    for t in (a, b2, c):
        assert s.check(t, 5) is not None


# --- every failed login costs one PBKDF2 at the standard cost --------------------------------


def _pbkdf2_runs(fn, *args):
    real = passwords.pbkdf2_sha256
    runs = []

    def counting(password, salt, iterations, dklen=32):
        runs.append(iterations)
        return real(password, salt, iterations, dklen)

    passwords.pbkdf2_sha256 = counting
    try:
        out = fn(*args)
    finally:
        passwords.pbkdf2_sha256 = real
    return out, runs


def test_failed_logins_cost_the_same():
    good = passwords.hash_password("right-password")
    users = {"ok": {"role": "admin", "hash": good},
             "restored": {"role": "user", "hash": "!"},  # from a backup: no password yet
             "corrupt": {"role": "user", "hash": "pbkdf2-sha256$x$y$z"},
             "off": {"role": "user", "hash": good, "disabled": True}}
    for name, pw in (("nobody", "x"), ("restored", "x"), ("corrupt", "x"), ("off", "right-password"),
                     ("ok", "wrong"), ("ok", None), (None, None)):
        rec, runs = _pbkdf2_runs(passwords.authenticate, users, name, pw)
        assert rec is None, name
        assert runs == [passwords.ITERATIONS], (name, runs)
    rec, runs = _pbkdf2_runs(passwords.authenticate, users, "ok", "right-password")
    assert rec is users["ok"] and runs == [passwords.ITERATIONS]


# --- the supervisor ----------------------------------------------------------------------------


async def _wait(pred, ms=5000):
    t0 = ticks_ms()
    while not pred():
        if ticks_diff(ticks_ms(), t0) > ms:
            raise AssertionError("not reached in %d ms" % ms)
        await asyncio.sleep(0.01)


async def _supervised():
    from gateway.core.event_codes import text
    from gateway.services.tasks import RESTARTS, Tasks

    logged = []
    tasks = Tasks(log=lambda src, code, params: logged.append(text(code, params)))
    runs = [0]
    beats = [0]

    async def flaky():
        runs[0] += 1
        if runs[0] == 1:
            raise MemoryError()
        if runs[0] == 2:
            raise ValueError("boom")
        while True:
            beats[0] += 1
            await asyncio.sleep(0.01)

    tasks.spawn("flaky", flaky, progress=lambda: beats[0], stall_s=1)
    await _wait(lambda: beats[0] > 0)  # restarted twice (1 s, then 2 s back-off), now working
    assert tasks.state["flaky"][RESTARTS] == 2
    assert tasks.check() is True
    # reported outside the failure path, by the watchdog's round: the latest crash and the count
    assert len(logged) == 1 and "2 restarts" in logged[0] and "boom" in logged[0], logged
    st = tasks.status()["flaky"]
    assert st["done"] is False and st["restarts"] == 2 and st["essential"] is True

    stuck = [0]

    async def wedged():
        while True:
            await asyncio.sleep(0.05)  # alive, but its counter never moves

    tasks.spawn("wedged", wedged, progress=lambda: stuck[0], stall_s=0.2)
    tasks.check()
    await asyncio.sleep(0.3)
    assert tasks.check() is False and tasks.unhealthy == "wedged"  # the watchdog is not fed
    stuck[0] += 1
    assert tasks.check() is True
    tasks.cancel_all()


def test_supervisor_restarts_and_watchdog_health():
    asyncio.run(_supervised())


# --- a write whose save fails changes nothing -------------------------------------------------


class FailingStore:
    def __init__(self, docs):
        self.docs = docs
        self.fail = False

    def load(self, name, check=None):
        return self.docs.get(name)

    def save(self, name, doc, validator=None):
        if self.fail:
            raise OSError(28, "no space left")
        self.docs[name] = doc


def test_users_unchanged_when_the_save_fails():
    from gateway.services.users import Users

    store = FailingStore({})
    users = Users(store, lambda name: None)
    users.create({"user": "alice", "password": "alice-pass-1", "role": "user"})
    before = dict(users.records())
    store.fail = True
    raises(OSError, users.create, {"user": "bob", "password": "bob-pass-12", "role": "user"})
    raises(OSError, users.update, "alice", {"role": "installer"})
    raises(OSError, users.delete, "alice")
    assert users.records() == before and users.get("bob") is None
    assert users.get("alice")["role"] == "user"


def test_meters_unchanged_when_the_save_fails():
    from gateway.services.meters import MeterService

    store = FailingStore({})
    svc = MeterService(store, lambda bus: None)
    svc.create({"name": "grid", "address": 1, "profile": "sdm630"})
    store.fail = True
    raises(OSError, svc.create, {"name": "pv-1", "address": 2, "profile": "sdm120"})
    raises(OSError, svc.update, "1", {"name": "renamed"})
    raises(OSError, svc.delete, "1")
    assert [m["name"] for m in svc.meters] == ["grid"]
    assert list(svc.poller.readings()) == ["1"]


def test_a_meter_id_is_never_given_twice_not_even_after_a_reboot():
    """What is kept under a meter id (a tenant's binding, ring samples, the generator's SOC
    source) never passes to another meter."""
    from gateway.services.meters import MeterService

    store = FailingStore({})
    svc = MeterService(store, lambda bus: None)
    for a in (1, 2, 3):
        svc.create({"address": a, "profile": "sdm120"})
    svc.delete("3")
    svc.delete("2")
    assert svc.create({"address": 4, "profile": "sdm120"})["id"] == "4"
    svc.delete("4")
    svc = MeterService(store, lambda bus: None)  # a reboot: the last id given is on flash
    assert svc.create({"address": 5, "profile": "sdm120"})["id"] == "5"
    assert svc.create({"address": 6, "profile": "sdm120"}, ["9"])["id"] == "10"
    store.fail = True
    raises(OSError, svc.create, {"address": 7, "profile": "sdm120"})
    assert [m["id"] for m in svc.meters] == ["1", "5", "10"] and store.docs["meter-ids"]["last"] == 10


def test_a_deleted_meter_keeps_its_name_for_its_billing_and_the_names_are_bounded():
    from gateway.services.meters import GONE, MAX_GONE, MeterService

    store = FailingStore({})
    svc = MeterService(store, lambda bus: None)
    svc.create({"name": "Apt 2", "address": 2, "profile": "sdm120"})
    svc.delete("1")
    assert svc.name_of("1") == "Apt 2" and svc.get("1") is None and svc.name_of("2") is None
    for _ in range(MAX_GONE + 1):
        svc.delete(svc.create({"address": 3, "profile": "sdm120"})["id"])
    gone = store.docs[GONE]
    assert len(gone) == MAX_GONE and "1" not in gone and "2" not in gone  # the oldest go first
    assert svc.name_of(str(MAX_GONE + 2)) == "meter-3"


# --- readings of a stopped poller turn "stale" ------------------------------------------------


def test_readings_older_than_a_few_cycles_are_stale():
    from dingate.testing.scripted_master import ScriptedMaster
    from gateway.core.meters import validate_meter
    from gateway.services.poller import STALE_CYCLES, STALE_SLACK_S, Poller

    now = [1800000000]
    m = validate_meter({"name": "grid", "address": 1, "profile": "sdm630"}, [])
    p = Poller(ScriptedMaster({}), [m], {"interval_ms": 1000}, clock=lambda: now[0])
    meter = p._meters[m["id"]]
    meter.status, meter.ts, meter.values = "ok", now[0], {"power_w": 5.0}
    assert p.readings()[m["id"]]["status"] == "ok"
    now[0] += STALE_CYCLES * 2 + STALE_SLACK_S + 1  # the poller stopped: no read for 3+ cycles
    r = p.readings()[m["id"]]
    assert r["status"] == "stale" and r["values"] == {"power_w": 5.0}
    assert p.reading(m["id"])["status"] == "stale"


def test_peer_address_is_ip_and_port_whatever_the_stack_gives():
    from gateway.web.guard import peer

    assert peer(("192.168.4.2", 50123)) == ("192.168.4.2", 50123)  # a board
    raw = bytes([2, 0, 0xC3, 0xCB, 127, 0, 0, 1]) + bytes(8)  # unix port: sockaddr_in bytes
    assert peer(raw) == ("127.0.0.1", 50123)
    # the throttle key is the IP alone: another source port is the same client
    assert peer(bytes([2, 0, 0x10, 0x00, 127, 0, 0, 1]) + bytes(8))[0] == peer(raw)[0]


def test_the_device_holds_a_bounded_number_of_accounts():
    from gateway.core.accounts import MAX_USERS, validate_user
    from gateway.core.errors import ValidationError

    users = dict(("u%d" % i, {"role": "user", "hash": "!"}) for i in range(MAX_USERS))
    e = raises(ValidationError, validate_user, {"user": "one-more", "password": "pw-123456"}, users)
    assert e.field == "user" and "at most" in e.message
