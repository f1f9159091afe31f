#!/usr/bin/env bash
# The whole test suite: installs dependencies, then builds and tests twice —
# a normal Release build (every test, the slow real-model ones included) and
# an AddressSanitizer + UndefinedBehaviorSanitizer build (the fast tests).
# The Release build's fast tests run twice more, so that a test whose result
# depends on the machine fails here and not on someone else's: with another
# OpenBLAS kernel family (OPENBLAS_CORETYPE flipped: a forced one when unset,
# unset when set), and with the SIMD kernels forced to scalar (CRVQ_ISA) at
# one thread. Last, each libFuzzer harness runs for a few seconds
# (tests/fuzz/run.sh). Tests that need ../shared skip with a message when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

echo "== Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

# The kernel family OpenBLAS runs with OPENBLAS_CORETYPE=$1 (none: unset).
openblas_core() {
    local lib py='import ctypes, sys
f = ctypes.CDLL(sys.argv[1]).openblas_get_corename
f.restype = ctypes.c_char_p
print(f().decode())'
    lib=$(ldd build/crvq | awk '/libopenblas/ {print $3; exit}')
    if [ -n "${1:-}" ]; then OPENBLAS_CORETYPE=$1 python3 -c "$py" "$lib"; else env -u OPENBLAS_CORETYPE python3 -c "$py" "$lib"; fi
}
# Another kernel family than the one running now: OpenBLAS's own choice when
# OPENBLAS_CORETYPE is set, else the first of Haswell, Sandybridge, Prescott
# that this CPU runs (a forced core is not checked against the CPU) and that
# differs. Prints the value to set ("" for unset).
other_coretype() {
    local now core flags
    now=$(openblas_core "${OPENBLAS_CORETYPE:-}")
    if [ -n "${OPENBLAS_CORETYPE:-}" ] && [ "$(openblas_core)" != "$now" ]; then echo ""; return; fi
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    for core in Haswell:avx2 Sandybridge:avx Prescott:sse3; do
        grep -qw "${core#*:}" <<<"$flags" || continue
        [ "$(openblas_core "${core%:*}")" != "$now" ] && { echo "${core%:*}"; return; }
    done
    echo "${OPENBLAS_CORETYPE:-}"
}

flip=$(other_coretype)
echo "== Release build, fast tests with OpenBLAS's $(openblas_core "$flip") kernels" \
     "(OPENBLAS_CORETYPE ${flip:-unset}; the first run had $(openblas_core "${OPENBLAS_CORETYPE:-}"))"
if [ -n "$flip" ]; then
    (cd build && OPENBLAS_CORETYPE=$flip ctest --output-on-failure -j "$jobs" -L fast)
else
    (cd build && env -u OPENBLAS_CORETYPE ctest --output-on-failure -j "$jobs" -L fast)
fi

echo "== Release build, fast tests with scalar kernels at one thread (CRVQ_ISA=scalar)"
(cd build && CRVQ_ISA=scalar OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -j "$jobs" -L fast)

echo "== ASan + UBSan build (fast tests)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCRVQ_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j "$jobs" -L fast)

echo "== libFuzzer harnesses, ${FUZZ_SECONDS:-10} s each"
bash tests/fuzz/run.sh build-fuzz
