"""fork without exec (workload forker.c): the parent's trace (the -o path) and the
child's (the -o path with .<pid> inserted) each hold exactly that process's own
allocations and leaks; the child's frees of inherited blocks are reported as unmatched,
not as errors, and its header says it is a forked child."""
import os
import lib

d = lib.tmpdir()
trace = os.path.join(d, "fork.zst")
out, _, _ = lib.run_traced([lib.workload("forker")], trace)
truths = {t["role"]: t for t in lib.truth_lines(out)}
lib.expect_eq(sorted(truths), ["child", "parent"], "both processes printed their truth")

parent = lib.analyze(trace)
lib.check_schema(parent)
lib.expect_eq(parent["summary"]["pid"], truths["parent"]["pid"], "parent trace pid")
lib.compare_sites(parent, truths["parent"], "parent: ")
lib.expect_eq(parent["summary"]["fork_child"], False, "parent is not a fork child")

child_trace = os.path.join(d, "fork.%d.zst" % truths["child"]["pid"])
lib.expect(os.path.exists(child_trace), "child trace %s exists" % child_trace)
child = lib.analyze(child_trace)
lib.check_schema(child)
lib.expect_eq(child["summary"]["pid"], truths["child"]["pid"], "child trace pid")
lib.expect_eq(child["summary"]["fork_child"], True, "child trace says fork child")
lib.expect_eq(child["summary"]["complete"], True, "child trace complete")
lib.compare_sites(child, truths["child"], "child: ")
lib.expect(child["alloc"]["unmatched_frees"] >= 5, "child's frees of inherited blocks are unmatched")
# nothing of the parent's leaks appears in the child's trace
lib.expect(all(lib.owner(s["stack"], {"parent_leak"}) is None for s in child["leaks"]["sites"]),
           "no parent_leak in the child's trace")
lib.done()
