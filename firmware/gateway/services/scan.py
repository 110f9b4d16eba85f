"""Bus scan (docs/openapi.yaml /api/bus/scan): which addresses answer on the RS485 line, and what they are.

The poller runs the scan (``poller.extra = scan``): one ``step()`` per meter it polls and more
while it waits for its next cycle, so normal polling goes on. A step probes one address with
one short read (FC3 register 0, no retry, a timeout of ``PROBE_TURNAROUND_MS`` plus the wire time
of the 7-byte answer: 78 ms at 9600 baud): any answer, even an exception,
means a device is there; it is then identified (``identify``) by:
1. the SunSpec marker "SunS" at 40000, 50000 or 0 (manufacturer, model, serial of model 1);
2. a profile's own ``signature`` when the profile library offers one (``profiles.identify``);
3. plausible values at the profiles' registers: voltages 80..300 V and a frequency 45..65 Hz
   where the profile maps them; score = registers read plausibly - registers refused, a single
   implausible value or a refused first probe rules the profile out; the best score wins.

Optionally (``start(..., line=True)``) the scan first tries the other usual line settings
(``LINE_SETTINGS``) on the first addresses of the range, one probe per step, each under the
master's lock and back to the bus's settings at once: ``state()["line"]`` lists the settings
that got an answer.
"""
from gateway.core import modbus, profiles, registers
from gateway.services.rtu import as_dict, tally

# a probe's timeout: this long for the device to turn round, plus the wire time of its answer
PROBE_TURNAROUND_MS = 70
# the line-settings probe: the usual factory settings of meters and inverters, tried on the
# first LINE_ADDRESSES addresses of the range (factory addresses are 1, 2...)
LINE_SETTINGS = ((9600, "N", 1), (19200, "N", 1), (9600, "E", 1), (19200, "E", 1),
                 (2400, "N", 1), (4800, "N", 1), (38400, "N", 1), (9600, "O", 1),
                 (115200, "N", 1), (9600, "N", 2), (2400, "E", 1), (1200, "N", 1))
LINE_ADDRESSES = 4
SUNSPEC_BASES = (40000, 50000, 0)
SUNS = [0x5375, 0x6E53]
# quantity prefix: plausible range of a live installation
PLAUSIBLE = (("voltage_l", 80, 300), ("frequency_hz", 45, 65))
MAX_PROBES = 4  # registers probed per profile (voltages, frequency)
DETAIL_MAX = 128  # chars of a found device's detail text (SunSpec strings are the device's own)


def _text(words):
    b = bytearray()
    for w in words:
        b.append(w >> 8)
        b.append(w & 0xFF)
    try:
        return bytes(b).split(b"\0")[0].decode().strip()
    except ValueError:  # UnicodeError: not text
        return ""


def _plausible(quantity, value):
    for prefix, lo, hi in PLAUSIBLE:
        if quantity.startswith(prefix):
            return lo <= value <= hi
    return None  # not a probe quantity


async def _sunspec(read):
    for base in SUNSPEC_BASES:
        if await read(3, base, 2) == SUNS:
            head = await read(3, base + 2, 2)
            if not head or head[0] != 1:
                return {"base": base}
            common = await read(3, base + 4, 32) or []
            serial = await read(3, base + 52, 16) or []
            return {"base": base, "manufacturer": _text(common[:16]),
                    "model": _text(common[16:32]), "serial": _text(serial)}
    return None


def _candidates():
    for name in profiles.names():
        if name in ("generic", "sunspec"):
            continue
        try:  # parsed for the scan only, not kept
            specs = profiles.registers({"profile": name, "registers": None}, False)
        except (ValueError, KeyError, OSError):
            continue
        probes = [s for s in specs if _plausible(s["quantity"], 0) is not None]
        if probes:
            yield name, probes[:MAX_PROBES]


async def _by_values(read):
    """(profile, detail) of the best-scoring profile, else None. Score: probe registers read
    plausibly minus those refused; one implausible value rules a profile out."""
    best = None
    for name, probes in _candidates():
        seen = []
        score = 0
        for s in probes:
            regs = await read(s["function"], s["register"], registers.words(s["type"]))
            if regs is None:
                if not seen:  # its first probe refused: not this profile, read no more
                    score = None
                    break
                score -= 1
                continue
            v = registers.decode(regs, s["type"], s.get("word_order", "big"), s.get("scale", 1))
            if not _plausible(s["quantity"], v):
                score = None
                break
            score += 1
            seen.append("%s %s" % (s["quantity"], round(v, 2)))
        if score and score > 0:
            if best is None or score > best[0]:
                best = (score, name, seen, [])
            elif score == best[0]:
                best[3].append(name)  # the same registers: say which others fit as well
    if best is None:
        return None
    detail = ", ".join(best[2])
    if best[3]:
        detail += " (also fits: %s)" % ", ".join(best[3])
    return best[1], detail


async def identify(read):
    """``(profile name or None, detail text)`` of the device that ``read(function, register,
    count)`` (-> list of words, or None if refused/unanswered) reaches."""
    sun = await _sunspec(read)
    if sun is not None:
        name = "sunspec" if "sunspec" in profiles.names() else None
        text = "SunSpec at %d" % sun["base"]
        if sun.get("manufacturer") or sun.get("model"):
            text += ": %s %s" % (sun.get("manufacturer", ""), sun.get("model", ""))
        if sun.get("serial"):
            text += " (serial %s)" % sun["serial"]
        return name, text
    own = getattr(profiles, "identify", None)
    if own is not None:
        got = await own(read)
        if got:
            return got
    got = await _by_values(read)
    if got:
        return got
    return None, "answers, not recognised"


class BusScan:
    """One scan at a time over ``from``..``to``; ``state()`` is what GET /api/bus/scan returns.

    The scan's requests are counted in its own tally (``state()["counters"]``), not in the
    devices' counters: a configured meter answering other profiles' identification reads with
    exceptions is not at fault, and a probed address leaves no counters behind.
    """

    def __init__(self, master, probe_timeout_ms=None):
        self.master = master
        self.tally = tally()
        self.probe_timeout_ms = probe_timeout_ms  # None: PROBE_TURNAROUND_MS + the answer's time
        self.running = False
        self.lo = self.hi = self.next = 0
        self.found = []
        self.error = None
        self.line = None  # the line-settings probe's answers, when one was asked for
        self._line_todo = []
        self._line_total = 0

    def start(self, lo, hi, line=False):
        """Scan ``lo``..``hi``; ``line``: first try the other usual line settings on the first
        LINE_ADDRESSES addresses (``state()["line"]``: the settings something answered at)."""
        self.lo, self.hi, self.next = lo, hi, lo
        self.found = []
        self.error = None
        self.line = None
        self._line_todo = []
        self.tally = tally()
        if line:
            m = self.master
            here = (m.baud, m.parity, m.stop)
            top = min(hi, lo + LINE_ADDRESSES - 1)
            for s in LINE_SETTINGS:
                if s != here:
                    for a in range(lo, top + 1):
                        self._line_todo.append((s, a))
            self._line_total = len(self._line_todo)
            self.line = []
        self.running = True

    def stop(self, error=None):
        """End the scan (the poller calls it if a step failed: ``error``)."""
        self.running = False
        self.error = str(error) if error is not None else None

    def state(self):
        extra = self._line_total if self.line is not None else 0
        total = self.hi - self.lo + 1 + extra
        done = self.next - self.lo + extra - len(self._line_todo)
        progress = 1.0 if not self.running else (done / total if total > 0 else 1.0)
        out = {"running": self.running, "progress": round(progress, 3), "found": self.found,
               "from": self.lo, "to": self.hi, "counters": as_dict(self.tally)}
        if self.line is not None:
            out["line"] = self.line
        if self.error:
            out["error"] = self.error
        return out

    async def _line_step(self):
        (baud, parity, stop), a = self._line_todo.pop(0)
        timeout = self.probe_timeout_ms or PROBE_TURNAROUND_MS + (77000 // baud) + 1
        if await self.master.probe_line({"baud": baud, "parity": parity, "stop": stop}, a,
                                        timeout, self.tally):
            for e in self.line:
                if (e["baud"], e["parity"], e["stop"]) == (baud, parity, stop):
                    e["addresses"].append(a)
                    break
            else:
                self.line.append({"baud": baud, "parity": parity, "stop": stop,
                                  "addresses": [a]})
        return True

    async def _read(self, address, function, register, count, timeout_ms):
        try:
            return await self.master.read_registers(address, function, register, count, 0,
                                                    timeout_ms, 0, self.tally)
        except modbus.ModbusError:
            return None

    async def step(self):
        """Probe (and identify) the next address; False once the scan is over."""
        if not self.running or self.next > self.hi:
            self.running = False
            return False
        if self._line_todo:
            return await self._line_step()
        a = self.next
        probe = self.probe_timeout_ms or PROBE_TURNAROUND_MS + (7 * self.master.char_us) // 1000 + 1
        try:
            await self.master.read_registers(a, 3, 0, 1, 0, probe, 0, self.tally)
            present = True
        except modbus.NoResponse:
            present = False
        except modbus.ModbusError:  # an exception reply or a garbled one: someone is there
            present = True
        except OSError:
            present = False
        if present:
            cache = {}  # profiles share registers: each is read once
            timeout = 2 * probe

            async def read(function, register, count):
                key = (function, register, count)
                if key not in cache:
                    cache[key] = await self._read(a, function, register, count, timeout)
                return cache[key]

            try:
                name, detail = await identify(read)
            except (ValueError, KeyError, OSError) as e:
                name, detail = None, "identification failed: %s" % e
            self.found.append({"address": a, "profile": name, "detail": detail[:DETAIL_MAX]})
        self.next = a + 1
        if self.next > self.hi:
            self.running = False
        return self.running
