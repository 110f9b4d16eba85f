"""The page's string catalogues (firmware/www/lang-<code>.json): every language has every key,
no empty text, the same {placeholders}; every key the code names literally exists; and the page
(index.html, app.js, app.css and the largest catalogue: what a phone downloads) stays within its
gzipped budget, as the build ships it (dingate.build.www_gzip)."""
import ast
import gzip
import json
import os
import re

import pytest

from dingate import boards
from dingate.build import render, www_gzip
from gateway.core import quantities

WWW = os.path.join(os.path.dirname(__file__), "..", "..", "firmware", "www")
LANGS = sorted(f[5:-5] for f in os.listdir(WWW) if f.startswith("lang-") and f.endswith(".json"))
PAGE_BUDGET = 44 * 1024  # docs/decisions/0011 (40 KB until the words of every error, 42 KB until the tenth session, 43 KB until the eleventh)


def _cat(lang):
    with open(os.path.join(WWW, "lang-%s.json" % lang), encoding="utf-8") as f:
        return json.load(f)


def _app():
    with open(os.path.join(WWW, "app.js"), encoding="utf-8") as f:
        return f.read()


def test_english_french_and_dutch_are_there():
    assert {"en", "fr", "nl"} <= set(LANGS)
    assert re.search(r"const LANGS = \{[^}]*\}", _app()).group(0).count(":") == len(LANGS)


@pytest.mark.parametrize("lang", [x for x in LANGS if x != "en"])
def test_catalogue_is_complete(lang):
    en, cat = _cat("en"), _cat(lang)
    assert sorted(set(en) - set(cat)) == [], "missing in %s" % lang
    assert sorted(set(cat) - set(en)) == [], "only in %s" % lang
    for k, v in cat.items():
        assert isinstance(v, str) and v.strip(), (lang, k)
        assert set(re.findall(r"\{(\w+)\}", v)) == set(re.findall(r"\{(\w+)\}", en[k])), (lang, k, v)


def test_every_literal_key_of_the_code_is_in_the_catalogue():
    en = _cat("en")
    used = set(re.findall(r"\bt\('([\w.]+)'[,)]", _app()))
    assert len(used) > 200
    assert sorted(k for k in used if k not in en) == []


def test_the_page_has_the_firmware_catalogue_of_quantities_and_words_for_each():
    """The build ships the firmware's quantities catalogue to the page (www/quantities.json:
    names in catalogue order, units) and every language names every catalogued quantity
    (q.<name>, or q.<name less _l1/_l2/_l3> with the phase appended by the page)."""
    files = render(boards.load("emulator"))
    shipped = json.loads(gzip.decompress(files["/www/quantities.json.gz"]))
    assert shipped == [[q, quantities.unit(q)] for q in quantities.names()]
    assert ["power_l1", "W"] in shipped and ["reactive_var", "var"] in shipped
    for lang in LANGS:
        cat = _cat(lang)
        missing = [q for q in quantities.names()
                   if "q." + q not in cat and "q." + re.sub(r"_l[123]$", "", q) not in cat]
        assert missing == [], lang


def _raised_codes():
    """The codes the firmware gives ``ValidationError`` as a literal (its third argument)."""
    root = os.path.join(WWW, "..", "gateway")
    for d, _dirs, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
                for n in ast.walk(tree):
                    if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "ValidationError" \
                            and len(n.args) >= 3 and isinstance(n.args[2], ast.Constant):
                        yield n.args[2].value


def test_every_code_the_firmware_raises_has_words():
    codes = set(_raised_codes())
    assert {"range", "used_by", "last_admin", "ipv4"} <= codes
    en = _cat("en")
    assert sorted(c for c in codes if "err." + c not in en) == []


def test_every_refusal_carries_a_code():
    """Each ValidationError the firmware raises has a code (a literal, or one passed on from the
    error it wraps): the page and API clients never get a refusal they can only show in English."""
    root = os.path.join(WWW, "..", "gateway")
    bare = []
    for d, _dirs, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(d, f)
                with open(path, encoding="utf-8") as fh:
                    tree = ast.parse(fh.read())
                for n in ast.walk(tree):
                    if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "ValidationError" \
                            and len(n.args) < 3 and not any(k.arg == "code" for k in n.keywords):
                        bare.append("%s:%d" % (os.path.relpath(path, root), n.lineno))
    assert bare == []


def test_error_codes_of_the_api_description_have_words():
    """The codes docs/openapi.yaml lists for error bodies are translated (err.<code>)."""
    with open(os.path.join(WWW, "..", "..", "docs", "openapi.yaml"), encoding="utf-8") as f:
        spec = f.read()
    listed = re.search(r"range, min, max, [^.]*", spec).group(0)
    codes = [c.strip() for c in listed.split(",") if c.strip() not in ("", "...")]
    en = _cat("en")
    assert [c for c in codes if "err." + c not in en and "e." + c not in en] == []


def _gz(name):
    return len(www_gzip(os.path.join(WWW, name)))  # as the build ships it


def test_page_weight_within_budget():
    langs = max(_gz("lang-%s.json" % x) for x in LANGS)
    total = _gz("index.html") + _gz("app.js") + _gz("app.css") + langs
    print("page: %d bytes gzipped (budget %d)" % (total, PAGE_BUDGET))
    assert total <= PAGE_BUDGET
