"""A process killed with SIGKILL mid-run (sleeper.c): its trace is read up to the last
flush, reported as incomplete, and the leaks made before the flush are all there."""
import os
import signal
import subprocess
import time
import lib

d = lib.tmpdir()
trace = os.path.join(d, "killed.zst")
p = subprocess.Popen([lib.INTERCEPT, "-o", trace, "--flush-ms", "50", "--",
                      lib.workload("sleeper"), "30"], stdout=subprocess.PIPE, text=True)
line = p.stdout.readline()
time.sleep(0.5)  # ten flush intervals
p.send_signal(signal.SIGKILL)
p.wait(timeout=10)
lib.expect_eq(p.returncode, -signal.SIGKILL, "killed by SIGKILL")
truth = lib.truth_lines(line)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
lib.expect_eq(rep["summary"]["complete"], False, "summary.complete is false")
lib.compare_sites(rep, truth)
text = lib.analyze(trace, fmt="text").stdout
lib.expect("INCOMPLETE" in text, "text report says the trace is incomplete")
lib.done()
