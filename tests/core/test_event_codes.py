"""Event codes (issue 13): every code the firmware logs is in gateway.core.event_codes.TEXTS,
has its words in the page's three languages ("ev.<code>" of firmware/www/lang-*.json) with the
same placeholders as the English format's params, and the event log keeps code and params and
gives the English text back. Runs on CPython and MicroPython (files found from the module)."""
import json
import os

from _assert import tempdir

from gateway.core import event_codes
from gateway.core.event_codes import TEXTS, text
from gateway.core.eventlog import MAX_PARAM, EventLog


def _firmware():
    f = event_codes.__file__
    for _ in range(3):  # .../firmware/gateway/core/event_codes.py -> .../firmware
        f = f[: f.rfind("/")] if "/" in f else "."
    return f or "."


FIRMWARE = _firmware()
LANGS = ("en", "fr", "nl")
# the calls that log an event: the code is the argument before the last one (the params)
CALLS = ("dev.event(", "ctx.event(", "self.event(", "self.events(", "self._log(", "self._emit(",
         "self._event(", "self._clear_error(", "_audit(ctx, ")


def _names(fmt, open_, close):
    """The placeholder names of ``fmt``: "%(x)s" with ("%(", ")"), "{x}" with ("{", "}")."""
    out = set()
    i = fmt.find(open_)
    while i >= 0:
        j = fmt.find(close, i + len(open_))
        out.add(fmt[i + len(open_) : j])
        i = fmt.find(open_, j)
    return out


def _args(src, i):
    """The top-level arguments of the call whose "(" is at src[i - 1], as stripped strings."""
    args, depth, quote, start = [], 0, None, i
    while True:
        c = src[i]
        if quote is not None:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(src[start:i].strip())
                return [a for a in args if a]
            depth -= 1
        elif c == "," and depth == 0:
            args.append(src[start:i].strip())
            start = i + 1
        i += 1


def _codes(expr):
    """The string literals of a code argument: a literal or ``"a" if cond else "b"``."""
    if " if " in expr and " else " in expr:
        head, rest = expr.split(" if ", 1)
        return _literals(head) + _codes(rest.split(" else ", 1)[1])
    return _literals(expr)


def _literals(expr):
    """The string literals of an expression (plain "..." or '...')."""
    out = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'":
            j = expr.find(c, i + 1)
            out.append(expr[i + 1 : j])
            i = j
        i += 1
    return out


def _is_name(s):
    if not s or not (s[0].isalpha() or s[0] == "_"):
        return False
    for c in s:
        if not (c.isalpha() or c.isdigit() or c == "_"):
            return False
    return True


def _sources(d):
    for n in os.listdir(d):
        p = d + "/" + n
        if n.endswith(".py"):
            yield p
        elif "." not in n and n != "__pycache__":
            try:
                os.listdir(p)
            except OSError:
                continue
            yield from _sources(p)


def _calls():
    """[(file, call text, code literals)] of every event call in firmware/gateway; the code
    literals are None when the code is a variable (a pass-through such as Device.event's)."""
    out = []
    for path in _sources(FIRMWARE + "/gateway"):
        with open(path) as f:
            src = f.read()
        for token in CALLS:
            i = src.find(token)
            while i >= 0:
                before = src[i - 1] if i else " "
                if not (before.isalpha() or before.isdigit() or before in "_."):
                    args = _args(src, i + len(token))
                    if token == "_audit(ctx, ":
                        args = ["ctx"] + args
                    head = src[i : i + 80].split("\n")[0]
                    last = args[-1] if args else ""
                    if len(args) < 2 or not (last.startswith("{") or _is_name(last)):
                        out.append((path, head, ["<no params: %s>" % head]))
                    elif _codes(args[-2]):
                        out.append((path, head, _codes(args[-2])))
                    else:
                        out.append((path, head, None))
                i = src.find(token, i + 1)
    return out


def test_every_code_the_firmware_logs_is_known():
    calls = _calls()
    coded = [c for c in calls if c[2] is not None]
    assert len(coded) > 60, len(coded)  # the scan finds the calls
    unknown = []
    for path, head, codes in coded:
        for code in codes:
            if code not in TEXTS:
                unknown.append("%s: %s (%s)" % (path, code, head))
    assert unknown == [], unknown
    used = set()
    for c in coded:
        used.update(c[2])
    # the pass-throughs (Device.event's, login's _audit, the controller's _clear_error) are
    # few: the rest name their code
    assert len([c for c in calls if c[2] is None]) <= 4, [c for c in calls if c[2] is None]
    assert sorted(k for k in TEXTS if k not in used) == []  # no code is left unused


def _sample(fmt):
    """Params for an English format: numbers for %d conversions, words for the rest."""
    p = {}
    for name in _names(fmt, "%(", ")"):
        j = fmt.find("%(" + name + ")") + len(name) + 3
        while fmt[j] in "+-0123456789 ":
            j += 1
        p[name] = 7 if fmt[j] == "d" else "x" + name
    return p


def test_every_english_format_fills_from_its_params():
    for code, fmt in TEXTS.items():
        p = _sample(fmt)
        assert text(code, p) == fmt % p, code
        assert code not in ("all", "none")  # page keys "ev.all", "ev.none" are no codes
    assert text("clock.page", {"by": "admin", "jump": 42}) == "clock set by admin from the page (+42 s)"
    assert text("out.on", {"name": "aux", "by": "admin"}) == "aux switched on by admin"
    assert text("boot", {"cause": "watchdog", "version": "0.1.0"}) == "boot (watchdog), firmware 0.1.0"


def test_an_unknown_code_or_wrong_params_do_not_raise():
    assert text("no.such.code", {"a": 1}).startswith("no.such.code")
    assert text("user.created", {}).startswith("user.created")  # params missing
    assert text("bus.set", {"baud": "fast", "parity": "N", "stop": 1, "by": "x"}).startswith("bus.set")
    assert isinstance(text("boot", None), str)


def _catalogue(lang):
    with open("%s/www/lang-%s.json" % (FIRMWARE, lang)) as f:
        return json.load(f)


def test_every_code_has_words_in_the_three_languages():
    for lang in LANGS:
        cat = _catalogue(lang)
        missing = [c for c in TEXTS if "ev." + c not in cat]
        assert missing == [], (lang, missing)
        for code, fmt in TEXTS.items():
            words = cat["ev." + code]
            assert words.strip(), (lang, code)
            assert _names(words, "{", "}") == _names(fmt, "%(", ")"), (lang, code, words)


def test_the_log_keeps_code_and_params_and_says_the_text():
    with tempdir("dgt_evc_") as d:
        log = EventLog(d)
        log.log("comm", "meter 3", "no answer", ts=100)  # a text of its own (older lines)
        log.log("state", "output aux", "out.on", ts=110, params={"name": "aux", "by": "admin"})
        log.log("alarm", "meter 4", "alarm.on", ts=120, params={"alarm": "A" * 200})
        with open(d + "/ev0.log") as f:
            lines = f.read().split("\n")
        stored = json.loads(lines[1].split("\t")[0])
        assert stored == [1, 110, "state", "output aux", "out.on", {"name": "aux", "by": "admin"}]
        ev = EventLog(d).query()  # read back after a restart
        assert ev[1] == {"seq": 1, "ts": 110, "type": "state", "source": "output aux",
                         "text": "aux switched on by admin", "code": "out.on",
                         "params": {"name": "aux", "by": "admin"}}
        assert ev[0]["params"]["alarm"] == "A" * MAX_PARAM  # a long param is cut
        assert ev[0]["text"] == "A" * MAX_PARAM + ": appeared"
        assert ev[2] == {"seq": 0, "ts": 100, "type": "comm", "source": "meter 3", "text": "no answer"}
