"""History queries over the sample ring: raw samples or aggregated rows, CSV and JSON streaming.

    rows(ring, "3", t_from, t_to, step="1h", zone="Europe/Paris")
        -> generator of {"ts": bucket_start, "import_kwh": 1.234, "power_w": 512, ...}
    csv_lines(ring, "3", t_from, t_to, step="1d", sep=";", decimal=",", zone=...)
        -> generator of text lines (header first, "\\r\\n"-terminated)
    json_chunks(ring, "3", t_from, t_to, step=None) -> generator of text pieces of a JSON list
    export_filename("Résidence Les Pins", t_from, t_to, zone, step="1h") -> file name

Periods are half-open: t_from <= ts < t_to. Without a step the stored samples are returned,
counters named as the quantity (``import_kwh``: the meter's index). With a step, a counter's
row value is the consumption over the bucket and its name says so: ``import_kwh_delta``
(``out_name``), in JSON and CSV alike.
With a step (15m | 1h | 1d | 1mo, aligned to the local time of ``zone``), a row per bucket that
has data, ``ts`` = bucket start:
  - counters (import_kwh, export_kwh, other *_kwh/_wh/_m3...): the difference over the bucket,
    value at the first sample at/after the bucket end minus the value at the first sample
    at/after its start (telescoping: the sum over buckets equals the total). Across a gap
    (no sample in the following buckets) the difference goes to the last bucket with data;
    the newest bucket uses its last sample.
  - other quantities (power, voltage, ...): the mean of the samples in the bucket.
Everything is computed on fixed-point integers and rendered exactly (records.text).
"""

from gateway.core import check
from gateway.core import records as R
from gateway.core import tz as _tz
from gateway.core.errors import ValidationError

STEPS = ("15m", "1h", "1d", "1mo")
_STEP_S = {"15m": 900, "1h": 3600}


def check_step(step):
    """None/"" -> None; a known step -> itself; else ValidationError("step")."""
    if step is None or step == "" or step == "raw":
        return None
    return check.choice("step", step, STEPS)


def check_range(t_from, t_to, max_span=None):
    """Validate a period (ints, from < to); returns (from, to) as ints."""
    try:
        a = int(t_from)
    except (TypeError, ValueError):
        raise ValidationError("from", "from must be an epoch time in seconds", "integer")
    try:
        b = int(t_to)
    except (TypeError, ValueError):
        raise ValidationError("to", "to must be an epoch time in seconds", "integer")
    if b <= a:
        raise ValidationError("to", "to must be after from", "after", {"other": "from"})
    if max_span is not None and b - a > max_span:
        raise ValidationError("to", "period too long", "too_long")
    return a, b


def _bucketing(step, zone):
    if step in _STEP_S:
        n = _STEP_S[step]

        def start(t):
            return t - (t + zone.offset(t)) % n

        def nxt(b):
            return b + n

    elif step == "1d":
        start = zone.start_of_day
        nxt = zone.next_day
    else:
        start = zone.start_of_month
        nxt = zone.next_month
    return start, nxt


def fixed_rows(ring, meter, t_from, t_to, step=None, zone=None, quantities=None):
    """Generator of (ts, {quantity: fixed int}) rows (see module doc)."""
    step = check_step(step)
    meter = str(meter)
    if step is None:
        for ts, _m, vals in ring.samples(t_from, t_to, meter):
            if quantities is not None:
                v2 = {}
                for q in vals:
                    if q in quantities:
                        v2[q] = vals[q]
                vals = v2
            if vals:
                yield ts, vals
        return
    zone = _tz.get(zone)
    bstart, bnext = _bucketing(step, zone)
    b_first = bstart(t_from)
    b_end = bnext(bstart(t_to - 1))  # end of the last bucket of the period
    cur = None  # current bucket start
    cur_end = None
    # quantity -> [first value | sum, last value | count, bucket number, is counter]: updated
    # in place, so aggregating allocates nothing per sample; entries of other buckets are stale
    acc = {}
    nb = 0

    def row(closing):
        out = {}
        for q in acc:
            a = acc[q]
            if a[2] != nb:
                continue
            if a[3]:
                c = closing.get(q) if closing is not None else None
                out[q] = (a[1] if c is None else c) - a[0]
            else:
                out[q] = (2 * a[0] + a[1]) // (2 * a[1])  # rounded mean
        return out

    for ts, _m, vals in ring.samples(b_first, None, meter):
        if cur is not None:
            if ts < cur:
                continue  # out of order (clock went back): ignored
            if ts < cur_end:
                b = cur  # same bucket: no time zone arithmetic
            else:
                b = bstart(ts)
                if b != cur:
                    if cur >= t_from or cur == b_first:
                        r = row(vals)
                        if r:
                            yield cur, r
                    cur = None
        else:
            b = bstart(ts)
        if b >= b_end or ts >= b_end:
            return
        if cur is None:
            cur = b
            cur_end = bnext(b)
            nb += 1
        for q in vals:
            if quantities is not None and q not in quantities:
                continue
            v = vals[q]
            a = acc.get(q)
            if a is None:
                a = acc[q] = [0, 0, 0, R.is_counter(q)]
            if a[2] != nb:
                a[0] = v
                a[1] = v if a[3] else 1
                a[2] = nb
            elif a[3]:
                a[1] = v
            else:
                a[0] += v
                a[1] += 1
    if cur is not None:
        r = row(None)
        if r:
            yield cur, r


def out_name(q, step):
    """The name of quantity q in rows of ``step``: counters aggregated over a bucket are a
    consumption, "<q>_delta"; samples (no step) and other quantities keep q."""
    return q + "_delta" if step and R.is_counter(q) else q


def rows(ring, meter, t_from, t_to, step=None, zone=None, quantities=None):
    """Generator of row dicts {"ts": epoch_s, "<quantity>": number} (names: ``out_name``)."""
    for ts, vals in fixed_rows(ring, meter, t_from, t_to, step, zone, quantities):
        d = {"ts": ts}
        for q in vals:
            d[out_name(q, step)] = R.number(q, vals[q])
        yield d


def quantities_in(ring, meter, t_from, t_to):
    """Sorted quantity names present in the meter's samples of the period (one scan)."""
    seen = {}
    for _ts, _m, vals in ring.samples(t_from, t_to, str(meter)):
        for q in vals:
            seen[q] = 1
    return sorted(seen)


def csv_cell(s, sep):
    """A CSV cell, quoted when it holds the separator or a quote (also gateway.core.statement)."""
    if sep in s or '"' in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def csv_lines(
    ring, meter, t_from, t_to, step=None, zone=None, sep=";", decimal=",", quantities=None
):
    """CSV text lines: header ("ts", "time" = local wall time, then quantities), then a line per
    row; ``sep`` ";" or ",", ``decimal`` "," or "." (French Excel: ";" and ",")."""
    if sep not in (";", ","):
        raise ValidationError("csv_separator", 'csv_separator must be ";" or ","', "choice",
                              {"choices": "; ,"})
    if decimal not in (",", "."):
        raise ValidationError("csv_decimal", 'csv_decimal must be "," or "."', "choice",
                              {"choices": ", ."})
    step = check_step(step)
    z = _tz.get(zone)
    if quantities is None:
        quantities = quantities_in(ring, meter, t_from, t_to)
    else:
        quantities = list(quantities)
    yield sep.join(["ts", "time"] + [csv_cell(out_name(q, step), sep) for q in quantities]) + "\r\n"
    cells = [""] * (len(quantities) + 2)  # reused for every line
    for ts, vals in fixed_rows(ring, meter, t_from, t_to, step, z, quantities):
        cells[0] = str(ts)
        cells[1] = z.format(ts)
        k = 2
        for q in quantities:
            v = vals.get(q)
            cells[k] = "" if v is None else csv_cell(R.text(q, v, decimal), sep)
            k += 1
        yield sep.join(cells) + "\r\n"


def row_json(ts, vals, sep="", order=None, step=None):
    """One row as JSON text with exact numbers, keys sorted after "ts" (``sep`` in front),
    named as ``out_name(q, step)``.
    ``order``: a list the caller keeps between rows: while the rows have the same keys, their
    sorting and the row's format are reused, and a row costs its numbers' text only."""
    if order is None:
        order = []
    n = len(vals)
    if len(order) != n + 2 or not _same(order, vals):
        keys = sorted(vals)
        fmt = ['%s{"ts":%d']
        for q in keys:
            fmt.append(",%s:%%s" % R._jstr(out_name(q, step)).replace("%", "%%"))
        fmt.append("}")
        order[:] = ["".join(fmt), [None] * (n + 2)] + keys
    args = order[1]
    args[0] = sep
    args[1] = ts
    for k in range(2, n + 2):
        q = order[k]
        args[k] = R.text(q, vals[q])
    return order[0] % tuple(args)


def _same(order, vals):
    for k in range(2, len(order)):
        if order[k] not in vals:
            return False
    return True


def json_chunks(ring, meter, t_from, t_to, step=None, zone=None, quantities=None):
    """Text pieces that concatenate into the JSON list of rows (streamed, one row each)."""
    yield "["
    sep = ""
    order = []
    for ts, vals in fixed_rows(ring, meter, t_from, t_to, step, zone, quantities):
        yield row_json(ts, vals, sep, order, step)
        sep = ",\n"
    yield "]\n"


# transliteration for file names: _ACC[k] -> _ASC[k]; ß œ æ Œ -> two letters
_ACC = "àâäáãåçéèêëîïíìôöóòõùûüúÿñÀÂÄÇÉÈÊËÎÏÔÖÙÛÜßœæŒ"
_ASC = "aaaaaaceeeeiiiiooooouuuuynAAACEEEEIIOOUUU"
_TWO = "ssoeaeOE"


def sanitize_location(location, maxlen=31):
    """Site location -> file-name-safe text: ASCII letters, digits, "-" and "_" (accents
    transliterated, anything else becomes "_"), at most ``maxlen`` characters."""
    out = []
    for c in str(location or ""):
        k = _ACC.find(c)
        if k >= len(_ASC):
            k -= len(_ASC)
            c = _TWO[2 * k : 2 * k + 2]
        elif k >= 0:
            c = _ASC[k]
        for ch in c:
            o = ord(ch)
            ok = 48 <= o <= 57 or 65 <= o <= 90 or 97 <= o <= 122 or ch in "-_"
            ch = ch if ok else "_"
            if ch == "_" and out and out[-1] == "_":
                continue
            out.append(ch)
    s = "".join(out).strip("_")
    return s[:maxlen].rstrip("_")


def export_filename(location, t_from, t_to, zone=None, step=None, meter=None, ext="csv"):
    """ "<location>[_<meter>]_<YYYYMMDD>-<YYYYMMDD>[_<step>].<ext>": local dates of the first
    and last day of the half-open period; location sanitized (max 31 chars, "dingate" if empty)."""
    z = _tz.get(zone)
    loc = sanitize_location(location) or "dingate"
    a = z.date(t_from)
    b = z.date(max(t_from, t_to - 1))
    name = loc
    if meter is not None and str(meter) != "":
        name += "_" + sanitize_location(meter, 16)
    name += "_%04d%02d%02d-%04d%02d%02d" % (a[0], a[1], a[2], b[0], b[1], b[2])
    if step:
        name += "_" + check_step(step)
    return name + "." + ext
