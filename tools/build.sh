#!/usr/bin/env bash
# tools/build.sh [BUILD_DIR [CMAKE_ARGS...]] - configure and build (RelWithDebInfo, warnings
# as errors) after making sure the Debian packages are there. Default BUILD_DIR: build.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINTERCEPT_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
