"""A C++ program (cxx_app.cpp): new/new[]/delete[] are seen through malloc/free, leaks are
attributed to the member functions that made them, and their names are demangled."""
import os
import lib

d = lib.tmpdir()
trace = os.path.join(d, "cxx.zst")
out, _, _ = lib.run_traced([lib.workload("cxx_app")], trace)
truth = lib.truth_lines(out)[0]
rep = lib.analyze(trace)
lib.check_schema(rep)
lib.compare_sites(rep, truth)
names = {f["function"] for s in rep["leaks"]["sites"] for f in s["stack"] if f["function"]}
lib.expect("shop::Cart::leak_item(int)" in names, "demangled member function in leak stacks")
lib.expect(not any(n.startswith("_ZN") for n in names), "no mangled names left")
lib.expect(any(n.startswith("operator new") for n in names), "operator new frame shown")
lib.done()
