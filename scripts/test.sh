#!/usr/bin/env bash
# The whole test suite: installs dependencies, then builds and tests twice —
# a normal Release build (every test, the slow real-model ones included) and
# an AddressSanitizer + UndefinedBehaviorSanitizer build (the fast tests) —
# and runs each libFuzzer harness for a few seconds (tests/fuzz/run.sh).
# Tests that need ../shared skip with a message when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

echo "== Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

echo "== ASan + UBSan build (fast tests)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCRVQ_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j "$jobs" -L fast)

echo "== libFuzzer harnesses, ${FUZZ_SECONDS:-10} s each"
bash tests/fuzz/run.sh build-fuzz
