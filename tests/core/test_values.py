import json

from gateway.core import values as V

READ = {"voltage_l1_v": 231.4, "power_w": -1520.25, "import_kwh": 12345.6, "alarms": 2,
        "status": 4, "energy_wh": 123456789}


def test_values_read_back_as_the_dict_they_replace():
    v = V.compact(READ)
    assert v == READ and len(v) == len(READ)
    assert list(v) == list(READ) and list(v.keys()) == list(READ)
    for q in READ:
        assert q in v and v[q] == READ[q] and v.get(q) == READ[q]
        assert type(v[q]) is type(READ[q])  # integers stay integers (JSON "2", not "2.0")
    assert "frequency_hz" not in v and v.get("frequency_hz") is None
    assert v.get("frequency_hz", 0) == 0
    try:
        v["frequency_hz"]
    except KeyError:
        pass
    else:
        raise AssertionError("a missing quantity must raise KeyError")
    assert dict(v.items()) == READ and v.to_dict() == READ
    from gateway.web.http import plain

    assert json.loads(json.dumps(plain({"status": "ok", "ts": 1, "values": v}))) == {
        "status": "ok", "ts": 1, "values": READ}


def test_no_values_is_empty_and_false():
    none = V.compact({})
    assert not none and len(none) == 0 and none == {} and none.get("power_w") is None


def test_meters_of_one_profile_share_one_name_tuple():
    shared = {}
    a = V.compact({"power_w": 1.5, "alarms": 0}, shared)
    b = V.compact({"power_w": 2.5, "alarms": 1}, shared)
    assert a.names is b.names and a["power_w"] == 1.5 and b["power_w"] == 2.5
    c = V.compact({"power_w": 2.5}, shared)  # a partial read: its own names
    assert c.names is not a.names and c == {"power_w": 2.5}
    for i in range(3 * V.MAX_SHARED):  # bounded: never more than MAX_SHARED kept
        V.compact({"q%d" % i: i}, shared)
        assert len(shared) <= V.MAX_SHARED


def _width(v):
    """Bytes per number in the array (MicroPython's arrays have no itemsize)."""
    return len(bytes(v.nums)) // len(v)


def test_single_precision_arrays_where_floats_are_singles_and_integers_fit():
    was = V.DOUBLE_FLOATS
    V.DOUBLE_FLOATS = False  # as on an ESP32 (single-precision floats)
    try:
        small = V.compact({"power_w": 0.5, "alarms": 3, "status": -(1 << 24)})
        assert _width(small) == 4 and small == {"power_w": 0.5, "alarms": 3,
                                                      "status": -(1 << 24)}
        # not exact in a single, and a double array's element is read back as a single there
        # (MicroPython's mp_obj_new_float_from_d): the dict is kept as it came
        read = {"power_w": 0.5, "energy_wh": (1 << 24) + 1}
        assert V.compact(read) is read
        counters = V.compact({"energy_wh": (1 << 40) + 1, "alarms": 3})  # integers only
        assert isinstance(counters, V.Values) and _width(counters) == 8
        assert isinstance(counters.nums[0], int) and counters == {"energy_wh": (1 << 40) + 1,
                                                                  "alarms": 3}
    finally:
        V.DOUBLE_FLOATS = was
    assert _width(V.compact({"power_w": 0.1})) == (8 if was else 4)
