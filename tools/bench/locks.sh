#!/usr/bin/env bash
# tools/bench/locks.sh [RUNS [PAIRS]] - the lock hook's uncontended cost: nanoseconds per
# lock/unlock pair (tools/bench/lock_pair.c, one thread, never contended) natively, with the
# preload recording locks (the default mode: nothing is recorded for an uncontended lock),
# and with the counting mode (--lock-count). Prints the median of RUNS runs (default 7) of
# PAIRS pairs per kind (default 20,000,000), runs interleaved so that drift hits all
# configurations alike, pinned to one CPU when taskset exists. A benchmark, not a test: it
# prints numbers and never fails on them (docs/performance.md quotes them).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-7}
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
median() { # median KIND FILE
	awk -v k="$1" '$1 == k { print $2 }' "$2" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "ns per uncontended lock/unlock pair, median of $runs runs of $pairs pairs"
printf "%-8s %8s %10s %8s %10s %8s\n" kind native "lock hook" added "counting" added
for k in mutex rdlock wrlock; do
	n=$(median "$k" "$out/native")
	l=$(median "$k" "$out/lock")
	c=$(median "$k" "$out/count")
	awk -v k="$k" -v n="$n" -v l="$l" -v c="$c" \
		'BEGIN { printf "%-8s %8.2f %10.2f %+8.2f %10.2f %+8.2f\n", k, n, l, l - n, c, c - n }'
done
