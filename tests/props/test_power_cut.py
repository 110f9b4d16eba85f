"""Power cuts on littlefs: the ring, the config store, billing and the event log survive them.

How (and why this way): the scenario runs the firmware's own core modules under the MicroPython
unix port, on MicroPython's own littlefs2 driver (vfs.VfsLfs2, the code that runs on the ESP32),
mounted on a Python block device that models NOR flash (4 KiB erase blocks, programs only clear
bits, erase sets 0xFF) and "loses power" at block operation N: that program/erase is torn (a
random prefix of it reaches the flash) and nothing written afterwards reaches the flash (no
exception is thrown into littlefs' C code: the workload stops after the operation in flight).
Then the same bytes are mounted again and checked. This is more faithful than driving
littlefs-python's file API through an adapter: no adapter code, the same littlefs binding,
open()/os.rename() semantics and Python interpreter as on the device. littlefs-python is used
as an independent second implementation: every few runs the raw post-cut image is mounted
with it and our files are read and decoded on CPython (ring frames, JSON documents).

Checks after each cut and remount: no corrupt config (each document is the last acknowledged
version or the one being saved), no lost flushed sample (the ring holds a suffix of the
acknowledged samples, plus possibly the whole in-flight batch, and everything the ring's budget
requires it to keep), billing month-ends intact per channel, the event log readable with its
last acknowledged event, and the ring keeps working (append after recovery, reopen, read back).

Default: 300 cuts (~10 s); DINGATE_NIGHTLY=1: 1200. DINGATE_POWERCUT_SEED fixes the
seeds for reproduction (the seed is printed on failure).
"""

import json
import os
import random
import subprocess
import sys

import pytest

from dingate import paths

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BS = 4096
NB = 80

RUNNER = r'''
import sys, os, json
import vfs
from gateway.core.ring import Ring
from gateway.core.configstore import ConfigStore
from gateway.core.billing import Billing
from gateway.core.eventlog import EventLog
from gateway.core import records as R

BS = %(bs)d
NB = %(nb)d
MNT = "/pcflash"
ZONE = "Europe/Paris"
NAMES = ("settings", "meters")
METERS = ("1", "2", "3", "4")
CHS = ("1", "2", "3")
RING = (6144, 1024)
EVB = 2048


class Rnd:
    def __init__(self, seed):
        self.s = (seed * 2654435761 + 12345) & 0x7FFFFFFF or 1

    def next(self):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return self.s >> 8

    def below(self, n):
        return ((self.next() << 23) | self.next()) %% n


class Flash:
    """NOR flash block device; power lost during operation number cut + 1.

    At the cut that program/erase is torn (a random prefix reaches the flash) and from then on
    nothing reaches the flash any more; reads still return what the flash holds. No exception
    is raised into littlefs (a longjmp through its C code leaves half-open file objects whose
    finalizers later crash the interpreter): the workload is stopped after the operation in
    flight instead, and whatever the firmware did after the cut never reached the flash."""

    def __init__(self, data=None, cut=None, rnd=None):
        self.data = data if data is not None else bytearray(b"\xff" * (BS * NB))
        self.ops = 0
        self.cut = cut
        self.dead = False
        self.rnd = rnd

    def _tick(self):
        if self.dead:
            return "dead"
        self.ops += 1
        if self.cut is not None and self.ops > self.cut:
            self.dead = True
            return "cut"
        return None

    def readblocks(self, block, buf, off=0):
        a = block * BS + off
        buf[:] = self.data[a : a + len(buf)]

    def writeblocks(self, block, buf, off=0):
        t = self._tick()
        if t == "dead":
            return
        a = block * BS + off
        n = len(buf) if t is None else self.rnd.below(len(buf) + 1)
        if n:
            if self.data[a : a + n] == b"\xff" * n:
                self.data[a : a + n] = buf[:n]
            else:  # programming over programmed bits: NOR can only clear bits
                for i in range(n):
                    self.data[a + i] &= buf[i]

    def ioctl(self, op, arg):
        if op == 4:
            return NB
        if op == 5:
            return BS
        if op == 6:
            t = self._tick()
            if t == "dead":
                return 0
            n = BS if t is None else self.rnd.below(BS + 1)  # a torn erase: partly erased
            a = arg * BS
            self.data[a : a + n] = b"\xff" * n
        return 0


def make_ops(seed, nops):
    r = Rnd(seed)
    ops = []
    ts = 1738000000 - 1738000000 %% 300
    bts = 1738195200 + r.below(86400)  # around 2025-01-30
    imp = {}
    for m in METERS:
        imp[m] = 1000 + r.below(10 ** 7)
    bill = {}
    for ch in CHS:
        bill[ch] = [r.below(10 ** 6), 0]
    for i in range(nops):
        k = r.below(100)
        if k < 55:
            batch = []
            for _ in range(1 + r.below(4)):
                ts += 300
                for m in METERS:
                    if r.below(10) == 0:
                        continue
                    imp[m] += r.below(600)
                    batch.append((ts, m, {"import_kwh": imp[m], "export_kwh": r.below(3),
                                          "power_w": r.below(5000)}))
            ops.append(("append", batch))
        elif k < 70:
            ops.append(("save", NAMES[r.below(2)], {"i": i, "pad": "x" * r.below(400)}))
        elif k < 90:
            bts += 3600 * (1 + r.below(96))
            cur = {}
            for ch in CHS:
                if r.below(8) == 0:
                    continue
                bill[ch][0] += r.below(5000)
                bill[ch][1] += r.below(50)
                cur[ch] = (bill[ch][0], bill[ch][1])
            ops.append(("bill", bts, cur))
        else:
            ops.append(("log", "comm", "meter %%d" %% r.below(4), "event %%d" %% i))
    return ops


def open_all():
    return {
        "ring": Ring(MNT + "/ring", RING[0], RING[1]),
        "cfg": ConfigStore(MNT + "/cfg"),
        "bill": Billing(MNT + "/bill", ZONE),
        "log": EventLog(MNT + "/ev", EVB),
    }


def mount(flash, fresh):
    if fresh:
        vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), MNT)


def umount():
    try:
        vfs.umount(MNT)
    except Exception:
        pass


def bill_view(b):
    out = {}
    for ch in b.channels():
        g = b.get(ch)
        out[ch] = [g["first_init"], g["months"]]
    return out


def dry(seed, nops):
    """Uncut run: expected state after every op and the number of flash operations."""
    ops = make_ops(seed, nops)
    flash = Flash()
    mount(flash, True)
    flash.ops = 0
    st = open_all()
    cfg = {}
    snaps = []
    seqs = []
    last_ev = None
    for i in range(len(ops)):
        op = ops[i]
        seq = None
        if op[0] == "append":
            seq = st["ring"].append(op[1]) >> 32
        elif op[0] == "save":
            st["cfg"].save(op[1], op[2])
            cfg[op[1]] = op[2]
        elif op[0] == "bill":
            st["bill"].read_all(op[1], op[2])
        else:
            st["log"].log(op[1], op[2], op[3], ts=1738000000 + i)
            last_ev = op[3]
        seqs.append(seq)
        c2 = {}
        for k in cfg:
            c2[k] = cfg[k]
        snaps.append({"oldest": st["ring"].segs[0][0] if st["ring"].segs else 1 << 30,
                      "cfg": c2, "bill": bill_view(st["bill"]), "ev": last_ev})
    umount()
    return ops, snaps, seqs, flash.ops


def order(samples):
    o = list(range(len(samples)))
    o.sort(key=lambda i: (samples[i][0], samples[i][1]))
    return o


def check(ops, snaps, seqs, c, errors):
    """Verify the remounted flash after a cut during op c (ops < c acknowledged)."""
    empty = {"oldest": 1 << 30, "cfg": {}, "bill": {}, "ev": None}
    acked = snaps[c - 1] if c > 0 else empty
    inflight = ops[c] if c < len(ops) else None
    after = snaps[c] if c < len(ops) else acked
    st = open_all()
    # ---- ring: a suffix of the acknowledged samples (+ the whole in-flight batch or nothing)
    A = []
    aseq = []
    for i in range(c):
        if ops[i][0] == "append":
            A.extend(ops[i][1])
            aseq.extend([seqs[i]] * len(ops[i][1]))
    F = inflight[1] if inflight is not None and inflight[0] == "append" else []
    # samples of one timestamp come back in channel order: compare in (ts, meter) order
    o = order(A)
    A = [A[i] for i in o]
    aseq = [aseq[i] for i in o]
    F = [F[i] for i in order(F)]
    got = list(st["ring"].samples())
    got = [got[i] for i in order(got)]
    m = len(got)
    k = None
    if F and m >= len(F) and got[m - len(F):] == F and m - len(F) <= len(A) and \
            got[: m - len(F)] == A[len(A) - (m - len(F)):]:
        k = len(A) - (m - len(F))
    elif m <= len(A) and got == A[len(A) - m:]:
        k = len(A) - m
    if k is None:
        errors.append("ring: not a suffix of acked samples (%%d read, %%d acked)" %% (m, len(A)))
    else:
        req = len(A)
        for j in range(len(A)):
            if aseq[j] >= after["oldest"]:
                req = j
                break
        if k > req:
            errors.append("ring: lost %%d flushed samples" %% (k - req))
    # ---- configs
    for name in NAMES:
        data, status = st["cfg"].load(name)
        ok = [acked["cfg"].get(name)]
        if inflight is not None and inflight[0] == "save" and inflight[1] == name:
            ok.append(inflight[2])
        if status == "corrupt" or data not in ok:
            errors.append("config %%s: status %%s data %%r" %% (name, status, str(data)[:60]))
    # ---- billing, per channel: acknowledged state or the in-flight read's
    if st["bill"].problems:
        errors.append("billing problems: %%r" %% (st["bill"].problems,))
    view = bill_view(st["bill"])
    for ch in CHS:
        got_b = view.get(ch)
        want = [acked["bill"].get(ch)]
        if inflight is not None and inflight[0] == "bill":
            want.append(after["bill"].get(ch))
        if json.dumps(got_b) not in [json.dumps(w) for w in want]:
            errors.append("billing %%s: %%r not in %%r" %% (ch, got_b, want))
    # ---- event log
    evs = [e["text"] for e in st["log"].query(limit=2)]
    if acked["ev"] is not None and acked["ev"] not in evs:
        errors.append("event log: last acknowledged event missing: %%r" %% (evs,))
    # ---- the ring keeps working after recovery
    nts = (got[-1][0] if got else 0) + 10 ** 6
    extra = [(nts, "9", {"import_kwh": 1}), (nts + 300, "9", {"import_kwh": 2})]
    st["ring"].append(extra)
    again = list(Ring(MNT + "/ring", RING[0], RING[1]).samples())
    again = [again[i] for i in order(again)]
    want = got + extra  # minus what this append may have rotated away
    if len(again) < len(extra) or again != want[len(want) - len(again):]:
        errors.append("ring: append after recovery not read back")
    st["cfg"].save("settings", {"after": 1})
    if st["cfg"].load("settings") != ({"after": 1}, "ok"):
        errors.append("config: save after recovery failed")
    return st


def main():
    f = open(sys.argv[1])  # parameters in a file: this unix port dies on argv items >= 256 chars
    p = json.loads(f.read())
    f.close()
    fails = []
    runs = 0
    kinds = {}
    statuses = {}
    dumps = []
    for seed in p["seeds"]:
        ops, snaps, seqs, total = dry(seed, p["nops"])
        pick = Rnd(seed * 31 + 7)
        for j in range(p["cuts"]):
            cut = pick.below(total)  # power lost at operation cut + 1 (1..total)
            flash = Flash(rnd=Rnd(seed * 7919 + cut))
            mount(flash, True)
            flash.ops = 0
            flash.cut = cut
            c = 0  # index of the op in flight when the power went (len(ops): none)
            try:
                st = open_all()
                if not flash.dead:
                    for i in range(len(ops)):
                        c = i
                        op = ops[i]
                        if op[0] == "append":
                            st["ring"].append(op[1])
                        elif op[0] == "save":
                            st["cfg"].save(op[1], op[2])
                        elif op[0] == "bill":
                            st["bill"].read_all(op[1], op[2])
                        else:
                            st["log"].log(op[1], op[2], op[3], ts=1738000000 + i)
                        if flash.dead:
                            break
                    else:
                        c = len(ops)
            except Exception:  # errors the firmware met on the flash after the power went
                if not flash.dead:
                    raise
            st = None
            umount()
            kind = ops[c][0] if c < len(ops) else "none"
            kinds[kind] = kinds.get(kind, 0) + 1
            if p["dump"] and runs %% p["dump_every"] == 0:
                name = "%%s/img_%%d_%%d.bin" %% (p["dump"], seed, cut)
                f = open(name, "wb")
                f.write(flash.data)
                f.close()
                dumps.append(name)
            errors = []
            try:
                mount(Flash(data=flash.data), False)
                st = check(ops, snaps, seqs, c, errors)
                for pr in st["cfg"].problems:
                    statuses[pr[1]] = statuses.get(pr[1], 0) + 1
            except Exception as e:
                errors.append("exception %%r" %% (e,))
            st = None
            umount()
            runs += 1
            if errors:
                fails.append({"seed": seed, "cut": cut, "of": total, "op": c, "kind": kind,
                              "errors": errors[:5]})
    print("RESULT " + json.dumps({"runs": runs, "fails": fails[:20], "nfails": len(fails),
                                   "cut_during": kinds, "config_reports": statuses,
                                   "dumps": dumps}))


main()
'''


def _run(tmp_path, seeds, cuts, nops, dump_every):
    mp = paths.micropython()
    if mp is None:
        pytest.skip("MicroPython unix port not found")
    script = tmp_path / "powercut_runner.py"
    script.write_text(RUNNER % {"bs": BS, "nb": NB})
    dump = tmp_path / "img"
    dump.mkdir()
    params = {
        "seeds": seeds,
        "cuts": cuts,
        "nops": nops,
        "dump": str(dump),
        "dump_every": dump_every,
    }
    pfile = tmp_path / "powercut_params.json"
    pfile.write_text(json.dumps(params))
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    r = subprocess.run(
        [mp, "-X", "heapsize=32M", str(script), str(pfile)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if "no module named 'vfs'" in r.stdout + r.stderr or "VfsLfs2" in r.stderr:
        pytest.skip("this MicroPython has no littlefs VFS")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, "runner failed: %s\n%s" % (r.stdout[-3000:], r.stderr[-3000:])
    return json.loads(lines[-1][7:])


def _check_image_with_littlefs_python(path):
    """Mount a post-cut image with littlefs-python and decode our files on CPython."""
    littlefs = pytest.importorskip("littlefs")
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    from gateway.core import records as R

    data = bytearray(open(path, "rb").read())
    ctx = littlefs.UserContext(buffer=data)
    fs = littlefs.LittleFS(context=ctx, block_size=BS, block_count=NB, mount=False)
    fs.mount()  # raises if the image is not a consistent littlefs
    seen = 0
    for top, _dirs, files in fs.walk("/"):
        for n in files:
            p = top.rstrip("/") + "/" + n
            with fs.open(p, "rb") as f:
                body = f.read()
            seen += 1
            if n.endswith(".seg") and len(body) >= R.SEG_HEADER:
                hdr = R.parse_seg_header(body)
                if hdr is None:
                    continue  # torn creation: the firmware removes it on open
                st = R.SegState(hdr[1])
                i = R.SEG_HEADER
                while True:
                    fr = R.check_frame(body, i)
                    if not fr:
                        break
                    R.decode(st, body[fr[0] : fr[1]])  # must not raise on a checked frame
                    i = fr[2]
            elif n.endswith(".json") and "/cfg/" in p:
                doc = json.loads(body)  # a current config document is always complete
                assert "data" in doc and "gen" in doc
            elif n.endswith(".json") and n.startswith("ch_"):
                assert json.loads(body)["ch"]
    fs.unmount()
    return seen


def test_power_cuts_littlefs(tmp_path):
    nightly = os.environ.get("DINGATE_NIGHTLY") == "1"
    base = os.environ.get("DINGATE_POWERCUT_SEED")
    base = int(base) if base else random.randrange(1, 10**6)
    nseeds, cuts = (40, 30) if nightly else (10, 30)
    seeds = [base + k for k in range(nseeds)]
    res = _run(tmp_path, seeds, cuts, nops=40, dump_every=10)
    assert res["runs"] == nseeds * cuts
    assert res["nfails"] == 0, "DINGATE_POWERCUT_SEED=%d: %s" % (
        base,
        json.dumps(res["fails"], indent=1)[:4000],
    )
    # the cut landed in every kind of operation
    for kind in ("append", "save", "bill"):
        assert res["cut_during"].get(kind, 0) > 0, res["cut_during"]
    checked = 0
    for img in res["dumps"]:
        _check_image_with_littlefs_python(img)
        checked += 1
    assert checked >= 10
