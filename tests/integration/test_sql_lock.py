"""Database lock contention (workload sql_lock.c): SQLITE_BUSY results and the time spent
waiting for a database lock are attributed to the statement that waited, for SQLite's
default busy handler (busy timeout), no handler, the program's own handler, and a lock
held by another process; the profiler changes nothing SQLite does: the same results, the
same handler calls, the same give-up time as a run without it."""
import os
import subprocess
import lib
import sqllib

d = lib.tmpdir()
db = os.path.join(d, "lock.db")
trace = os.path.join(d, "lock.zst")
native = lib.truth_lines(subprocess.run([lib.workload("sql_lock"), db], capture_output=True,
                                        text=True, timeout=60, check=True).stdout)[0]
out, _, _ = lib.run_traced([lib.workload("sql_lock"), db], trace)
truth = lib.truth_lines(out)[0]

# behaviour identical to the native run
lib.expect_eq(truth["results"], native["results"], "step results as without the profiler")
lib.expect_eq(truth["results"], [5, 5, 5, 101], "BUSY, BUSY, BUSY, DONE")
lib.expect_eq(truth["handler_calls"], native["handler_calls"], "the program's busy handler calls")
lib.expect_eq(truth["handler_calls"], 5, "the program's busy handler called 5 times")
lib.expect_eq(truth["handler_counts_ok"], 1, "the handler saw counts 0, 1, 2, ...")
lib.expect_eq(truth["child_ok"], 1, "the child process held and released the lock")
t1 = truth["sql"]["INSERT INTO t(v) VALUES (?)"]["wall_ms"]
# (an upper bound loose enough for a loaded machine: it did not wait 5 s)
lib.expect(100 <= t1 < 600, "the 100 ms busy timeout gives up after 100 ms (%.1f ms)" % t1)

rep = lib.analyze(trace)
sqllib.check_entries(rep)
got = sqllib.compare(rep, truth["sql"], ("executions", "busy"))
for stmt, want in truth["sql"].items():
    g = got.get(stmt)
    if not g:
        continue
    wait_ms = g["lock_wait_ns"] / 1e6
    lib.expect(want["min_wait_ms"] <= wait_ms <= want["wall_ms"] + 1,
               "%s: lock wait %.2f ms within [%s, %.2f] ms" % (stmt, wait_ms, want["min_wait_ms"],
                                                            want["wall_ms"]))
    lib.expect(g["lock_wait_ns"] <= g["total_ns"], "%s: lock wait inside the step time" % stmt)
lib.expect_eq(got.get("UPDATE t SET v = v + ?", {}).get("lock_wait_ns"), 0,
              "no busy handler, no wait")
for stmt in ("CREATE TABLE t(v INTEGER)", "BEGIN IMMEDIATE", "COMMIT"):
    g = got.get(stmt, {})
    lib.expect_eq((g.get("busy"), g.get("lock_wait_ns")), (0, 0), "%s did not wait" % stmt)
lib.expect_eq(rep["sql_summary"]["busy"], 3, "three SQLITE_BUSY results in all")
# the summary's lock-wait figure covers database locks as well as pthread ones
sql_wait = sum(e["lock_wait_ns"] for e in rep["sql"])
lib.expect(sql_wait > 0, "some database lock wait")
# each entry is converted from clock units and rounded on its own: the sum may differ from
# the converted total by at most one ns per entry
diff = rep["summary"]["lock_wait_ns"] - (sql_wait + rep["summary"]["pthread_lock_wait_ns"])
lib.expect(abs(diff) <= len(rep["sql"]),
           "summary.lock_wait_ns = SQL lock waits + pthread lock waits (off by %d ns)" % diff)

lw = sqllib.findings(rep, "lock_wait")
for stmt in truth["sql"]:
    lib.expect(stmt in lw, "lock_wait finding for %s" % stmt)
text = lib.analyze(trace, fmt="text").stdout
lib.expect("Waiting for database locks" in text, "text report has the lock finding")
lib.done()
