"""OpenMetrics 1.0 text lines (what Prometheus scrapes), built one line at a time.

Every function returns one line with its newline, so a response streams family by family and
never holds the whole exposition. Names are the caller's ([a-z_][a-z0-9_]*); label values are
escaped here (meter names are user input).
"""
CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
EOF = "# EOF\n"


def escape(value):
    """A label value as OpenMetrics writes it: backslash, double quote and newline escaped."""
    s = str(value)
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if '"' in s:
        s = s.replace('"', '\\"')
    if "\n" in s:
        s = s.replace("\n", "\\n")
    return s


def family(name, kind, help_text):
    """The ``# TYPE`` and ``# HELP`` lines of one metric family (kind: gauge, counter, info,
    stateset)."""
    return "# TYPE %s %s\n# HELP %s %s\n" % (name, kind, name, escape(help_text))


def number(value):
    """A sample value: bools as 1/0, floats as Python writes them, NaN and infinities spelled
    the OpenMetrics way."""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, int):
        return str(value)
    v = float(value)
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def sample(name, labels, value):
    """One sample line: ``name{k="v",...} value``; ``labels`` is a sequence of (key, value)."""
    if labels:
        parts = []
        for k, v in labels:
            parts.append('%s="%s"' % (k, escape(v)))
        return "%s{%s} %s\n" % (name, ",".join(parts), number(value))
    return "%s %s\n" % (name, number(value))
