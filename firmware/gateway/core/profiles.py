"""The device library: profiles as data files, loaded on demand.

One JSON file per profile, ``profiles/<name>.json`` beside the ``gateway`` package (firmware/
profiles in the tree, /lib/profiles on the board, in ROMFS where the board has one). A file is
parsed for the call only (the poller keeps each profile's rows in its one shared read plan);
of a profile in use only a few keys stay (``_summary``: max registers, device settings, fault
registers), so twenty profiles in use cost their plans and nothing else. A profile file::

    {"title": "Eastron SDM120", "kind": "meter" | "inverter",
     "source": "the document the map comes from",
     "function": 4, "type": "f32", "word_order": "big",  # defaults of the rows
     "max_registers": 40,                                # per request (device limit)
     "signature": {...},                                 # optional, see identify()
     "registers": [["voltage_l1", 0], ["power_w", 12, {"type": "s32", "scale": 0.1}], ...],
     "faults": [{"function": 4, "register": 40, "type": "u16", "kind": "code"|"bits",
                 "table": "growatt_f", "first": 0}]}    # optional, see alarms.py

A profile file ``{"alias": "sdm630", "title": ..., "source": ..., "signature": ...}`` is another
name of the profile ``alias`` (a device sold under its own name that has the same register map):
it reads exactly as that profile, its own keys (title, source, signature) over the target's.

A row is ``[quantity, register]`` or ``[quantity, register, {overrides}]`` with overrides among
``function``, ``type``, ``word_order``, ``scale`` and ``sf``: the quantity of a scale-factor row
(a hidden row whose quantity starts with ``_``): the value is multiplied by 10**sf after the
read (``registers.finish``); ``neg``: the quantity of a hidden direction row, the value is
negated when it is non-zero (Solis: battery power 33149 with its direction at 33135).
``generic``: the meter's own ``"registers"`` (docs/openapi.yaml);
``sunspec``: the model layout found by discovery (``core/sunspec.py``).

For the bus scan: ``signatures()`` lists ``(name, signature)``; ``await identify(read)`` returns
``(name, detail)`` of the first profile whose signature matches, else None. A signature is
``{"function": 3, "register": r, "type": "u16", "values": [...], "label": "..."}`` (an id register
holding one of ``values``; detail "<label> <value>") or ``{"function": 3, "register": r, "count":
n, "text": "SUN2000"}`` (a text register starting with ``text``); its ``"source"`` cites where
the register fact comes from.
"""
import json

try:
    import os
except ImportError:  # pragma: no cover
    import uos as os

BUILTIN = ("generic", "sunspec")
ROW_KEYS = ("function", "type", "word_order", "scale", "sf", "neg")


def _dir():
    f = __file__
    for _ in range(3):  # .../gateway/core/profiles.py -> ...
        f = f[: f.rfind("/")] if "/" in f else "."
    return (f or "/") + "/profiles"


DIR = _dir()
_cache = {}  # name -> the SUMMARY keys of a profile in use
_names = None


def names():
    """Known profile names, sorted."""
    global _names
    if _names is None:
        found = list(BUILTIN)
        try:
            for n in os.listdir(DIR):
                if n.endswith(".json") and n[:-5] not in found:
                    found.append(n[:-5])
        except OSError:
            pass
        _names = sorted(found)
    return _names


def exists(name):
    return name in names()


def _file(name):
    with open("%s/%s.json" % (DIR, name)) as f:
        return json.load(f)


def _read(name):
    if name not in names() or name in BUILTIN:
        raise ValueError("unknown profile %r" % (name,))
    p = _file(name)
    target = p.get("alias")
    if target is not None:  # another name of a profile: its map, the alias's own keys over it
        if target == name or target not in names() or target in BUILTIN:
            raise ValueError("profile %r: bad alias %r" % (name, target))
        base = _file(target)
        if "alias" in base:
            raise ValueError("profile %r: alias of an alias %r" % (name, target))
        for k in p:
            base[k] = p[k]
        p = base
    return p


SUMMARY = ("max_registers", "timeout_ms", "retries", "turnaround_ms", "faults")


def load(name, keep=True):
    """The parsed profile ``name`` (read from its file for the call: never kept whole)."""
    if name == "generic":
        return {"title": "Generic Modbus device", "kind": "meter", "max_registers": 125,
                "registers": None}
    if name == "sunspec":
        return {"title": "SunSpec device (discovered models)", "kind": "inverter",
                "max_registers": 125, "registers": None,
                "source": "SunSpec Information Model Specification; models 1, 101-103, 111-113, "
                          "124, 201-204, 211-214, 802"}
    p = _read(name)
    if keep:
        _summary(name, p)
    return p


def _summary(name, p=None):
    """The few keys the poller asks for at every configuration (``SUMMARY``) of a profile in
    use, kept (its rows live on in the poller's shared plan, the rest of the file is not
    kept: 20 profiles in use must not take the heap)."""
    sm = _cache.get(name)
    if sm is None:
        if p is None:
            p = load(name, False) if name in BUILTIN else _read(name)
        sm = {}
        for k in SUMMARY:
            if k in p:
                sm[k] = p[k]
        _cache[name] = sm
    return sm


def forget(keep=()):
    """Drop the summaries of the profiles not in ``keep`` (names in use)."""
    for n in list(_cache):
        if n not in keep:
            del _cache[n]


def _spec(p, row):
    """A row as a register spec; keys at their default (word order "big", scale 1) and the
    unit (the quantity catalogue's) are left out: a spec lives in the poller's plan."""
    s = {"quantity": row[0], "function": p.get("function", 3), "register": row[1],
         "type": p.get("type", "u16")}
    for k in ("word_order", "scale"):
        if k in p:
            s[k] = p[k]
    if len(row) > 2:
        for k in ROW_KEYS:
            if k in row[2]:
                s[k] = row[2][k]
    if s.get("word_order") == "big":
        del s["word_order"]
    if s.get("scale") == 1:
        del s["scale"]
    return s


def specs_of(p, faults=None):
    """Register specs (dicts as in ``registers.py``) of a parsed profile's rows, then its fault
    registers (``faults``: a meter's own list instead) as hidden rows ``_fault<i>`` (alarms.py)."""
    out = [_spec(p, row) for row in p["registers"] or ()]
    for i, f in enumerate(faults or p.get("faults") or ()):
        s = _spec({"function": p.get("function", 3)}, ["_fault%d" % i, f["register"], f])
        s["fault"] = f
        out.append(s)
    return out


def registers(meter, keep=True):
    """Register specs to read for ``meter`` (a meter config dict)."""
    name = meter.get("profile")
    own = meter.get("faults")  # the meter's own fault registers (alarms.check_faults)
    if name == "generic":
        regs = meter.get("registers") or []
        return regs + specs_of({"registers": None}, own) if own else regs
    if name == "sunspec":
        from gateway.core import sunspec

        specs = sunspec.specs(meter.get("sunspec") or ())
        return specs + specs_of({"registers": None}, own) if own else specs
    if not isinstance(name, str) or not exists(name):
        raise ValueError("unknown profile %r" % (name,))
    return specs_of(load(name, keep), own)


def max_count(meter):
    """Largest number of registers one request to this meter's profile may ask for."""
    return _summary(meter["profile"]).get("max_registers", 125)


def setting(meter, key):
    """The profile's default of a device setting (``max_registers``, ``timeout_ms``,
    ``retries``, ``turnaround_ms``) or None."""
    if meter.get("profile") not in names():
        return None
    return _summary(meter["profile"]).get(key)


def faults(meter):
    """The fault registers of ``meter`` (its own list, else its profile's; see alarms.py)."""
    if meter.get("faults"):
        return meter["faults"]
    name = meter.get("profile")
    if name in BUILTIN or name not in names():
        return []
    return _summary(name).get("faults") or []


def info(name):
    """What GET /api/profiles lists for ``name``."""
    p = load(name, False)
    out = {"name": name, "title": p.get("title", name), "kind": p.get("kind", "meter")}
    if p.get("source"):
        out["source"] = p["source"]
    if p.get("alias"):
        out["alias"] = p["alias"]  # read exactly as that profile
    if p.get("registers"):
        out["quantities"] = [r[0] for r in p["registers"] if r[0][:1] != "_"]
    if p.get("faults"):
        out["faults"] = True
    return out


def catalogue():
    """[{"name", "title", "kind", "source", "quantities"}] of every profile (GET /api/profiles)."""
    return [info(n) for n in names()]


def signatures():
    """[(name, signature dict)] of the profiles that have one."""
    out = []
    for n in names():
        if n not in BUILTIN:
            sig = load(n, False).get("signature")
            if sig:
                out.append((n, sig))
    return out


def _text(words):
    b = bytearray()
    for w in words:
        b.append(w >> 8)
        b.append(w & 0xFF)
    return bytes(b).split(b"\0")[0].decode("utf-8", "replace").strip()


def match(sig, words):
    """Detail text if ``words`` (read at the signature's register) match ``sig``, else None."""
    if not words:
        return None
    if "text" in sig:
        t = _text(words)
        return t if t.startswith(sig["text"]) else None
    from gateway.core import registers

    try:
        v = registers.decode(words, sig.get("type", "u16"), sig.get("word_order", "big"))
    except ValueError:
        return None
    if v in sig["values"]:
        return "%s %s" % (sig.get("label", "id"), v)
    return None


def _count(sig):
    if "count" in sig:
        return sig["count"]
    from gateway.core import registers

    return registers.words(sig.get("type", "u16"))


async def identify(read):
    """``(name, detail)`` of the profile whose signature the device matches, else None.

    ``read(function, register, count)`` -> list of words, or None if refused/unanswered; a
    register several signatures share (the Eastron product code) is read once."""
    seen = {}
    for name, sig in signatures():
        key = (sig.get("function", 3), sig["register"], _count(sig))
        if key not in seen:
            seen[key] = await read(key[0], key[1], key[2])
        detail = match(sig, seen[key])
        if detail is not None:
            return name, detail
    return None
