#!/usr/bin/env bash
# threads.sh [BUILD_DIR] — `crvq bench` at 1 and 2 threads, wall clock, with
# the OpenMP runtime's waiting policies side by side (issue 13.2). Prints a
# markdown table (stdout) of the median and the range of RUNS separate runs
# of `crvq bench` per row (each itself the median of REPS repetitions), with
# the range of the 1-minute load average at the starts of its runs.
#
# Environment:
#   MODELS   "NAME=PATH ..." (default: pg-dev from CRVQ_SHARED)
#   WAITS    waiting settings of the 2-thread rows: "-" for crvq's own
#            (OMP_WAIT_POLICY=passive, src/cli/omp_wait.c), or a variable for
#            libgomp; default "- GOMP_SPINCOUNT=300000", the latter being
#            libgomp's default spin when nothing is set
#   RUNS (3) PROMPT (512) GEN (128) REPS (3)
#   PIN      CPU list for taskset (e.g. 0,1: two cores of a larger machine)
set -euo pipefail
cd "$(dirname "$0")/.."
crvq=${1:-build}/crvq
shared=${CRVQ_SHARED:-../shared}
models=${MODELS:-pg-dev=$shared/models/pg-dev}
waits=${WAITS:-- GOMP_SPINCOUNT=300000}
runs=${RUNS:-3} prompt=${PROMPT:-512} gen=${GEN:-128} reps=${REPS:-3}
pin=()
[ -n "${PIN:-}" ] && pin=(taskset -c "$PIN")
[ -x "$crvq" ] || { echo "threads.sh: $crvq not built" >&2; exit 1; }

# The rows take turns, run after run, so that a change of the machine's load
# spreads over all of them instead of falling on one.
work=$(mktemp -d "${TMPDIR:-/tmp}/crvq-threads.XXXXXX")
trap 'rm -rf "$work"' EXIT
rows=()
for m in $models; do
    rows+=("$m|1|-")
    for w in $waits; do rows+=("$m|2|$w"); done
done
for _ in $(seq "$runs"); do
    for i in "${!rows[@]}"; do
        IFS='|' read -r m t w <<<"${rows[$i]}"
        cut -d' ' -f1 /proc/loadavg >>"$work/$i.load"
        wait_env=()
        [ "$w" = - ] || wait_env=("$w")
        env "${wait_env[@]}" "${pin[@]}" "$crvq" bench -m "${m#*=}" --prompt-len "$prompt" --gen "$gen" --reps "$reps" \
            --threads "$t" --json | tail -n1 >>"$work/$i.json"
    done
done

echo "| model | threads | waiting | prefill tok/s | decode tok/s | decode CPU s / wall s | load |"
echo "|---|---|---|---|---|---|---|"
for i in "${!rows[@]}"; do
    IFS='|' read -r m t w <<<"${rows[$i]}"
    python3 - "${m%%=*}" "$t" "$w" "$work/$i.json" "$work/$i.load" <<'PY'
import json, statistics, sys
name, t, wait, runs, loads = sys.argv[1:6]
d = [json.loads(s) for s in open(runs)]
load = [float(s) for s in open(loads)]
def col(v, f):
    v = sorted(v)
    return f"{statistics.median(v):{f}} ({v[0]:{f}}–{v[-1]:{f}})"
busy = statistics.median(x["decode_cpu_seconds"] / x["decode_seconds"] for x in d)
print(f"| {name} | {t} | {'crvq default' if wait == '-' else wait} | {col([x['prefill_tps'] for x in d], '.0f')} "
      f"| {col([x['decode_tps'] for x in d], '.1f')} | {busy:.2f} | {min(load):.1f}–{max(load):.1f} |")
PY
done
