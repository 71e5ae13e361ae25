#!/usr/bin/env bash
# tools/demo.sh - the README's first command: build intercept, profile the bundled demo
# program (tools/demo/demo.c) and print its report.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh build >/dev/null
trace=build/demo.zst
build/intercept -o "$trace" -- build/demo build/demo.db
echo
build/analyze "$trace" --top 5 --explain
echo
echo "trace: $trace (try: build/analyze $trace --format json)"
