#!/usr/bin/env bash
# tools/bench/locks.sh [RUNS [PAIRS]] - the lock hook's uncontended cost: nanoseconds per
# lock/unlock pair (tools/bench/lock_pair.c, one thread, never contended) natively, with the
# preload recording locks (the default mode: nothing is recorded for an uncontended lock),
# and with the counting mode (--lock-count). RUNS runs (default 5) of PAIRS pairs per kind
# (default 20,000,000), configurations interleaved, pinned to one CPU when taskset exists.
# A benchmark, not a test: it prints numbers and never fails on them (docs/performance.md
# quotes them).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
pairs=${2:-20000000}
tools/build.sh build >/dev/null
bench=build/bench/lock_pair
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

configs=(native lock count)
run() { # run CONFIG -> "kind ns" lines
	case $1 in
	native) "${pin[@]}" "$bench" "$pairs" ;;
	lock) "${pin[@]}" build/intercept -q -o "$out/t.zst" --hooks lock -- "$bench" "$pairs" ;;
	count) "${pin[@]}" build/intercept -q -o "$out/t.zst" --hooks lock --lock-count -- \
		"$bench" "$pairs" ;;
	esac
}
for ((i = 0; i < runs; i++)); do
	for c in "${configs[@]}"; do
		run "$c" >>"$out/$c"
	done
done
# col KIND FILE COL: the median over runs of column COL (2: plt min, 3: libc min) or, with
# COL "d", of the per-run difference plt min - libc min (what the PLT call costs over a
# direct call to libc in that very process).
col() {
	awk -v k="$1" -v c="$3" '$1 == k { print (c == "d") ? $2 - $3 : $c }' "$2" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "ns per uncontended lock/unlock pair: median over $runs runs of the fastest of 51 blocks"
echo "(lock_pair.c); 'added' is what the hook adds: (PLT call - direct libc call) measured in"
echo "the same process, minus the same difference without the preload"
printf "%-8s %8s %10s %8s %10s %8s\n" kind native "lock hook" added "counting" added
for k in mutex rdlock wrlock; do
	awk -v k="$k" -v n="$(col "$k" "$out/native" 2)" -v dn="$(col "$k" "$out/native" d)" \
		-v l="$(col "$k" "$out/lock" 2)" -v dl="$(col "$k" "$out/lock" d)" \
		-v c="$(col "$k" "$out/count" 2)" -v dc="$(col "$k" "$out/count" d)" \
		'BEGIN { printf "%-8s %8.2f %10.2f %+8.2f %10.2f %+8.2f\n", k, n, l, dl - dn, c, dc - dn }'
done
