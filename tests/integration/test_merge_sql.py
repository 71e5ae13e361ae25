"""SQL statements across processes (merge.c's merge_sql): the workload sql_app (exact
statement counts) run twice on two databases, each run its own trace. Merged, statements
are keyed by text and database file as in one trace: every statement's executions, rows and
prepares equal the two runs' ground truth, its time is the sum of the runs' (to the
nanosecond, clock conversion aside), its percentiles lie between the runs' own; the html
page draws the SQL-time flame graph with the statement as the innermost frame, named as
--format folded --weight sqltime names it; a budget names one statement."""
import json
import os
import re
import subprocess

import lib

d = lib.tmpdir()
runs = []
for name in ("one", "two"):
    db = os.path.join(d, name + ".db")
    trace = os.path.join(d, name + ".zst")
    out, _, _ = lib.run_traced([lib.workload("sql_app"), db], trace)
    runs.append((trace, db, lib.truth_lines(out)[0], lib.analyze(trace)))
p = subprocess.run([lib.ANALYZE, runs[0][0], runs[1][0], "--format", "json"], capture_output=True,
                   text=True, timeout=300)
lib.expect_eq(p.returncode, 0, "merged analyze (%s)" % p.stderr)
m = json.loads(p.stdout)
lib.check_schema(m)

by = {(s["statement"], s["database"]): s for s in m["sql"]}
for trace, db, truth, rep in runs:
    own = {s["statement"]: s for s in rep["sql"]}
    for stmt, t in truth["sql"].items():
        e = by.get((stmt, db))
        lib.expect(e is not None, "merged has %s on %s" % (stmt, os.path.basename(db)))
        if not e:
            continue
        for k in ("executions", "rows", "prepares"):
            lib.expect_eq(e[k], t[k], "%s %s" % (stmt[:40], k))
        for k in ("total_ns", "p50_ns", "p95_ns", "p99_ns", "max_ns", "lock_wait_ns"):
            lib.expect(abs(e[k] - own[stmt][k]) <= 2, "%s %s as in its own run" % (stmt[:40], k))
lib.expect_eq(m["sql_summary"]["executions"],
              sum(r[3]["sql_summary"]["executions"] for r in runs), "sql_summary.executions")
lib.expect(abs(m["sql_summary"]["total_ns"] - sum(r[3]["sql_summary"]["total_ns"] for r in runs)) <= 4,
           "sql_summary.total_ns adds up")
lib.expect_eq(sorted(x["path"] for x in m["sql_summary"]["databases"]),
              sorted(r[1] for r in runs), "both databases listed")
kinds = sorted(f["kind"] for f in m["sql_findings"])
own_kinds = sorted(f["kind"] for r in runs for f in r[3]["sql_findings"])
lib.expect_eq(kinds, own_kinds, "the findings of both runs")
slow = [x["ns"] for x in m["sql_slowest"]]
lib.expect(slow == sorted(slow, reverse=True) and len(slow) <= 10, "slowest executions ordered")
lib.expect(slow and slow[0] >= max(r[3]["sql_slowest"][0]["ns"] for r in runs) - 2,
           "the slowest execution of both runs is first")

# the same workload on ONE database file in both runs: statements merge across processes
db = os.path.join(d, "shared.db")
shared = []
for name in ("s1", "s2"):
    trace = os.path.join(d, name + ".zst")
    if os.path.exists(db):
        os.unlink(db)  # sql_app creates its schema
    out, _, _ = lib.run_traced([lib.workload("sql_app"), db], trace)
    shared.append((trace, lib.truth_lines(out)[0], lib.analyze(trace)))
p = subprocess.run([lib.ANALYZE, shared[0][0], shared[1][0], "--format", "json"],
                   capture_output=True, text=True, timeout=300)
ms = json.loads(p.stdout)
for e in ms["sql"]:
    parts = [next(s for s in r[2]["sql"] if s["statement"] == e["statement"]) for r in shared]
    lib.expect_eq(e["executions"], sum(x["executions"] for x in parts), "%s executions" % e["statement"][:40])
    lib.expect(abs(e["total_ns"] - sum(x["total_ns"] for x in parts)) <= 4, "%s total" % e["statement"][:40])
    lib.expect(abs(e["max_ns"] - max(x["max_ns"] for x in parts)) <= 2, "%s max" % e["statement"][:40])
    for k in ("p50_ns", "p95_ns", "p99_ns"):
        lo, hi = min(x[k] for x in parts), max(x[k] for x in parts)
        lib.expect(lo * 0.99 - 2 <= e[k] <= hi * 1.01 + 2, "%s %s between the runs'" % (e["statement"][:40], k))

# html: the SQL-time flame graph, frames named as --format folded names them
html = os.path.join(d, "sql.html")
subprocess.run([lib.ANALYZE, shared[0][0], shared[1][0], "--format", "html", "-o", html],
               check=True, timeout=300)
text = open(html, encoding="utf-8").read()
g = re.search(r'<svg class="flame"[^>]*data-section="sql" data-field="total_ns" data-total="([^"]*)"', text)
lib.expect(g is not None and float(g.group(1)) == sum(e["total_ns"] for e in ms["sql"]),
           "html: SQL-time flame graph total")
p = subprocess.run([lib.ANALYZE, shared[0][0], shared[1][0], "--format", "folded", "--weight", "sqltime"],
                   capture_output=True, text=True, timeout=300)
leaves = {ln.rsplit(" ", 1)[0].split(";")[-1] for ln in p.stdout.splitlines() if ln}
import html as htmllib  # noqa: E402
svg_leaves = {htmllib.unescape(x) for x in re.findall(r'data-l="(SQL: [^"]*)"', text)}
# (statements too narrow to draw are left out of the graph: a subset, and the costliest in)
lib.expect(svg_leaves and svg_leaves <= leaves, "html SQL frames named as folded's: %s" % (svg_leaves - leaves))
top = max(ms["sql"], key=lambda e: e["total_ns"])["statement"]
lib.expect(("SQL: " + top).replace(";", "_") in svg_leaves, "the costliest statement is drawn")

# a budget on one statement of the merged report
budget = os.path.join(d, "budget.json")
with open(budget, "w") as f:
    json.dump({"sql[FROM orders WHERE note].executions": 1}, f)
p = subprocess.run([lib.ANALYZE, "check", shared[0][0], shared[1][0], "--budget", budget],
                   capture_output=True, text=True, timeout=300)
lib.expect_eq(p.returncode, 1, "check: exit 1")
scan = [e for e in ms["sql"] if "FROM orders WHERE note" in e["statement"]]
lib.expect(len(p.stdout.splitlines()) == len(scan) and scan and
           ("actual=%d " % scan[0]["executions"]) in p.stdout, "check line: %r" % p.stdout)
lib.done()
