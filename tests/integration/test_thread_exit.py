"""exit() from a worker thread while three others allocate in a loop, after 50 threads
came and went (thread_exit.c): the program exits normally, its trace is complete, every
thread is seen, and the main thread's leaks are exact."""
import os
import lib

d = lib.tmpdir()
trace = os.path.join(d, "texit.zst")
out, _, rc = lib.run_traced([lib.workload("thread_exit")], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
lib.expect_eq(rep["summary"]["complete"], True, "complete")
lib.expect(rep["summary"]["threads"] >= 55, "all threads seen (%d)" % rep["summary"]["threads"])
lib.compare_sites(rep, truth)
lib.expect_eq(rep["summary"]["dropped_events"], 0, "no drops")
lib.done()
