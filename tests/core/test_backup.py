"""Backup and restore: the restore plan is validated as a whole, secrets never come from a file."""
from _assert import raises

from gateway.core import backup
from gateway.core.errors import ValidationError

HASH = "pbkdf2-sha256$1000$c2FsdHNhbHQ=$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _current():
    return {
        "serial": "DG123456",
        "mqtt": {"host": "broker.lan", "user": "gw", "password": "mqtt-secret", "port": 1883},
        "wifi": {"ssid": "Home", "password": "wifi-secret", "ip": "0.0.0.0",
                 "netmask": "0.0.0.0", "gateway": "0.0.0.0", "dns": "0.0.0.0"},
        "users": {"admin": {"role": "admin", "hash": HASH, "disabled": False, "must_change": False},
                  "bob": {"role": "user", "hash": HASH + "b", "disabled": False,
                          "must_change": False}},
        "me": "admin",
    }


def _file(**docs):
    d = {"format": "dingate-backup", "version": 1, "serial": "DGOTHER1", "firmware": "0.1.0"}
    d.update(docs)
    return d


METERS = [
    {"id": "3", "name": "grid", "address": 1, "profile": "sdm630", "enabled": True,
     "status": "ok", "counters": {"ok": 5}},
    {"id": 7, "name": "battery", "address": 2, "profile": "generic", "enabled": False,
     "registers": [{"quantity": "soc_pct", "function": 4, "register": "0x10", "type": "u16"}]},
]


def test_full_restore_plan():
    f = _file(settings={"sample_interval_s": 60, "timezone": "Europe/Paris", "location": "Farm"},
              bus={"baud": 19200, "parity": "E"}, meters=METERS,
              genset={"mode": "auto", "soc_source": {"meter": "7", "quantity": "soc_pct"},
                      "start_soc": 25, "stop_soc": 90, "relay": True},
              mqtt={"host": "mqtt.example", "port": 8883, "user": "gw", "tls": True,
                    "password_set": True},
              users=[{"user": "admin", "role": "admin"}, {"user": "bob", "role": "installer"},
                     {"user": "carol", "role": "user", "disabled": False}])
    plan = backup.check_restore(f, _current())
    d = plan["docs"]
    assert sorted(d) == ["bus", "genset", "meters", "mqtt", "settings", "users"]
    assert d["settings"]["sample_interval_s"] == 60 and d["settings"]["csv_separator"] == ";"
    assert d["bus"]["baud"] == 19200 and d["bus"]["parity"] == "E"
    assert [m["id"] for m in d["meters"]] == ["3", "7"]  # ids kept: history and genset use them
    assert "status" not in d["meters"][0] and d["meters"][1]["registers"][0]["register"] == 16
    assert d["genset"]["start_soc"] == 25 and "relay" not in d["genset"]
    # another broker than the device's: its password is not carried over (issue 16 item 7)
    assert d["mqtt"]["host"] == "mqtt.example" and d["mqtt"]["password"] == ""
    assert any(n.startswith("mqtt: the broker password was dropped") for n in plan["notes"])
    u = d["users"]
    assert u["bob"]["role"] == "installer" and u["bob"]["hash"] == HASH + "b"
    assert u["carol"]["disabled"] is True and u["carol"]["hash"] == backup.LOCKED_HASH
    assert u["carol"]["must_change"] is True
    assert plan["revoke"] == ["bob"]
    assert any("carol" in n for n in plan["notes"])


def test_secrets_in_a_file_are_ignored():
    f = _file(mqtt={"host": "x.example", "user": "gw", "password": "from-file"},
              wifi={"ssid": "Home", "password": "from-file", "ip": "192.168.1.50",
                    "netmask": "255.255.255.0", "gateway": "192.168.1.1", "dns": "0.0.0.0"},
              users=[{"user": "bob", "role": "user", "hash": "x", "password": "from-file-pw"}])
    d = backup.check_restore(f, _current())["docs"]
    assert d["mqtt"]["password"] == ""  # another broker: neither the file's nor the device's
    same = _file(mqtt={"host": "broker.lan", "user": "gw", "password": "from-file"})
    # the device's own broker: its password is kept
    assert backup.check_restore(same, _current())["docs"]["mqtt"]["password"] == "mqtt-secret"
    assert d["wifi"]["password"] == "wifi-secret" and d["wifi"]["ip"] == "192.168.1.50"
    assert d["users"]["bob"]["hash"] == HASH + "b"


def test_only_wifi_of_another_network():
    plan = backup.check_restore(_file(wifi={"ssid": "Neighbour"}), {"wifi": {}})
    assert plan["docs"] == {} and plan["kept"]


def test_wifi_kept_cases():
    for w in ({"ssid": "Neighbour"}, None):
        plan = backup.check_restore(_file(wifi=w, settings={}), _current())
        assert "wifi" not in plan["docs"] and plan["kept"][0].startswith("wifi")


def test_tenants_keep_their_meters_through_a_restore():
    """A tenant's binding is what it may read: a restore onto the same device keeps it, one onto
    a new device (the tenant only in the file) brings it, disabled like every new account."""
    cur = _current()
    cur["users"]["dupont"] = {"role": "tenant", "hash": HASH + "d", "disabled": False,
                              "must_change": False, "meters": ["3"]}
    f = _file(meters=METERS, users=[
        {"user": "dupont", "role": "tenant", "disabled": False, "meters": ["3", "7"]},
        {"user": "durand", "role": "tenant", "disabled": False, "meters": ["7"]}])
    plan = backup.check_restore(f, cur)
    u = plan["docs"]["users"]
    assert u["dupont"]["meters"] == ["3", "7"] and u["dupont"]["hash"] == HASH + "d"
    assert u["durand"]["meters"] == ["7"] and u["durand"]["disabled"] is True
    assert u["durand"]["hash"] == backup.LOCKED_HASH
    assert not [n for n in plan["notes"] if "not among the meters" in n]
    # the file's tenant without its meters keeps the device's binding
    plan = backup.check_restore(_file(users=[{"user": "dupont", "role": "tenant"}]), cur)
    assert plan["docs"]["users"]["dupont"]["meters"] == ["3"]


def test_references_to_meters_the_device_will_not_have_are_said():
    """A backup made while a reference dangled (older firmware let a meter in use be deleted):
    restored as it is, and said, rather than refused."""
    cur = _current()
    cur["meters"] = ["3", "7", "9"]
    cur["users"]["martin"] = {"role": "tenant", "hash": HASH, "meters": ["9"]}
    f = _file(meters=METERS[:1], genset={"mode": "auto", "soc_source": {"meter": "7"},
                                          "start_soc": 25, "stop_soc": 90},
              users=[{"user": "dupont", "role": "tenant", "meters": ["3", "5"]}])
    plan = backup.check_restore(f, cur)
    assert plan["docs"]["genset"]["soc_source"]["meter"] == "7"
    notes = [n for n in plan["notes"] if "not among the meters" in n]
    assert notes == [
        "genset: its soc_source is meter 7, which is not among the meters: the generator "
        "reports its source lost until another is chosen",
        "account dupont is bound to meter 5, not among the meters: it reads nothing of it",
        "account martin is bound to meter 9, not among the meters: it reads nothing of it"], notes
    # the meters not in the file: the device's are checked
    plan = backup.check_restore(_file(users=[{"user": "dupont", "role": "tenant",
                                              "meters": ["9"]}]), cur)
    assert not [n for n in plan["notes"] if "not among the meters" in n]


def test_user_doing_the_restore_is_not_locked_out():
    plan = backup.check_restore(_file(users=[{"user": "admin", "role": "user", "disabled": True}]),
                                _current())
    assert plan["docs"]["users"]["admin"]["role"] == "admin"
    assert not plan["docs"]["users"]["admin"]["disabled"] and plan["notes"]
    # another admin is demoted only while an enabled admin stays
    cur = _current()
    cur["me"] = "bob"
    f = _file(users=[{"user": "admin", "role": "user", "disabled": True}])
    e = raises(ValidationError, backup.check_restore, f, cur)
    assert e.field == "users[0].role", (e.field, e.message)
    assert "users" not in f  # consumed as it is checked


def _field(f):
    return raises(ValidationError, backup.check_restore, f, _current()).field


def test_errors_name_the_field_in_the_file():
    m = [dict(METERS[0]), dict(METERS[1]), {"id": "9", "address": 1, "profile": "sdm120"}]
    assert _field(_file(meters=m)) == "meters[2].address"
    m = [dict(METERS[0]), dict(METERS[0], name="other", address=5)]
    assert _field(_file(meters=m)) == "meters[1].id"
    bad = dict(METERS[1])
    bad["registers"] = [{"quantity": "soc_pct", "register": 1, "type": "u128"}]
    assert _field(_file(meters=[bad])) == "meters[0].registers[0].type"
    assert _field(_file(meters=[{"id": "x", "address": 1}])) == "meters[0].id"
    assert _field(_file(meters={"a": 1})) == "meters"
    assert _field(_file(meters=[5])) == "meters[0]"
    assert _field(_file(settings={"timezone": "Mars/Olympus"})) == "settings.timezone"
    assert _field(_file(settings=[])) == "settings"
    assert _field(_file(bus={"baud": 7})) == "bus.baud"
    assert _field(_file(genset={"start_soc": 90, "stop_soc": 20})) == "genset.start_soc"
    assert _field(_file(genset={"quiet_hours": {"start": "25:00"}})) == "genset.quiet_hours.start"
    assert _field(_file(mqtt={"port": 0})) == "mqtt.port"
    assert _field(_file(mqtt={"bogus": 1})) == "mqtt.bogus"
    assert _field(_file(users=[{"user": "x", "role": "user"}])) == "users[0].user"
    assert _field(_file(users=[{"user": "dave", "role": "root"}])) == "users[0].role"
    assert _field(_file(users=[{"user": "dave"}, {"user": "DAVE"}])) == "users[1].user"
    assert _field(_file(wifi={"ssid": "Home", "ip": "10.0.0.300"})) == "wifi.ip"
    assert _field(_file(modbus_tcp={"port": 70000})) == "modbus_tcp.port"
    cur = _current()
    cur["taken_ports"] = (80,)
    e = raises(ValidationError, backup.check_restore, _file(modbus_tcp={"port": 80}), cur)
    assert e.field == "modbus_tcp.port"
    d = backup.check_restore(_file(modbus_tcp={"enabled": True}), cur)["docs"]
    assert d["modbus_tcp"] == {"enabled": True, "port": 502}


def test_documents_of_features_the_board_leaves_out_are_not_restored():
    cur = _current()
    cur["left_out"], cur["board"] = ["genset", "mqtt", "modbus_tcp"], "esp32-devkitc-max485"
    # invalid documents too: their validators are not on the board, nothing may try them
    plan = backup.check_restore(_file(genset={"mode": "bogus"}, mqtt={"bogus": 1},
                                      modbus_tcp={"port": 70000}, settings={}), cur)
    assert sorted(plan["docs"]) == ["settings"]
    notes = " | ".join(plan["notes"])
    for name in ("genset", "mqtt", "modbus_tcp"):
        assert name + ": not restored: this board (esp32-devkitc-max485) leaves the " + name + \
            " feature out" in notes, notes
    assert len(plan["notes"]) == 3


def test_header_is_checked():
    assert _field({"meters": []}) == "format"
    assert _field(_file(version=2, meters=[])) == "version"
    assert _field(_file(version="1", meters=[])) == "version"
    assert _field([1, 2]) == "restore"
    assert _field(_file()) == "restore"  # nothing to restore
    # with codes for the page: what is wrong with the file as a whole, in the reader's words
    code = lambda f: raises(ValidationError, backup.check_restore, f, _current()).code  # noqa: E731
    assert code({"meters": []}) == code([1, 2]) == code(_file(version="1")) == "not_backup"
    e = raises(ValidationError, backup.check_restore, _file(version=2, meters=[]), _current())
    assert (e.code, e.params) == ("backup_newer", {"version": 2})
    assert code(_file()) == "backup_empty"


def test_public_views_carry_no_secret():
    assert backup.public_wifi(_current()["wifi"]) == {
        "ssid": "Home", "ip": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "0.0.0.0",
        "dns": "0.0.0.0"}
    assert backup.public_wifi({}) is None
    users = backup.public_users(_current()["users"])
    assert [u["user"] for u in users] == ["admin", "bob"]
    assert all("hash" not in u for u in users)
    h = backup.header("DG1", "0.1.0", "emulator", 5)
    assert h["format"] == "dingate-backup" and "secret" in h["secrets"]
