#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each one
# (docs/fuzzing.md). Fails if any harness finds a crash, a leak, a timeout
# or a broken check; the input is kept under BUILD/fuzz/crashes/.
#
#   bash tests/fuzz/run.sh [BUILD_DIR]     (default: build-fuzz)
#
#   FUZZ_SECONDS=N   seconds per harness (default 10: the CI smoke run)
#   FUZZ_RUNS=N      executions per harness instead (the long run: 10000000);
#                    the corpus under BUILD/fuzz/corpus/ is kept between runs
#   FUZZ_ONLY="a b"  only these harnesses (names without fuzz_)
#   FUZZ_NICE=N      nice level of the fuzzers (default 0; long runs: 19)
#   FUZZ_WORKERS=N   N processes per harness sharing its corpus, FUZZ_RUNS/N
#                    executions each (default 1)
#   FUZZ_BUILD=0     use the harnesses already in BUILD_DIR (built elsewhere)
#
# Seeds: the generated corpus (fuzz_seeds) plus, when ../shared is there,
# links to its small real files (never copied into the repository). The
# summary table of the run is BUILD/fuzz/summary.md.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-fuzz}
case $build in /*) ;; *) build=$PWD/$build ;; esac
shared=${CRVQ_SHARED:-$src/../shared}
jobs=$(nproc)

if [ "${FUZZ_BUILD:-1}" != 0 ] && ! command -v clang >/dev/null; then
  echo "fuzz: clang is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
if [ "${FUZZ_BUILD:-1}" != 0 ]; then
  cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCRVQ_SANITIZE=ON \
    -DCRVQ_FUZZ=ON -DCRVQ_CUDA=OFF >/dev/null
  cmake --build "$build" -j "$jobs" --target fuzz >/dev/null
fi

out=$build/fuzz
bin=$build/tests/fuzz
rm -rf "$out/seeds" "$out/shared"
rm -rf "$out/logs"
mkdir -p "$out/corpus" "$out/crashes" "$out/logs"
"$bin/fuzz_seeds" "$out/seeds"

# Real files of ../shared that fit a harness's input size, by harness.
link_shared() { # harness file...
  local h=$1 f
  shift
  mkdir -p "$out/shared/$h"
  for f in "$@"; do
    [ -f "$shared/$f" ] && ln -sf "$shared/$f" "$out/shared/$h/$(echo "$f" | tr / _)"
  done
  return 0
}
link_shared config models/pg-dev/config.json models/pg-dev/generation_config.json
link_shared llama2c_tok models/stories260K/tok512.bin
link_shared sp_model models/pg-dev/tokenizer.model
link_shared gguf models/stories260K/stories260K-f16.gguf

# Largest input per harness: what a real file of that kind needs to reach
# every part of its reader, small enough to keep executions fast.
max_len() {
  case $1 in
    model | hf_model | gguf | llama2c) echo 32768 ;;
    sp_model | tokenizer_json) echo 16384 ;;
    *) echo 8192 ;;
  esac
}

harnesses=${FUZZ_ONLY:-$(cd "$bin" && ls fuzz_* | grep -v '^fuzz_seeds$' | sed 's/^fuzz_//')}
workers=${FUZZ_WORKERS:-1}
if [ -n "${FUZZ_RUNS:-}" ]; then
  limit=(-runs=$(((FUZZ_RUNS + workers - 1) / workers)))
else
  rm -rf "$out/corpus"
  mkdir -p "$out/corpus"
  limit=(-max_total_time="${FUZZ_SECONDS:-10}")
fi

summary=$out/summary.md
{
  echo "| harness | executions | exec/s | seconds | coverage (edges) | features | corpus | result |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
} >"$summary"
failed=0 n_ok=0 n_failed=0
for h in $harnesses; do
  mkdir -p "$out/corpus/$h"
  dirs=("$out/corpus/$h" "$out/seeds/$h")
  [ -d "$out/shared/$h" ] && [ -n "$(ls "$out/shared/$h")" ] && dirs+=("$out/shared/$h")
  start=$(date +%s)
  pids=()
  for w in $(seq "$workers"); do
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
      nice -n "${FUZZ_NICE:-0}" "$bin/fuzz_$h" "${limit[@]}" -max_len="$(max_len "$h")" -timeout=20 \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$out/crashes/$h-" \
      "${dirs[@]}" >"$out/logs/$h.$w.log" 2>&1 &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do
    wait "$p" || rc=$?
  done
  secs=$(($(date +%s) - start))
  logs=("$out/logs/$h".*.log)
  log=${logs[0]}
  for l in "${logs[@]}"; do grep -q '^SUMMARY\|ERROR: libFuzzer' "$l" && log=$l; done
  # totals over the workers: executions summed, coverage the largest one's
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${logs[@]}" | awk '{s += $1} END {print s}')
  rate=$((secs > 0 ? ${execs:-0} / secs : 0))
  cov=$(for l in "${logs[@]}"; do grep -o 'cov: [0-9]*' "$l" | tail -1 | cut -d' ' -f2; done | sort -n | tail -1)
  ft=$(for l in "${logs[@]}"; do grep -o 'ft: [0-9]*' "$l" | tail -1 | cut -d' ' -f2; done | sort -n | tail -1)
  corp=$(ls "$out/corpus/$h" | wc -l)
  result=ok
  if [ $rc -eq 0 ]; then
    n_ok=$((n_ok + 1))
  else
    result="FAILED (exit $rc)"
    failed=1
    n_failed=$((n_failed + 1))
    echo "fuzz_$h: FAILED (exit $rc); the log's end:" >&2
    grep -v '^#[0-9]' "$log" | tail -40 >&2
  fi
  echo "| $h | ${execs:-?} | ${rate:-?} | $secs | ${cov:-?} | ${ft:-?} | $corp | $result |" >>"$summary"
  echo "fuzz_$h: ${execs:-?} executions, ${rate:-?}/s, ${secs} s, cov ${cov:-?}: $result"
done
cat "$summary"
echo "fuzz: $n_ok passed, $n_failed failed"
exit $failed
