"""Sampling by allocated bytes (INTERCEPT_SAMPLE, docs/endurance.md) on
tests/workloads/sampler.c, whose allocation sizes are known exactly, in full and in summary
mode. Each allocation of n bytes is recorded with probability p = 1 - exp(-n/N) and weighs
1/p, so each estimate E of a truth T (a count or a byte total over allocations i) is
unbiased with variance  Var(E) = sum_i w_i^2 (1 - p_i) / p_i,  w_i = 1 (counts) or n_i
(bytes). The test computes that standard error from the workload's own size table and
requires |E - T| <= 5 sigma for every site's allocations, bytes, leaked blocks and leaked
bytes, and for the totals: for any seed, a check fails by chance with probability below
6e-7 (normal approximation; every estimate here sums hundreds of samples or more).
Also: the report says it is sampled and at what rate, frees of unsampled blocks are
neither recorded nor counted as unmatched, and the trace is far smaller than unsampled."""
import math
import os
import lib

N = 4096
SITES = {"small_site", "mid_site", "big_site"}


def sigma(size, count, bytes_):
    p = -math.expm1(-max(size, 1) / N)
    w = size if bytes_ else 1
    return math.sqrt(count * w * w * (1 - p) / p)


d = lib.tmpdir()
for mode in ("full", "summary"):
    trace = os.path.join(d, "sampled-%s.zst" % mode)
    out, err, _ = lib.run_traced([lib.workload("sampler")], trace,
                                 env={"INTERCEPT_SAMPLE": str(N), "INTERCEPT_MALLOC": mode})
    truth = lib.truth_lines(out)[0]
    rep = lib.analyze(trace)
    lib.check_schema(rep)
    sm = rep["summary"]
    lib.expect_eq(sm["sampled"], True, mode + ": summary.sampled")
    lib.expect_eq(sm["sample_bytes"], N, mode + ": summary.sample_bytes")
    lib.expect_eq(rep["alloc"]["unmatched_frees"], 0, mode + ": no unmatched frees")
    got = lib.by_function(rep, SITES)
    tot_var = {"allocations": 0.0, "bytes": 0.0}
    for fn, (size, count, leaked) in truth["sizes"].items():
        want = truth["sites"][fn]
        for key, n, is_bytes in (("allocations", count, False), ("bytes", count, True),
                                 ("leaked_allocations", leaked, False),
                                 ("leaked_bytes", leaked, True)):
            s = sigma(size, n, is_bytes)
            if key in tot_var:
                tot_var[key] += s * s
            diff = got[fn][key] - want[key]
            # a 0-sigma estimate (every block sampled) must be exact up to rounding
            lib.expect(abs(diff) <= 5 * s + 1,
                       "%s: %s.%s = %d, truth %d, 5 sigma = %.0f"
                       % (mode, fn, key, got[fn][key], want[key], 5 * s))
    for key, rkey in (("allocations", "allocations"), ("bytes", "bytes_allocated")):
        want = sum(truth["sites"][fn][key] for fn in SITES)
        # other sites (libc's stdout buffer) are a few hundred bytes at most
        lib.expect(abs(rep["alloc"][rkey] - want) <= 5 * math.sqrt(tot_var[key]) + 8192,
                   "%s: alloc.%s = %d, truth %d" % (mode, rkey, rep["alloc"][rkey], want))
    text = lib.analyze(trace, fmt="text").stdout
    lib.expect("SAMPLED" in text and "4.00 KiB" in text, mode + ": text says sampled, rate")
    if mode == "full":
        # 442,400 allocations and frees; sampled: ~6,000 allocations and their frees
        lib.expect(sm["events"] < 30000, "full: %d events recorded (frees of unsampled "
                   "blocks are not)" % sm["events"])
lib.done()
