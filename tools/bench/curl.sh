#!/usr/bin/env bash
# tools/bench/curl.sh - what the curl hook costs per transfer. A benchmark, not a test: it
# prints figures and asserts nothing. Three measurements, medians of RUNS interleaved runs:
#  1. the hook alone: curl_bench_stub makes N "transfers" against tools/bench/fake_curl.c,
#     a libcurl stand-in that answers at once, natively and with the preload (no hook
#     active, then only the curl hook): the difference is the hook's cost per transfer,
#     easy interface (curl_easy_perform) and multi (add, perform, info_read, remove);
#  2. what a real libcurl adds to that: the 14 curl_easy_getinfo calls the hook makes per
#     transfer, timed against a real finished transfer (the stub's are cheaper);
#  3. real transfers: N file:// fetches through the real libcurl, natively and with the
#     curl hook (noisy on a shared VM: a file:// transfer costs ~20 us).
# Usage: tools/bench/curl.sh [N [RUNS]]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-200000}
runs=${2:-7}
tools/build.sh build >/dev/null
lib=$PWD/build/libintercept.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 64 /dev/zero >"$tmp/small"
url="file://$tmp/small"

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# one(bench, mode, count, hooks): ns per transfer of one run; hooks "native" = no preload
one() {
	if [ "$4" = native ]; then
		"$1" "$2" "$3" "$url"
	else
		INTERCEPT_OUTPUT="$tmp/t.zst" INTERCEPT_QUIET=1 INTERCEPT_HOOKS="$4" LD_PRELOAD="$lib" \
			"$1" "$2" "$3" "$url"
	fi | awk '{print $3}'
}

# table(bench, count, configs...): interleaved runs, medians, difference to the first
table() {
	local bench=$1 count=$2
	shift 2
	for mode in easy multi; do
		declare -A res=()
		for _ in $(seq "$runs"); do
			for cfg in "$@"; do res[$cfg]+="$(one "$bench" "$mode" "$count" "$cfg") "; done
		done
		local base
		base=$(echo "${res[$1]}" | tr ' ' '\n' | grep . | median)
		for cfg in "$@"; do
			local v
			v=$(echo "${res[$cfg]}" | tr ' ' '\n' | grep . | median)
			printf '  %-6s %-8s %10s ns %+10d ns\n' "$mode" "$cfg" "$v" $((v - base))
		done
		unset res
	done
}

echo "1. the hook alone (stub libcurl, $n transfers, median of $runs runs; + vs native)"
table build/curl_bench_stub "$n" native none curl
echo "2. the real curl_easy_getinfo calls the hook makes per transfer"
for _ in $(seq "$runs"); do build/curl_bench getinfo "$n" "$url" | awk '{print $3}'; done |
	median | awk '{printf "  %s ns per transfer\n", $1}'
echo "3. real file:// transfers ($((n / 10)) per run, median of $runs runs; + vs native)"
table build/curl_bench $((n / 10)) native none curl
