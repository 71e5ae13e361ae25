"""--format folded, read back the way flamegraph.pl and speedscope read it (`frames weight`
per line, frames root first, split on ';'): for every weight, the total equals the JSON's
(bytes_allocated, allocations, leaks.bytes), each workload function's share equals the
workload's own count, and every line is one of the JSON's stacks named frame by frame as
the JSON names them. Costs whose sections do not exist yet are refused clearly."""
import collections
import re

import fmtlib
import lib

trace, truth, rep = fmtlib.traced("leaks")
names = set(truth["sites"])
LINE = re.compile(r"^(.+) (\d+)$")

# every stack of the JSON, as folded names root first
json_stacks = collections.Counter()
for s in rep["alloc"]["sites"]:
    folded = ";".join(fmtlib.frame_name(f) for f in reversed(s["stack"])) or "(stack not recorded)"
    json_stacks[folded] += 1

for weight, total, field in (("bytes", rep["alloc"]["bytes_allocated"], "bytes"),
                             ("count", rep["alloc"]["allocations"], "allocations"),
                             ("leaked", rep["leaks"]["bytes"], "leaked_bytes")):
    out = fmtlib.analyze_raw(trace, "--format", "folded", "--weight", weight).stdout.decode()
    lines = out.splitlines()
    lib.expect(lines, "folded --weight %s is not empty" % weight)
    got_total = 0
    per_fn = collections.Counter()
    for line in lines:
        m = LINE.match(line)
        lib.expect(m is not None, "folded line parses: %r" % line)
        if not m:
            continue
        stack, w = m.group(1), int(m.group(2))
        frames = stack.split(";")
        lib.expect(all(frames), "no empty frame in %r" % stack)
        lib.expect(w > 0, "weights are positive")
        lib.expect(stack in json_stacks, "folded stack is a JSON stack: %r" % stack)
        got_total += w
        fn = fmtlib.owner_of_names(list(reversed(frames)), names)
        if fn:
            per_fn[fn] += w
    lib.expect_eq(got_total, total, "folded --weight %s total" % weight)
    for fn, want in truth["sites"].items():
        if want[field]:
            lib.expect_eq(per_fn[fn], want[field], "folded --weight %s, %s" % (weight, fn))

# without symbols, frames are named module+address exactly as the JSON's frames
nosym = lib.analyze(trace, "--no-symbols")
want = collections.Counter(";".join(fmtlib.frame_name(f) for f in reversed(s["stack"]))
                           for s in nosym["alloc"]["sites"])
out = fmtlib.analyze_raw(trace, "--format", "folded", "--no-symbols").stdout.decode()
got = collections.Counter(LINE.match(l).group(1) for l in out.splitlines())
lib.expect_eq(got, want, "--no-symbols: folded stacks = JSON stacks")
lib.expect(any("leaks+0x" in k for k in got), "unsymbolized frames read module+0xADDRESS")

# the default weight is bytes
default = fmtlib.analyze_raw(trace, "--format", "folded").stdout.decode()
lib.expect_eq(sum(int(LINE.match(l).group(2)) for l in default.splitlines()),
              rep["alloc"]["bytes_allocated"], "default weight is bytes")

# nonsense is a usage error
for bad in ("frobs",):
    p = fmtlib.analyze_raw(trace, "--format", "folded", "--weight", bad, expect_rc=2)
    err = p.stderr.decode()
    lib.expect(err.startswith("analyze: ") and "--weight" in err and err.count("\n") == 1,
               "--weight %s: one clear line (%r)" % (bad, err))
# sqltime on a run without SQL: an empty file and the warning that says why
p = fmtlib.analyze_raw(trace, "--format", "folded", "--weight", "sqltime")
lib.expect_eq(p.stdout, b"", "sqltime without SQL statements: empty")
lib.expect("no stack has a sqltime cost" in p.stderr.decode(), "sqltime: the empty-output warning")
p = fmtlib.analyze_raw(trace, "--format", "json", "--weight", "bytes", expect_rc=2)
lib.expect("folded" in p.stderr.decode(), "--weight with another format is refused")
lib.done()
