"""dlopen/dlclose of a library that allocates and leaks (dl_host.c + libleaky.so): the
leaks made before the library was unloaded are still symbolized to leaky_alloc in
libleaky.so, as are those made after it was loaded again, with exact counts."""
import os
import lib

d = lib.tmpdir()
trace = os.path.join(d, "dl.zst")
libpath = os.path.join(lib.WORKLOADS, "libleaky.so")
out, _, _ = lib.run_traced([lib.workload("dl_host"), libpath], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
lib.compare_sites(rep, truth)
mods = set()
for s in rep["leaks"]["sites"]:
    for f in s["stack"]:
        if f["function"] == "leaky_alloc":
            mods.add(f["module"])
            lib.expect(f["file"] and f["file"].endswith("libleaky.c"), "leaky_alloc has its source file")
lib.expect(mods and all(m.endswith("libleaky.so") for m in mods), "leaky_alloc frames are in libleaky.so")
# two distinct stacks: one per load of the library (4 blocks, then 2)
counts = sorted(s["allocations"] for s in rep["leaks"]["sites"]
                if lib.owner(s["stack"], {"leaky_alloc"}))
lib.expect_eq(counts, [2, 4], "leak sites per load")
lib.done()
