#!/usr/bin/env bash
# forward.sh — prefill and decode speed of the float32 forward pass on the
# shared models, and prefill's fraction of this machine's sgemm speed.
# Each row has wall-clock tok/s and tok/s in the process's CPU time: at one
# thread (`crvq bench --threads 1`) the latter is the speed of one core that
# other jobs on a shared machine do not distort; THREADS=2 adds rows with two
# threads. Writes bench/results/forward.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CRVQ=${CRVQ:-build/crvq}
SHARED=${SHARED:-../shared}
THREADS=${THREADS:-1}
OUT=${OUT:-bench/results/forward.md}
[ -x "$CRVQ" ] || { echo "forward.sh: $CRVQ not found; build first" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

runs=(
  "stories260K|$SHARED/models/stories260K/stories260K.bin|512"
  "pg-dev|$SHARED/models/pg-dev|512"
  "pg-dev|$SHARED/models/pg-dev|1024"
)
{
    echo "# Forward pass speed"
    echo
    echo "Written by \`bench/forward.sh\` on $(date -u +%Y-%m-%d): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
    echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start. Prefill: one batch of N seeded"
    echo "tokens; decode: 128 tokens through the KV cache after it (median of 3). sgemm: cblas_sgemm on this machine"
    echo "at N x dim x hidden. tok/s and GFLOP/s in wall-clock time; *CPU* columns in the process's CPU time."
    echo
    echo "| model | threads | prompt | prefill tok/s | prefill tok/s CPU | prefill GFLOP/s | sgemm GFLOP/s | fraction | decode tok/s | decode tok/s CPU |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for t in $(seq 1 "$THREADS"); do
        for r in "${runs[@]}"; do
            IFS='|' read -r name path n <<<"$r"
            [ -e "$path" ] || continue
            "$CRVQ" bench -m "$path" --prompt-len "$n" --gen 128 --reps 3 --threads "$t" --json 2>/dev/null | tail -n 1 >"$tmp/b.json"
            python3 - "$tmp/b.json" "$name" "$t" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read())
print(f"| {sys.argv[2]} | {sys.argv[3]} | {d['prompt_len']} | {d['prefill_tps']:.0f} | {d['prefill_cpu_tps']:.0f} | {d['prefill_gflops']:.1f} "
      f"| {d['sgemm_gflops']:.1f} | {100 * d['prefill_sgemm_fraction']:.0f}% | {d['decode_tps']:.1f} | {d['decode_cpu_tps']:.1f} |")
PY
        done
    done
} >"$OUT"
cat "$OUT"
