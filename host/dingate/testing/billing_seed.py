"""A billing history for an emulated device, made by the firmware's own core under a simulated
clock and written into the device's flash image (the emulator stopped), so tests can see months
of hourly billing reads, closed months and statements without waiting for them.

    files = billing_history({"1": 1234.5}, zone="Europe/Paris", days=50, config=cfg)
    write_to_flash(state_dir, files)      # the emulator must be stopped; start it again after
"""
import os
import shutil
import tempfile
import time

from gateway.core import demand, tz
from gateway.core.billing import Billing, next_billing_read

from .. import boards, fsimage


def billing_history(end_kwh, zone="Europe/Paris", days=50, config=None, end=None,
                    wh_per_hour=None, quantities=None):
    """{path on the device: bytes} of /data/billing after hourly reads over ``days`` days up to
    the last hh:02 before ``end`` (default now), ending at the counters ``end_kwh`` {meter id:
    kWh or m3}; the consumption follows ``wh_per_hour(local hour)`` (default 400 Wh, 900 Wh
    18-21 h; litres for a volume meter); ``quantities`` {meter id: "gas_m3"} for volume meters.
    The electricity meters' quarter-hour reads (gateway.core.demand) follow the same hourly
    rate, but for SPIKE_FACTOR times it in the quarter at local SPIKE (day, hour): each month's
    peak."""
    rate = wh_per_hour or (lambda h: 900 if 18 <= h < 21 else 400)
    end = int(end or time.time())
    z = tz.get(zone)
    reads = []
    t = next_billing_read(end - days * 86400, zone)
    while t < end:
        reads.append(t)
        t = next_billing_read(t, zone)
    steps = [rate(z.parts(t)[3]) for t in reads]
    d = tempfile.mkdtemp(prefix="dgt_seed_")
    try:
        b = Billing(d, zone)
        b.config = lambda: config or {}
        for mid, kwh in end_kwh.items():
            imp = int(kwh * 1000) - sum(steps[:-1])
            q = (quantities or {}).get(mid)
            quarters = None if q else _quarter_reads(b, z, mid, reads[0], rate)
            for t, s in zip(reads, steps):
                if quarters:
                    quarters(t)
                if b.read(mid, t, imp, None if q else imp // 10, q):
                    b.flush()  # a month closed: its statement is made now, as on the device
                imp += s
        b.flush()
        out = {}
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                out["/data/billing/" + n] = f.read()
        return out
    finally:
        shutil.rmtree(d, ignore_errors=True)


SPIKE, SPIKE_FACTOR = (15, 19), 3  # the 15th, 19:00-19:15 local: three times the hour's rate


def _quarter_reads(b, z, mid, start, rate):
    """until(t): meter ``mid``'s quarter-hour reads (gateway.core.demand) from ``start`` up to t."""
    at = [start - start % 900 + 900, 0]  # the next quarter, its import index (Wh)

    def until(t):
        while at[0] <= t:
            q = at[0]
            demand.read(b, q, {mid: (q, at[1])})
            p = z.parts(q)
            at[1] += rate(p[3]) * (SPIKE_FACTOR if (p[2], p[3], p[4]) == SPIKE + (0,) else 1) // 4
            at[0] += 900

    return until


def _flash(state_dir, board):
    _o, _s, block, count = boards.fs_geometry(boards.load(board))
    with open(os.path.join(state_dir, "flash.img"), "rb") as f:
        return fsimage.open_image(f.read(), block, count)


def read_from_flash(state_dir, path, board="emulator"):
    """A file of the stopped emulated device's filesystem (None if it has none)."""
    return fsimage.read_file(_flash(state_dir, board), path)


def write_to_flash(state_dir, files, board="emulator"):
    """Write ``files`` into the stopped emulated device's filesystem (state_dir/flash.img)."""
    path = os.path.join(state_dir, "flash.img")
    fs = _flash(state_dir, board)
    fsimage.write_files(fs, files)
    with open(path + ".tmp", "wb") as f:
        f.write(bytes(fs.context.buffer))
    os.replace(path + ".tmp", path)


METERS = ({"name": "Apt 1", "address": 1, "profile": "sdm630"},
          {"name": "Apt 2", "address": 2, "profile": "sdm120"},
          # a gas meter: the emulated SDM120 at 3's import counter read as a volume
          {"name": "Gaz commun", "address": 3, "profile": "generic", "registers": [
              {"quantity": "gas_m3", "function": 4, "register": "0x0048", "type": "f32",
               "word_order": "big", "scale": 1, "unit": "m³"}]})
GAS = {"name": "Gaz", "kind": "gas", "price": 1.1, "monthly_fee": 2, "vat_pct": 5.5}
TENANT_PASSWORD = "tenant-pass-1"
TARIFF = {"name": "HP/HC", "price": 0.25, "base_name": "HP", "monthly_fee": 12, "vat_pct": 20,
          "periods": [{"name": "HC", "price": 0.18, "windows": ["22:00-06:00"]}]}


def billing_site(state_dir, days=50):
    """A started emulated gateway (dingate.testing.emuproc) with the meters METERS (two
    apartments, a common gas meter), a HP/HC and a gas tariff, tenant "dupont" (password
    TENANT_PASSWORD) bound to the first meter and ``days`` of billing history. Returns (emulator logged in as admin, meter ids, notes) where notes holds
    what the device said before its history existed ({"before": GET /api/billing})."""
    from .emuproc import EmulatorProcess

    emu = EmulatorProcess(state_dir=state_dir)
    emu.start()
    try:
        emu.login()
        r = emu.api("PUT", "/api/settings", {"location": "Les Pins", "csv_separator": ";",
                                             "csv_decimal": ","})
        assert r.status_code == 200, r.text
        ids = emu.add_meters(*METERS)

        def read():
            rd = emu.api("GET", "/api/readings").json()
            return all(v["status"] == "ok" for v in rd.values()) and rd

        rd = emu.wait_for(read, timeout=30, what="meters read")
        notes = {"before": emu.api("GET", "/api/billing").json()}
        r = emu.api("PUT", "/api/billing/config", {"currency": "EUR", "tariffs": [TARIFF, GAS],
                                                   "meters": {
            ids[0]: {"tenant": "M. Dupont", "tariff": TARIFF["name"], "group": "Floor 1"},
            ids[1]: {"tenant": "Mme Martin", "tariff": TARIFF["name"], "group": "Floor 1"},
            ids[2]: {"tariff": GAS["name"], "group": "Common", "common": True}}})
        assert r.status_code == 200, r.text
        cfg = r.json()
        r = emu.api("POST", "/api/users", {"user": "dupont", "password": TENANT_PASSWORD,
                                           "role": "tenant", "meters": [ids[0]]})
        assert r.status_code == 201, r.text
        notes["tenant"] = r.json()
        end = {mid: rd[mid]["values"]["import_kwh"] - 1 for mid in ids[:2]}
        end[ids[2]] = rd[ids[2]]["values"]["gas_m3"] - 1
        emu.stop()
        write_to_flash(state_dir, billing_history(end, days=days, config=cfg,
                                                  quantities={ids[2]: "gas_m3"}))
    except BaseException:
        emu.cleanup()
        raise
    emu = EmulatorProcess(state_dir=state_dir)
    emu.start()
    emu.login()
    return emu, ids, notes
