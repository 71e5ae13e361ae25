#!/usr/bin/env bash
# tools/test.sh - the README's second command, and what CI runs: build and run every test.
#   1. the normal build (RelWithDebInfo, -Werror) and its whole ctest suite;
#   2. the same suite against a build whose analyzer, launcher and unit tests run under
#      AddressSanitizer and UndefinedBehaviorSanitizer (the preload is never sanitized:
#      a sanitizer runtime must come first in the process and replaces malloc itself).
# Options: --quick skips step 2.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)

echo "== build"
tools/build.sh build
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs")

if [ "$quick" = 0 ]; then
	echo "== tests under ASan+UBSan"
	tools/build.sh build-asan -DINTERCEPT_SANITIZE=ON
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
fi
echo "== all tests passed"
