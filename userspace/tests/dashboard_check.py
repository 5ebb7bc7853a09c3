#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Check that every metric a Grafana dashboard's PromQL names is exported.

    dashboard_check.py DASHBOARD.json SCRAPE.txt

SCRAPE.txt is a real scrape of qkd-agent's /metrics (dashboard.sh takes one
from a dry-run agent).  A name counts as exported when the scrape declares
it (# TYPE) or has a sample of it; a summary NAME also exports NAME_sum and
NAME_count, a histogram NAME_bucket too.  Exit 1 and one line per unknown
name (with the panel that names it) if any is missing; also fails on a
dashboard that is not valid JSON, has no Prometheus datasource variable, or
names no metric at all.  TAP output.  Standard library only (Debian's own
interpreter: the python3 on PATH may be a pyenv build).
"""
import json
import re
import sys

# PromQL words that look like identifiers but name no metric.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "and", "or", "unless", "inf", "nan", "atan2"}
IDENT = r"[a-zA-Z_:][a-zA-Z0-9_:]*"


def exprs(dash):
    """(where, expr) of every PromQL text in the dashboard: panel targets
    (nested rows too) and query variables."""
    def walk(panels, out):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f'panel "{p.get("title", "?")}" {t.get("refId", "")}', t["expr"]))
            walk(p.get("panels", []), out)
        return out
    out = walk(dash.get("panels", []), [])
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if v.get("type") == "query":
            q = q.get("query", "") if isinstance(q, dict) else q
            out.append((f'variable "{v.get("name")}"', q or ""))
    return out


def metric_names(expr):
    """Metric names an expression selects."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)   # string literals
    e = re.sub(r"\$\{[^}]*\}|\$" + IDENT, " ", e)                       # Grafana variables
    # label_values(METRIC, label) / label_values(label): only METRIC is one
    e = re.sub(r"label_values\(\s*(" + IDENT + r")\s*,\s*" + IDENT + r"\s*\)", r" \1 ", e)
    e = re.sub(r"label_values\(\s*" + IDENT + r"\s*\)", " ", e)
    e = re.sub(r"\{[^}]*\}", " ", e)                                   # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                                  # ranges, subqueries
    # label lists of grouping modifiers
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w:.])(" + IDENT + r")(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS:
            continue            # a function or aggregation, or a keyword
        names.add(word)
    return names


def exported(scrape):
    names = set()
    for line in scrape.splitlines():
        m = re.match(r"# TYPE (" + IDENT + r") (\w+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) in ("summary", "histogram"):
                names.update(m.group(1) + s for s in ("_sum", "_count"))
            if m.group(2) == "histogram":
                names.add(m.group(1) + "_bucket")
        elif line and not line.startswith("#"):
            names.add(re.match(IDENT, line).group(0))
    return names


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n = 0
    bad = 0

    def tap(ok, what):
        nonlocal n, bad
        n += 1
        bad += not ok
        print(f"{'' if ok else 'not '}ok {n} - {what}")

    try:
        with open(sys.argv[1]) as f:
            dash = json.load(f)
        tap(True, f"{sys.argv[1]} is valid JSON")
    except (OSError, ValueError) as e:
        tap(False, f"{sys.argv[1]}: {e}")
        print(f"1..{n}")
        return 1
    with open(sys.argv[2]) as f:
        have = exported(f.read())
    var = [v for v in dash.get("templating", {}).get("list", [])
           if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    tap(bool(var), "a Prometheus datasource variable")
    used = {}
    for where, e in exprs(dash):
        for name in metric_names(e):
            used.setdefault(name, []).append(where)
    tap(len(used) > 0, f"{len(used)} metric names in the dashboard's PromQL")
    missing = sorted(set(used) - have)
    for name in missing:
        print(f"# {name}: named by {', '.join(used[name])}, not exported")
    tap(not missing, f"every metric the dashboard names is exported ({len(used) - len(missing)}/{len(used)}"
        f"{': missing ' + ' '.join(missing) if missing else ''})")
    print(f"1..{n}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
