"""SQLite from several threads (workload sql_threads.c): per-thread connections and one
statement handle shared by all threads under the program's mutex; counts are exact. The
hook list is obeyed: without `sqlite` no SQL is recorded, with `sqlite` alone no
allocations are."""
import os
import lib
import sqllib

d = lib.tmpdir()
db = os.path.join(d, "threads.db")
trace = os.path.join(d, "threads.zst")
out, _, _ = lib.run_traced([lib.workload("sql_threads"), db], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
sqllib.check_entries(rep)
got = sqllib.compare(rep, truth["sql"])
lib.expect_eq(rep["sql_summary"]["untracked_executions"], 0, "nothing untracked")
own = got.get("SELECT v FROM kv WHERE k = ?", {})
lib.expect_eq(own.get("prepares"), truth["threads"], "one prepare per thread")

out, _, _ = lib.run_traced([lib.workload("sql_threads"), db], trace, opts=["--hooks", "malloc"])
rep = lib.analyze(trace)
lib.expect_eq(rep["sql"], [], "--hooks malloc: no SQL")
lib.expect(rep["alloc"]["allocations"] > 0, "--hooks malloc: allocations")
out, _, _ = lib.run_traced([lib.workload("sql_threads"), db], trace, opts=["--hooks", "sqlite"])
rep = lib.analyze(trace)
sqllib.compare(rep, lib.truth_lines(out)[0]["sql"], what="--hooks sqlite: ")
lib.expect_eq(rep["alloc"]["allocations"], 0, "--hooks sqlite: no allocations")
text = lib.analyze(trace, fmt="text").stdout
lib.expect("SQL HOTSPOTS" in text and "ALLOCATIONS" not in text, "text shows SQL only")
lib.done()
