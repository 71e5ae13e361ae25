"""exec without fork (execer.c): the first image's trace is flushed before the exec (it is
complete and names the program exec'd), kept as <stem>.preexec1.zst; the new image, same
pid, writes the -o path. Each holds exactly its own allocations."""
import os
import lib

d = lib.tmpdir()
trace = os.path.join(d, "exec.zst")
out, _, _ = lib.run_traced([lib.workload("execer")], trace)
truths = {t["role"]: t for t in lib.truth_lines(out)}
lib.expect_eq(sorted(truths), ["after", "before"], "both images printed their truth")
lib.expect_eq(truths["before"]["pid"], truths["after"]["pid"], "exec keeps the pid")

after = lib.analyze(trace)
lib.check_schema(after)
lib.compare_sites(after, truths["after"], "after: ")
lib.expect(all(lib.owner(s["stack"], {"before_exec"}) is None for s in after["leaks"]["sites"]),
           "the new image's trace has none of the old image's leaks")
lib.expect_eq(after["summary"]["complete"], True, "new image complete")

pre = os.path.join(d, "exec.preexec1.zst")
lib.expect(os.path.exists(pre), "the old image's trace was kept as exec.preexec1.zst")
before = lib.analyze(pre)
lib.compare_sites(before, truths["before"], "before: ")
lib.expect_eq(before["summary"]["complete"], True, "old image's trace is complete (flushed at exec)")
lib.expect(before["summary"]["exec"] and before["summary"]["exec"].endswith("exe"),
           "old image's trace names the exec'd program")
lib.done()
