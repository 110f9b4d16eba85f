"""Storage benchmark: flash bytes per 15-min import/export reading, days of history per MiB for
32 channels, and flash bytes written per hour (ring + billing).

    python bench/storage_bench.py [--days N] [--seed S]   -> prints a JSON object

Data: a small apartment building on one gateway, 32 channels read every 15 minutes:
22 apartments (import only, 150-900 W average with a daily shape and noise), 6 houses with PV
(import at night, export during the day), 3 common services (lift, lighting, heat pump) and
the building's main meter (sum of all). Counters are integer Wh (records.fixed of kWh).
A "reading" is one counter value of one channel at one time (so one 15-min sample of a channel
with import and export is two readings). The firmware core (ring, records, billing) runs here
unchanged on CPython, on a temporary directory.
"""

import json
import math
import os
import random
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from gateway.core.billing import Billing, next_billing_read  # noqa: E402
from gateway.core.ring import Ring  # noqa: E402

T0 = 1735686000  # 2024-12-31 23:00 UTC = 2025-01-01 00:00 Paris
STEP = 900
CHANNELS = 32
MIB = 1 << 20


def _shape(hour):
    """Relative household load by local hour: night low, morning and evening peaks."""
    return (
        0.45 + 0.5 * math.exp(-((hour - 7.5) ** 2) / 2) + 0.9 * math.exp(-((hour - 19.5) ** 2) / 4)
    )


def _sun(hour, day):
    """PV output 0..1 by hour, a bit of seasonality and cloud noise applied by the caller."""
    length = 10 + 4 * math.sin(2 * math.pi * (day - 80) / 365)
    rise = 13 - length / 2
    x = (hour - rise) / length
    return math.sin(math.pi * x) if 0 < x < 1 else 0.0


def series(days, seed=1):
    """Yields (ts, [(meter, import_wh, export_wh), ...]) every 15 minutes."""
    rnd = random.Random(seed)
    kinds = ["apt"] * 22 + ["pv"] * 6 + ["common"] * 3 + ["main"]
    base_w = [rnd.uniform(150, 900) for _ in range(CHANNELS)]
    pv_kw = [rnd.uniform(3, 9) for _ in range(CHANNELS)]
    imp = [rnd.randrange(100000, 30000000) for _ in range(CHANNELS)]
    exp = [rnd.randrange(0, 5000000) if k == "pv" else 0 for k in kinds]
    cloud = 1.0
    for k in range(days * 96):
        ts = T0 + k * STEP
        hour = ((ts + 3600) % 86400) / 3600.0  # local hour (CET, good enough for shapes)
        day = k // 96
        cloud = min(1.0, max(0.1, cloud + rnd.uniform(-0.15, 0.15)))
        total = 0
        out = []
        for m in range(CHANNELS - 1):
            kind = kinds[m]
            if kind == "common":
                w = base_w[m] * 3 * (1 + 0.8 * (rnd.random() < 0.3))
            else:
                w = base_w[m] * _shape(hour) * rnd.uniform(0.3, 1.9)
            wh = int(w * STEP / 3600)
            if kind == "pv":
                pv_wh = int(pv_kw[m] * 1000 * _sun(hour, day) * cloud * STEP / 3600)
                net = wh - pv_wh
                if net >= 0:
                    imp[m] += net
                else:
                    exp[m] -= net
            else:
                imp[m] += wh
            total += wh
            out.append((str(m + 1), imp[m], exp[m]))
        imp[-1] += total
        out.append((str(CHANNELS), imp[-1], exp[-1]))
        yield ts, out


def run(days=30, seed=1, budget=MIB, segment_bytes=32 << 10, keep=False):
    d = tempfile.mkdtemp(prefix="dingate_bench_")
    try:
        ring = Ring(os.path.join(d, "ring"), budget=budget, segment_bytes=segment_bytes)
        billing = Billing(os.path.join(d, "bill"), zone="Europe/Paris")
        readings = 0
        next_bill = next_billing_read(T0 - 1, "Europe/Paris")
        last = None
        for ts, rows in series(days, seed):
            last = rows
            batch = []
            for m, i, e in rows:
                batch.append((ts, m, {"import_kwh": i, "export_kwh": e}))
                readings += 2
            ring.append(batch)  # one flush per 15-min sample (flush_interval < interval)
            while next_bill <= ts + STEP - 1:
                billing.read_all(next_bill, dict((m, (i, e)) for m, i, e in last))
                next_bill = next_billing_read(next_bill, "Europe/Paris")
        st = ring.stats()
        hours = days * 24.0
        stored = st["bytes"]
        kept_days = (st["newest_ts"] - st["oldest_ts"]) / 86400.0
        if st["deleted_segments"] == 0:
            per_reading = stored / readings
        else:  # the ring wrapped: bytes per reading of what it still holds
            per_reading = stored / (2 * CHANNELS * (kept_days * 96 + 1))
        per_day = per_reading * 2 * CHANNELS * 96
        return {
            "storage_bytes_per_reading": round(per_reading, 3),
            "storage_days_per_mib_32ch": round(MIB / per_day, 1),
            "flash_bytes_written_per_hour": int(
                (ring.bytes_written + billing.bytes_written) / hours
            ),
            "storage_ring_bytes_written_per_hour": int(ring.bytes_written / hours),
            "storage_billing_bytes_written_per_hour": int(billing.bytes_written / hours),
        }
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    print(json.dumps(run(a.days, a.seed), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
