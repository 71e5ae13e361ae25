#!/usr/bin/env bash
# tools/setup.sh - installs the Debian packages intercept needs to build, test and run
# its demo, when they are missing (idempotent: does nothing when all are present).
# Run as root on Debian 12 (the README's commands call it).
set -euo pipefail

PKGS=(
	# build
	cmake make gcc g++ pkg-config binutils
	libunwind-dev libzstd-dev libdw-dev libelf-dev
	# the analyzer's export formats: pprof (protobuf-c, zlib), sqlite; libsqlite3-dev is
	# also the preload's SQLite header and the library of `analyze --explain`
	libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libsqlite3-dev
	libcurl4-openssl-dev # headers for the curl hook (never linked into it), HTTP workloads
	# tests and tools
	python3 zstd
	# the real consumers the format tests feed: go tool pprof, promtool, the sqlite3 shell
	# (also the program nobody here wrote whose lock counts test_locks.py cross-checks)
	golang-go prometheus sqlite3
	curl # the curl command-line tool, profiled by the HTTP tests
	libcurl3-gnutls # the second libcurl build of the two-builds test
	# the html report is checked by a real browser (tests/integration/test_html.py); a large
	# download (~100 MB with its libraries), needed only by the test suite
	chromium
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		echo "setup: run as root (apt-get install needs it), or install: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
