"""SQLite statements of known count (workload sql_app.c): executions, rows and prepares per
normalized statement equal the workload's own counts exactly, including statements run by
sqlite3_exec and sqlite3_get_table, executions ended by reset or by an exec callback, and
none of SQLite's own schema statements; the stack of each statement's first execution
names the workload function; the findings (full scan, nested and burst N+1, re-prepare
churn) carry the workload's exact evidence; the text report shows the section in 100
columns."""
import os
import lib
import sqllib

d = lib.tmpdir()
db = os.path.join(d, "app.db")
trace = os.path.join(d, "app.zst")
out, _, _ = lib.run_traced([lib.workload("sql_app"), db], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
sqllib.check_entries(rep)
got = sqllib.compare(rep, truth["sql"], ("executions", "rows", "prepares", "via_exec"))
lib.expect_eq(sorted(got), sorted(truth["sql"]), "exactly the application's statements")
for s in rep["sql"]:
    lib.expect_eq(s["database"], db, "database of %s" % s["statement"])
    lib.expect_eq(s["busy"], 0, "no busy results: %s" % s["statement"])
lib.expect(rep["sql_summary"]["internal_executions"] >= 1,
           "the second connection's schema load is counted as SQLite's own")
lib.expect_eq(rep["sql_summary"]["untracked_executions"], 0, "nothing untracked")
lib.expect_eq(rep["sql_summary"]["executions"],
              sum(v["executions"] for v in truth["sql"].values()), "sql_summary.executions")

# the caller of each statement's first execution
where = {
    "SELECT id, amount FROM orders WHERE note = ?": "unindexed_scan",
    "SELECT name, city FROM customers WHERE id = ?": "nplus1_nested",
    "SELECT count(*) FROM customers WHERE city = ?": "churn",
    "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT)": "create_schema",
    "SELECT name FROM customers WHERE id IN (? /*, ... */)": "via_exec",
    "SELECT count(*) FROM orders": "second_connection",
}
for stmt, fn in where.items():
    st = got.get(stmt, {}).get("stack", [])
    lib.expect(fn in sqllib.functions(st), "first-execution stack of %s names %s: %s"
               % (stmt, fn, sqllib.functions(st)[:6]))
    frame = next((f for f in st if f.get("function") == fn), {})
    lib.expect((frame.get("file") or "").endswith("sql_app.c") and frame.get("line", 0) > 0,
               "%s frame has file:line" % fn)
    lib.expect(not any("libintercept" in (f.get("module") or "") for f in st),
               "no profiler frames in the stack of %s" % stmt)
# statements run by sqlite3_exec show it as their caller's callee
lib.expect_eq(sqllib.functions(got["BEGIN"]["stack"])[0], "sqlite3_exec",
              "an exec'd statement's stack starts at sqlite3_exec")

# findings, with the workload's numbers
scan = sqllib.findings(rep, "full_scan")
f = scan.get("SELECT id, amount FROM orders WHERE note = ?")
lib.expect(f is not None, "full_scan finding for the unindexed scan")
if f:
    lib.expect_eq(f["fullscan_steps"], truth["scan_steps"], "full scan steps")
    lib.expect_eq(got[f["statement"]]["fullscan_steps"], truth["scan_steps"],
                  "sql entry fullscan_steps")
lib.expect("SELECT name FROM customers WHERE id = ?" not in scan, "no full scan for a rowid lookup")

np = sqllib.findings(rep, "n_plus_1")
f = np.get("SELECT name, city FROM customers WHERE id = ?")
lib.expect(f is not None and f["pattern"] == "nested", "nested N+1 finding")
if f:
    lib.expect_eq(f["outer_statement"], "SELECT id, customer_id FROM orders WHERE id <= ?",
                  "nested N+1 outer statement")
    lib.expect_eq(f["inner_executions"], truth["nested"], "nested N+1 inner executions")
    lib.expect_eq(f["outer_rows"], truth["nested"], "nested N+1 outer rows")
    lib.expect_eq(f["outer_executions"], 1, "nested N+1 outer executions")
f = np.get("SELECT city FROM customers WHERE id = ?")
lib.expect(f is not None and f["pattern"] == "burst", "burst N+1 finding")
if f:
    lib.expect_eq(f["largest_burst"], truth["burst"], "burst size")
    lib.expect_eq(f["previous_statement"], "SELECT customer_id FROM orders WHERE amount > ?",
                  "burst follows the outer query")
    lib.expect_eq(f["previous_rows"], truth["burst"], "one execution per row of it")
for stmt in np:
    lib.expect(not stmt.startswith("INSERT"), "inserts in a loop are not N+1: %s" % stmt)
lib.expect("SELECT id, amount FROM orders WHERE note = ?" not in np,
           "%d runs in a row are not a burst" % truth["sql"]["SELECT id, amount FROM orders WHERE note = ?"]["executions"])

rp = sqllib.findings(rep, "reprepare")
f = rp.get("SELECT count(*) FROM customers WHERE city = ?")
lib.expect(f is not None, "re-prepare finding")
if f:
    lib.expect_eq(f["prepares"], truth["churn"], "re-prepare count")
lib.expect("INSERT INTO orders(customer_id, note, amount) VALUES (?, ?, ?)" not in rp,
           "a reused statement is not churn")

# slowest executions are real executions, slowest first
slow = rep["sql_slowest"]
lib.expect(0 < len(slow) <= 10, "sql_slowest has entries")
lib.expect(all(slow[i]["ns"] >= slow[i + 1]["ns"] for i in range(len(slow) - 1)), "slowest sorted")
lib.expect(all(s["statement"] in truth["sql"] for s in slow), "slowest name app statements")
lib.expect(max(s["max_ns"] for s in rep["sql"]) == slow[0]["ns"], "slowest is the largest max_ns")

# JSON --top cuts the array
top = lib.analyze(trace, "--top", "3")
lib.expect_eq(len(top["sql"]), 3, "--top 3")
lib.expect_eq([s["statement"] for s in top["sql"]], [s["statement"] for s in rep["sql"][:3]],
              "--top keeps the largest")

text = lib.analyze(trace, "--top", "50", fmt="text").stdout
for want in ("SQL HOTSPOTS", "Full table scan on every execution", "N+1 queries",
             "Prepared again and again", "Slowest executions", "unindexed_scan"):
    lib.expect(want in text, "text report has %r" % want)
lib.expect(all(len(line) <= 100 for line in text.splitlines()),
           "text fits 100 columns: %s" % [l for l in text.splitlines() if len(l) > 100])
lib.done()
