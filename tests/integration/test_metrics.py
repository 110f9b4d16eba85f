"""GET /metrics read by Prometheus' own parser (prometheus_client): readings equal /api/readings,
bus counters, heap, uptime; access by session role or by a bearer token the admin makes."""
import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from dingate.testing.emuproc import EmulatorProcess

NAME = 'Main "A"\\1'


@pytest.fixture(scope="module")
def emu():
    with EmulatorProcess() as e:
        e.login()
        e.meter_id, = e.add_meters({"name": NAME, "address": 1, "profile": "sdm630"})
        e.wait_for(lambda: e.api("GET", "/api/readings").json()[e.meter_id]["values"].get(
            "power_w") is not None, timeout=30, what="first reading")
        yield e


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def scrape(emu, session=None, **kw):
    r = (session or emu.session).get(emu.url + "/metrics", timeout=10, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/openmetrics-text")
    return families(r.text)


def value(fams, metric, **labels):
    for s in fams[metric].samples:
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((metric, labels))


def test_no_session_no_token_is_refused(emu):
    assert requests.get(emu.url + "/metrics", timeout=10).status_code == 401
    r = requests.get(emu.url + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert r.status_code == 401


def test_readings_equal_the_api(emu):
    mid = emu.meter_id

    def consistent():
        before = emu.api("GET", "/api/readings").json()[mid]
        fams = scrape(emu)
        after = emu.api("GET", "/api/readings").json()[mid]
        # the same poll on both sides of the scrape: the scrape saw exactly that poll
        if before["ts"] != after["ts"] or before["values"] != after["values"]:
            return None
        return before, fams

    reading, fams = emu.wait_for(consistent, timeout=30, what="a scrape between two polls")
    assert reading["values"]
    for q, v in reading["values"].items():
        assert value(fams, "dingate_" + q, meter=mid) == pytest.approx(v, rel=1e-12), q
    assert value(fams, "dingate_power_w", meter=mid, name=NAME) is not None  # escaped label
    assert value(fams, "dingate_meter_status", meter=mid,
                 **{"dingate_meter_status": reading["status"]}) == 1
    assert value(fams, "dingate_meter_last_poll_timestamp_seconds", meter=mid) == reading["ts"]


def test_bus_counters_heap_uptime_and_build(emu):
    fams = scrape(emu)
    requests_total = value(fams, "dingate_bus_requests", meter=emu.meter_id, address="1")
    ok = value(fams, "dingate_bus_ok", meter=emu.meter_id)
    assert fams["dingate_bus_requests"].type == "counter"
    assert requests_total >= ok > 0
    status = emu.api("GET", "/api/status").json()
    assert value(fams, "dingate_heap_free_bytes") > 0
    assert value(fams, "dingate_heap_alloc_bytes") > 0
    assert value(fams, "dingate_uptime_seconds") >= status["uptime_s"] - 1
    info = fams["dingate_build"]
    assert info.type == "info"
    assert info.samples[0].labels["firmware"] == status["firmware"]


def test_bearer_token_made_by_the_admin(emu):
    assert emu.api("GET", "/api/metrics").json() == {"token_set": False}
    r = emu.api("POST", "/api/metrics/token")
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert len(token) >= 32
    state = emu.api("GET", "/api/metrics")
    assert state.json() == {"token_set": True} and token not in state.text
    bare = requests.Session()  # a scraper: no login, no cookie
    fams = scrape(emu, bare, headers={"Authorization": "Bearer " + token})
    assert "dingate_uptime_seconds" in fams
    wrong = bare.get(emu.url + "/metrics", headers={"Authorization": "Bearer " + token[:-1] + "x"},
                     timeout=10)
    assert wrong.status_code == 401
    assert emu.api("DELETE", "/api/metrics/token").json() == {"token_set": False}
    gone = bare.get(emu.url + "/metrics", headers={"Authorization": "Bearer " + token}, timeout=10)
    assert gone.status_code == 401


def test_roles(emu):
    emu.add_users({"user": "viewer", "password": "viewer-pass-123", "role": "user"})
    viewer = emu.session_as("viewer", "viewer-pass-123")
    assert "dingate_uptime_seconds" in scrape(emu, viewer)
    # the token is the admin's to make
    assert viewer.post(emu.url + "/api/metrics/token", timeout=10).status_code == 403
