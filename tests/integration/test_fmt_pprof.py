"""--format pprof, read by the real pprof (`go tool pprof` from Debian's golang-go): -raw
shows the sample types (four for allocations, two for HTTP: test_curl.py checks those)
with totals equal to the JSON's (allocations, bytes allocated, leaked blocks and bytes),
each workload function's values equal the workload's own counts, and every sample's
stack, expanded through its locations' lines (inlined calls included), is one of the JSON's
stacks named frame by frame as the JSON names them, with the same
files and lines. -top on inuse_space agrees with leaks.bytes to the byte."""
import collections
import gzip
import os
import re
import subprocess

import fmtlib
import lib

GO = fmtlib.need("go", "golang-go")
trace, truth, rep = fmtlib.traced("leaks")
names = set(truth["sites"])
prof = os.path.join(os.path.dirname(trace), "leaks.pb.gz")
fmtlib.analyze_raw(trace, "--format", "pprof", "-o", prof)
with open(prof, "rb") as f:
    lib.expect_eq(f.read(2), b"\x1f\x8b", "the profile is gzipped")
lib.expect(len(gzip.open(prof).read()) > 0, "gzip stream is whole")

# a binary format is never written to a terminal by accident (script(1), from Debian's
# essential bsdutils, gives analyze a terminal)
p = subprocess.run([fmtlib.need("script", "bsdutils"), "-qec",
                    "%s %s --format pprof" % (lib.ANALYZE, trace), "/dev/null"],
                   capture_output=True, timeout=60)
lib.expect(b"is binary" in p.stdout and p.returncode == 2, "pprof to a terminal is refused")


def pprof(*args):
    p = subprocess.run([GO, "tool", "pprof", *args, prof], capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise SystemExit("FAIL: go tool pprof %s exited %d: %s" % (" ".join(args), p.returncode,
                                                                 p.stderr))
    return p.stdout


raw = pprof("-raw")
lines = raw.splitlines()
i = lines.index("Samples:")
types = [t.replace("[dflt]", "") for t in lines[i + 1].split()]
lib.expect_eq(types, ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                      "inuse_space/bytes", "http_requests/count", "http_time/nanoseconds",
                      "contentions/count", "delay/nanoseconds"],
              "sample types")
lib.expect("alloc_space/bytes[dflt]" in lines[i + 1], "alloc_space is the default")
samples = []
for line in lines[i + 2:]:
    m = re.match(r"^\s+([\d\s]+): ([\d ]+?)\s*$", line)
    if not m:
        break
    samples.append(([int(v) for v in m.group(1).split()], [int(x) for x in m.group(2).split()]))
lib.expect_eq(len(samples), len(rep["alloc"]["sites"]), "one sample per JSON site")

# locations: id -> [(function, file, line), ...] (inlined calls first)
locs = {}
cur = None
j = lines.index("Locations")
for line in lines[j + 1:]:
    if line == "Mappings":
        break
    m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ M=\d+ (.+) (\S*):(\d+) s=\d+$", line)
    if m:
        cur = int(m.group(1))
        locs[cur] = [(m.group(2), m.group(3), int(m.group(4)))]
        continue
    m = re.match(r"^\s+(.+) (\S*):(\d+) s=\d+$", line)
    lib.expect(m is not None and cur is not None, "location line parses: %r" % line)
    if m and cur is not None:
        locs[cur].append((m.group(1), m.group(2), int(m.group(3))))

want = [rep["alloc"]["allocations"], rep["alloc"]["bytes_allocated"],
        rep["leaks"]["allocations"], rep["leaks"]["bytes"]]
got = [sum(v[k] for v, _ in samples) for k in range(4)]
lib.expect_eq(got, want, "pprof totals = JSON (allocations, bytes, leaked blocks, leaked bytes)")

json_stacks = collections.Counter(
    tuple((fmtlib.frame_name(f), f["file"] or "", f["line"] or 0) for f in s["stack"])
    for s in rep["alloc"]["sites"])
per_fn = collections.defaultdict(lambda: [0, 0, 0, 0])
for values, ids in samples:
    stack = tuple(fr for lid in ids for fr in locs.get(lid, [("?", "", 0)]))
    lib.expect(stack in json_stacks, "pprof stack is a JSON stack: %r" % (stack,))
    fn = fmtlib.owner_of_names([fr[0] for fr in stack], names)
    if fn:
        for k in range(4):
            per_fn[fn][k] += values[k]
for fn, t in truth["sites"].items():
    lib.expect_eq(per_fn[fn], [t["allocations"], t["bytes"], t["leaked_allocations"],
                               t["leaked_bytes"]], "pprof values of %s" % fn)

top = pprof("-top", "-sample_index=inuse_space", "-unit=B")
m = re.search(r"of (\d+)B total", top)
lib.expect(m is not None, "pprof -top prints a total")
if m:
    lib.expect_eq(int(m.group(1)), rep["leaks"]["bytes"], "pprof -top inuse_space total")
for fn in ("leak_malloc", "leak_realloc", "leak_calloc"):
    lib.expect(re.search(r"^\s+%dB .* %s$" % (truth["sites"][fn]["leaked_bytes"], fn), top,
                         re.M) is not None, "pprof -top shows %s's leaked bytes" % fn)
lib.done()
