#!/usr/bin/env bash
# tools/format.sh [--check] - format every C source and header with the repository's
# .clang-format (STYLE.md: formatting is clang-format's job). --check lists the files that
# would change and exits 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' '*.cpp')
if [ "${1:-}" = "--check" ]; then
	bad=0
	for f in $files; do
		clang-format "$f" | cmp -s - "$f" || { echo "$f"; bad=1; }
	done
	exit $bad
fi
clang-format -i $files
