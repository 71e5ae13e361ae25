"""--format prometheus, checked by the real promtool (Debian's prometheus package):
`promtool check metrics` passes (syntax and the naming lint) even with a command line full
of characters that need escaping; the values equal the JSON's; per-site leak series name
the site frame as the JSON does and add up to each workload function's own leaks; no two
series share a name and labels."""
import re
import subprocess

import fmtlib
import lib

PROMTOOL = fmtlib.need("promtool", "prometheus")
trace, truth, rep = fmtlib.traced("leaks", ['quote " backslash \\ newline \n tab \t end'])
text = fmtlib.analyze_raw(trace, "--format", "prometheus").stdout.decode()

p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                   timeout=60)
lib.expect(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
           "promtool check metrics passes: rc %d %s %s" % (p.returncode, p.stdout, p.stderr))

# a small reader of the exposition format for the values (promtool checked the syntax)
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
series = {}
helps, types = set(), {}
for line in text.splitlines():
    if line.startswith("# HELP "):
        helps.add(line.split()[2])
        continue
    if line.startswith("# TYPE "):
        types[line.split()[2]] = line.split()[3]
        continue
    m = SAMPLE.match(line)
    lib.expect(m is not None, "sample line parses: %r" % line)
    if not m:
        continue
    labels = tuple(LABEL.findall(m.group(2) or ""))
    key = (m.group(1), labels)
    lib.expect(key not in series, "series %r is unique" % (key,))
    series[key] = float(m.group(3))
for name, _ in series:
    lib.expect(name in helps and name in types, "%s has HELP and TYPE" % name)
    lib.expect(name.endswith("_total") == (types.get(name) == "counter"),
               "%s: counters and only counters end in _total" % name)


def value(name):
    return series[(name, ())]


lib.expect_eq(value("intercept_heap_allocations_total"), rep["alloc"]["allocations"], "allocations")
lib.expect_eq(value("intercept_heap_frees_total"), rep["alloc"]["frees"], "frees")
lib.expect_eq(value("intercept_heap_allocated_bytes_total"), rep["alloc"]["bytes_allocated"],
              "bytes allocated")
lib.expect_eq(value("intercept_heap_peak_bytes"), rep["alloc"]["peak_bytes"], "peak")
lib.expect_eq(value("intercept_leaked_bytes"), rep["leaks"]["bytes"], "leaked bytes")
lib.expect_eq(value("intercept_leaked_blocks"), rep["leaks"]["allocations"], "leaked blocks")
lib.expect_eq(value("intercept_trace_events_total"), rep["summary"]["events"], "events")
lib.expect_eq(value("intercept_trace_complete"), 1, "complete")
lib.expect_eq(round(value("intercept_run_duration_seconds") * 1e9), rep["summary"]["duration_ns"],
              "duration")
info = [dict(l) for (n, l) in series if n == "intercept_run_info"]
lib.expect_eq(len(info), 1, "one run_info")
lib.expect_eq(info[0]["command"],
              rep["summary"]["command"].replace("\\", "\\\\").replace('"', '\\"')
              .replace("\n", "\\n").replace("\t", " "), "command label escaped")

# per-site leaks: labels are the site frame's, values add up to the workload's own leaks
want_labels = {}
for s in rep["leaks"]["sites"]:
    f = fmtlib.site_frame(s["stack"])
    key = (fmtlib.frame_name(f), (f["file"] or "").rsplit("/", 1)[-1], str(f["line"] or 0))
    want_labels[key] = want_labels.get(key, 0) + s["bytes"]
got_labels = {}
per_fn = {}
for (name, labels), v in series.items():
    if name != "intercept_leak_site_bytes":
        continue
    l = dict(labels)
    got_labels[(l["function"], l["file"], l["line"])] = v
    per_fn[l["function"]] = per_fn.get(l["function"], 0) + v
lib.expect(len(want_labels) <= 20, "the leaks workload has at most 20 leak sites")
lib.expect_eq(got_labels, want_labels, "leak site series = the JSON's sites by site frame")
for fn, t in truth["sites"].items():
    lib.expect_eq(per_fn.get(fn, 0), t["leaked_bytes"], "leak series of %s" % fn)
alloc_series = [k for k in series if k[0] == "intercept_alloc_site_allocated_bytes_total"]
lib.expect(0 < len(alloc_series) <= 20, "alloc site series bounded by the default 20")

top = fmtlib.analyze_raw(trace, "--format", "prometheus", "--top", "3").stdout.decode()
lib.expect_eq(len(re.findall(r"^intercept_leak_site_bytes\{", top, re.M)), 3, "--top 3")
lib.done()
