"""analyze --explain: EXPLAIN QUERY PLAN of the hotspot statements on the recorded database
file, with full scans and temporary B-trees marked; the file is opened read-only and never
touched (same bytes, same mtime, no -wal/-shm/-journal left behind); a file changed since
the trace (an index added) is said to have changed and shows its new plan; a removed file
is said to be gone; an in-memory database is said to have nothing left to explain."""
import hashlib
import os
import sqlite3
import subprocess
import lib

d = lib.tmpdir()
db = os.path.join(d, "app.db")
trace = os.path.join(d, "app.zst")
lib.run_traced([lib.workload("sql_app"), db], trace)
SCAN = "SELECT id, amount FROM orders WHERE note = ?"
SORT = "SELECT id FROM orders ORDER BY amount DESC"
POINT = "SELECT name FROM customers WHERE id = ?"


def snapshot():
    with open(db, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return sorted(os.listdir(d)), digest, os.stat(db).st_mtime_ns


def plans():
    rep = lib.analyze(trace, "--explain", "--top", "100")
    return {s["statement"]: s.get("plan") for s in rep["sql"]}, rep


before = snapshot()
p, rep = plans()
lib.expect_eq(snapshot(), before, "--explain leaves the directory and the file untouched")
scan = p.get(SCAN) or {}
lib.expect_eq(scan.get("status"), "ok", "the scan was explained")
lib.expect_eq(scan.get("database_state"), "unchanged", "the file is unchanged since the trace")
lib.expect(any(r["full_scan"] and r["detail"] == "SCAN orders" for r in scan.get("rows", [])),
           "SCAN orders marked as a full scan: %s" % scan.get("rows"))
sort = p.get(SORT) or {}
lib.expect(any(r["temp_btree"] for r in sort.get("rows", [])),
           "ORDER BY without an index uses a temp b-tree: %s" % sort.get("rows"))
point = p.get(POINT) or {}
lib.expect(point.get("rows") and not any(r["full_scan"] for r in point["rows"]),
           "a rowid lookup is a search: %s" % point.get("rows"))
ddl = p.get("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT)") or {}
lib.expect_eq(ddl.get("status"), "not_a_query", "DDL has no plan")
dbs = rep["sql_summary"]["databases"]
lib.expect_eq([x.get("state_now") for x in dbs], ["unchanged"], "sql_summary database state")
lib.expect(dbs and dbs[0]["at_exit"] and dbs[0]["at_exit"]["size"] == os.path.getsize(db),
           "the size at exit was recorded")
text = lib.analyze(trace, "--explain", "--top", "100", fmt="text").stdout
for want in ("<- full scan", "<- temp b-tree", "EXPLAIN QUERY PLAN now; file unchanged"):
    lib.expect(want in text, "text has %r" % want)
lib.expect(all(len(line) <= 100 for line in text.splitlines()), "text fits 100 columns")

# an index added since the trace: the file changed, the plan now searches
c = sqlite3.connect(db)
c.execute("CREATE INDEX orders_note ON orders(note)")
c.commit()
c.close()
p, _ = plans()
scan = p.get(SCAN) or {}
lib.expect_eq(scan.get("database_state"), "changed", "the file changed since the trace")
lib.expect(scan.get("rows") and not any(r["full_scan"] for r in scan["rows"]) and
           any("orders_note" in r["detail"] for r in scan["rows"]),
           "the new plan uses the index: %s" % scan.get("rows"))
text = lib.analyze(trace, "--explain", "--top", "100", fmt="text").stdout
lib.expect("CHANGED since the trace" in text, "the text says the file changed")

# the file is gone
os.unlink(db)
p, _ = plans()
scan = p.get(SCAN) or {}
lib.expect_eq((scan.get("status"), scan.get("database_state")), ("no_database", "gone"),
              "a removed file is gone")
text = lib.analyze(trace, "--explain", fmt="text").stdout
lib.expect("plan: not available: gone" in text, "the text says the file is gone")

# an in-memory database
mtrace = os.path.join(d, "mem.zst")
subprocess.run([lib.INTERCEPT, "-o", mtrace, "--", "sqlite3", "-batch", "-init", os.devnull,
                ":memory:", "CREATE TABLE t(a); SELECT a FROM t WHERE a > 1;"], check=True,
               capture_output=True, timeout=60)
rep = lib.analyze(mtrace, "--explain")
sel = next((s for s in rep["sql"] if s["statement"] == "SELECT a FROM t WHERE a > ?"), {})
lib.expect_eq(sel.get("database"), ":memory:", "in-memory database named :memory:")
lib.expect_eq((sel.get("plan") or {}).get("database_state"), "memory", "in-memory: nothing to open")
lib.done()
