"""What each polled meter costs the heap, measured on the MicroPython unix port with the
firmware's own Poller (tests/integration/meter_heap_probe.py): its polling state, last values
and RTU counters stay within a per-meter budget, the part of the WROOM tier's 32 meters that the
firmware controls, and so does each meter's sample while it waits for the recorder's write
(docs/memory.md, "Done (eighth session)")."""
import os
import subprocess

from dingate import paths

HERE = os.path.dirname(os.path.abspath(__file__))
# 64-bit bytes per meter (polling state, values, counters): 548 measured on 2026-12-06; 740
# before the polling state kept its defaults on the class
BUDGET = 640
# 64-bit bytes per sample waiting for the recorder's write (a tuple and a dict of fixed-point
# integers): 357 measured on 2026-12-06; the WROOM board holds one tick of them (recorder_pending)
SAMPLE_BUDGET = 400


def test_a_polled_meter_and_its_waiting_sample_stay_within_their_heap_budgets(tmp_path):
    env = dict(os.environ, MICROPYPATH=".frozen:" + os.path.join(paths.ROOT, "firmware"))
    r = subprocess.run([paths.micropython(required=True), "-X", "heapsize=4M",
                        os.path.join(HERE, "meter_heap_probe.py"), str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=120)
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert "PER_METER" in out, r.stdout + r.stderr
    assert out["STATUS"] == "['ok']", out  # every meter answered: values held, not errors
    per_meter = int(out["PER_METER"])
    assert 0 < per_meter <= BUDGET, "%d bytes per polled meter (budget %d)" % (per_meter, BUDGET)
    per_sample = int(out["PER_SAMPLE"])
    assert 0 < per_sample <= SAMPLE_BUDGET, "%d bytes per waiting sample (budget %d)" % (
        per_sample, SAMPLE_BUDGET)
