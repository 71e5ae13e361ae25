"""The SQL section in the export formats, on the SQL workload (sql_app.c): folded
`--weight sqltime` (statement as the innermost frame, weights = time inside SQLite), the
csv `sql` table, the prometheus per-statement summary (checked by promtool), the sqlite
export's `sql`, `sql_findings` and `sql_slowest` tables (queried with the sqlite3 shell),
and the chrome trace's slices of the slowest executions: each agrees with the JSON report."""
import csv
import io
import json
import os
import subprocess

import fmtlib
import lib

d = lib.tmpdir()
trace = os.path.join(d, "app.zst")
out, _, _ = lib.run_traced([lib.workload("sql_app"), os.path.join(d, "app.db")], trace)
rep = lib.analyze(trace)
sql = rep["sql"]
by = {s["statement"]: s for s in sql}

# folded: one line per statement with time, ending in "SQL: <statement>"
folded = fmtlib.analyze_raw(trace, "--format", "folded", "--weight", "sqltime").stdout.decode()
got = {}
for line in folded.splitlines():
    stack, w = line.rsplit(" ", 1)
    leaf = stack.split(";")[-1]
    lib.expect(leaf.startswith("SQL: "), "innermost frame names the statement: %r" % leaf)
    got[leaf[5:]] = got.get(leaf[5:], 0) + int(w)
want = {s["statement"]: s["total_ns"] for s in sql if s["total_ns"]}
lib.expect_eq(got, want, "folded sqltime weights = JSON total_ns")
unindexed = "SELECT id, amount FROM orders WHERE note = ?"
line = next((l for l in folded.splitlines() if l.rsplit(" ", 1)[0].endswith(";SQL: " + unindexed)),
            "")
lib.expect("unindexed_scan" in line.split(";"), "the statement sits under its caller: %r" % line)

# csv
text = fmtlib.analyze_raw(trace, "--format", "csv").stdout.decode()
block = next(b for b in text.split("\n\n") if b.startswith("# sql\n"))
rows = list(csv.DictReader(io.StringIO(block.split("\n", 1)[1], newline="")))
lib.expect_eq([r["statement"] for r in rows], [s["statement"] for s in sql], "csv sql rows in order")
for r in rows:
    s = by[r["statement"]]
    for k in ("executions", "rows", "total_ns", "p95_ns", "fullscan_steps", "prepares"):
        lib.expect_eq(int(r[k]), s[k], "csv %s: %s" % (r["statement"], k))

# prometheus
prom = fmtlib.analyze_raw(trace, "--format", "prometheus").stdout.decode()
tool = fmtlib.need("promtool", "prometheus")
p = subprocess.run([tool, "check", "metrics"], input=prom.encode(), capture_output=True)
lib.expect_eq(p.returncode, 0, "promtool check metrics: %s" % p.stdout.decode()[-300:])
lib.expect("intercept_sql_executions_total %d\n" % rep["sql_summary"]["executions"] in prom,
           "intercept_sql_executions_total")
s = by[unindexed]
lib.expect('intercept_sql_statement_seconds_count{statement="%s",database="%s"} %d\n'
           % (unindexed, s["database"], s["executions"]) in prom, "per-statement _count")

# sqlite
SQLITE3 = fmtlib.need("sqlite3", "sqlite3")
db = os.path.join(d, "run.db")
fmtlib.analyze_raw(trace, "--format", "sqlite", "-o", db)


def q(query):
    p = subprocess.run([SQLITE3, "-readonly", "-json", db, query], capture_output=True,
                       text=True, timeout=60, check=True)
    return json.loads(p.stdout or "[]")


rows = q("SELECT statement, executions, rows, total_ns FROM sql ORDER BY rank")
lib.expect_eq(rows, [{"statement": s["statement"], "executions": s["executions"],
                      "rows": s["rows"], "total_ns": s["total_ns"]} for s in sql], "sqlite sql")
fn = q("SELECT f.function FROM stack_frames f JOIN sql s USING(stack_id) WHERE s.statement = '%s'"
       % unindexed)
lib.expect({"function": "unindexed_scan"} in fn, "sqlite: first-execution stack via stack_frames")
lib.expect_eq(q("SELECT kind, statement FROM sql_findings"),
              [{"kind": f["kind"], "statement": f["statement"]} for f in rep["sql_findings"]],
              "sqlite sql_findings")
lib.expect_eq(q("SELECT ns FROM sql_slowest"), [{"ns": x["ns"]} for x in rep["sql_slowest"]],
              "sqlite sql_slowest")

# chrome
doc = json.loads(fmtlib.analyze_raw(trace, "--format", "chrome").stdout)
slices = [e for e in doc["traceEvents"] if e.get("cat") == "sql"]
lib.expect_eq(sorted(e["args"]["statement"] for e in slices),
              sorted(x["statement"] for x in rep["sql_slowest"]), "chrome: the slowest executions")
lib.expect_eq(sorted(round(e["dur"] * 1000) for e in slices),
              sorted(x["ns"] for x in rep["sql_slowest"]), "chrome: their durations")
lib.done()
