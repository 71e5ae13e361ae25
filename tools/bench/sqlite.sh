#!/usr/bin/env bash
# tools/bench/sqlite.sh [RUNS] - the SQLite hooks' cost, measured in one go: bench_sqlite
# natively, under the preload recording nothing (--hooks none), recording SQLite only, and
# recording everything (the default, allocations included). Prints the median of RUNS
# (default 5) runs of each and the ratio to native. A benchmark, not a test: it never fails
# on a number.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
tools/build.sh build >/dev/null
bin=build/bench/bench_sqlite
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

declare -A res
for mode in native none sqlite all; do
	for ((i = 0; i < runs; i++)); do
		case $mode in
		native) "$bin" >"$tmp/out" ;;
		none) build/intercept -q -o "$tmp/t.zst" --hooks none -- "$bin" >"$tmp/out" ;;
		sqlite) build/intercept -q -o "$tmp/t.zst" --hooks sqlite -- "$bin" >"$tmp/out" ;;
		all) build/intercept -q -o "$tmp/t.zst" -- "$bin" >"$tmp/out" ;;
		esac
		for k in point_query_ns prepare_query_ns row_step_ns; do
			awk -v k=$k '$1 == k {print $2}' "$tmp/out" >>"$tmp/$mode.$k"
		done
	done
	for k in point_query_ns prepare_query_ns row_step_ns; do
		res[$mode.$k]=$(median <"$tmp/$mode.$k")
	done
done
printf "%-18s %10s %10s %10s %10s\n" "ns per" native "hooks none" sqlite all
for k in point_query_ns prepare_query_ns row_step_ns; do
	printf "%-18s %10s %10s %10s %10s\n" "${k%_ns}" "${res[native.$k]}" "${res[none.$k]}" \
		"${res[sqlite.$k]}" "${res[all.$k]}"
	awk -v n="${res[native.$k]}" -v a="${res[none.$k]}" -v b="${res[sqlite.$k]}" \
		-v c="${res[all.$k]}" 'BEGIN {printf "%-18s %10s %10.3f %10.3f %10.3f\n", \
		"  ratio", 1, a / n, b / n, c / n}'
done
