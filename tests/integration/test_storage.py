"""Issue 4 end to end: samples recorded on the emulated flash, queried, exported, kept through
power cuts (SIGKILL of the whole emulator) and reboots."""
import csv
import io
import time

import pytest

from dingate.testing.emuproc import EmulatorProcess

METERS = ({"name": "Main meter", "address": 1, "profile": "sdm630"},
          {"name": "Workshop", "address": 2, "profile": "sdm120"})


def _setup(emu):
    emu.login()
    r = emu.api("PUT", "/api/settings", {"sample_interval_s": 5, "flush_interval_s": 5,
                                        "csv_separator": ";", "csv_decimal": ",",
                                        "location": "Résidence Les Pins"})
    assert r.status_code == 200, r.text
    return emu.add_meters(*METERS)


def _rows(emu, mid, t0, step=None):
    q = "/api/history?meter=%s&from=%d&to=%d" % (mid, t0, int(time.time()) + 60)
    if step:
        q += "&step=" + step
    r = emu.api("GET", q)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("storage") / "state")
    emu = EmulatorProcess(state_dir=state)
    emu.start()
    t0 = int(time.time()) - 5
    ids = _setup(emu)
    emu.wait_for(lambda: len(_rows(emu, ids[0], t0)) >= 3, timeout=60, what="3 flushed samples")
    yield emu, ids, t0, state
    emu.cleanup()


def test_samples_are_recorded_in_order(recording):
    emu, ids, t0, _ = recording
    rows = _rows(emu, ids[0], t0)
    ts = [r["ts"] for r in rows]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert all(b - a == 5 for a, b in zip(ts, ts[1:]))  # one sample per interval, none missing
    assert all("import_kwh" in r and "power_w" in r for r in rows)
    imports = [r["import_kwh"] for r in rows]
    assert imports == sorted(imports)  # an energy counter never goes back


def test_csv_export_matches_json_rows(recording):
    emu, ids, t0, _ = recording
    # end the range just after a sample already on flash ("to" is exclusive): later flushes
    # only add rows after it, so both queries see the same rows
    last = _rows(emu, ids[0], t0)[-1]["ts"]
    to = last + 1
    rows = emu.api("GET", "/api/history?meter=%s&from=%d&to=%d" % (ids[0], t0, to)).json()
    assert rows and rows[-1]["ts"] == last
    r = emu.api("GET", "/api/export.csv?meter=%s&from=%d&to=%d" % (ids[0], t0, to))
    assert r.status_code == 200
    assert "Residence_Les_Pins" in r.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(r.text), delimiter=";"))
    header, body = table[0], table[1:]
    assert header[:2] == ["ts", "time"] and "import_kwh" in header
    assert len(body) == len(rows)
    col = header.index("import_kwh")
    for line, row in zip(body, rows):
        assert int(line[0]) == row["ts"]
        assert float(line[col].replace(",", ".")) == pytest.approx(row["import_kwh"])
        assert "." not in line[col]  # French Excel: decimal comma


def test_aggregated_history_sums_to_the_raw_difference(recording):
    emu, ids, t0, _ = recording
    raw = _rows(emu, ids[0], t0)
    hourly = _rows(emu, ids[0], t0, step="1h")
    total = sum(r["import_kwh_delta"] for r in hourly)  # consumption columns say so
    assert total == pytest.approx(raw[-1]["import_kwh"] - raw[0]["import_kwh"], abs=1e-3)


def test_bad_queries_and_settings_are_400_with_field(recording):
    emu, ids, t0, _ = recording
    assert emu.api("GET", "/api/history?meter=nope&from=0&to=10").json()["field"] == "meter"
    assert emu.api("GET", "/api/history?meter=%s&from=10&to=5" % ids[0]).json()["field"] == "to"
    assert emu.api("GET", "/api/history?meter=%s&from=0&to=10&step=2h" % ids[0]).json()["field"] == "step"
    before = emu.api("GET", "/api/settings").json()
    for body, field in (({"sample_interval_s": 2}, "sample_interval_s"), ({"csv_separator": "|"}, "csv_separator"),
                        ({"location": "x" * 40}, "location"), ({"timezone": "Mars/Olympus"}, "timezone")):
        r = emu.api("PUT", "/api/settings", body)
        assert r.status_code == 400 and r.json()["field"] == field, r.text
    assert emu.api("GET", "/api/settings").json() == before


def test_billing_table_and_tenant_reset(recording):
    emu, ids, t0, _ = recording
    bills = emu.api("GET", "/api/billing").json()
    assert {b["meter"] for b in bills} == set(ids)
    r = emu.api("POST", "/api/billing/%s/reset" % ids[1], {})
    assert r.status_code == 400 and r.json()["field"] == "confirm"
    r = emu.api("POST", "/api/billing/%s/reset" % ids[1], {"confirm": True})
    assert r.status_code == 200 and r.json()["first_init"] is not None


def test_power_cut_keeps_flushed_samples_and_recording_resumes(recording):
    emu, ids, t0, state = recording
    before = _rows(emu, ids[0], t0)
    emu.kill()  # SIGKILL of the emulator and the firmware: nothing gets to flush
    with EmulatorProcess(state_dir=state) as emu2:
        emu2.login()
        after = _rows(emu2, ids[0], t0)
        assert after[: len(before)] == before  # everything flushed before the cut is there
        last = after[-1]["ts"]
        emu2.wait_for(lambda: _rows(emu2, ids[0], t0)[-1]["ts"] > last, timeout=60,
                      what="recording resumed after reboot")
        ts = [r["ts"] for r in _rows(emu2, ids[0], t0)]
        assert ts == sorted(ts) and len(set(ts)) == len(ts)
