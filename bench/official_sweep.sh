#!/usr/bin/env bash
# official_sweep.sh — the levers of issue 12 on the official synthetic layer
# (../shared/bench/official-synthetic: W 4096x11008, H 11008x11008, the
# layer the authors' CRVQ code was timed on): each setting runs CRVQ for
# ROUNDS rounds without early stopping, and the table gives the relative
# loss after the initialisation and after rounds 1, 4, 8, 12 and ROUNDS, the
# first round at or below the authors' 8-round loss (0.020378), the method
# seconds up to round 8, and the bits per weight.
#
#   bash bench/official_sweep.sh [CRVQ_BIN]
#
# Environment:
#   DEVICE     cuda (default) or cpu
#   DATA       where W.npy and H.npy are (made there when missing; default /tmp/official-synthetic)
#   SYNTH_DIR  folder of synth_gen.py and hashes.json (default ../shared/bench/official-synthetic)
#   LOGS       each run's output (default DATA/sweep-logs)
#   RESULT     the table (default bench/results/quality_synthetic.md)
#   ROUNDS     rounds per setting (default 40)
#   SETTINGS   a file of lines "name flags..." (default: the list below)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
CRVQ=${1:-$here/build/crvq}
DEVICE=${DEVICE:-cuda}
DATA=${DATA:-/tmp/official-synthetic}
SYNTH_DIR=${SYNTH_DIR:-$here/../shared/bench/official-synthetic}
LOGS=${LOGS:-$DATA/sweep-logs}
RESULT=${RESULT:-$here/bench/results/quality_synthetic.md}
ROUNDS=${ROUNDS:-40}
mkdir -p "$DATA" "$LOGS"
. "$here/bench/official_layer.sh"
official_layer "$DATA" "$SYNTH_DIR" "$LOGS"

# name, then the flags on top of CRVQ's defaults (d 8, M 4, e 8, λ 0.02,
# hessian importance, partition order, 20 k-means iterations, 1 CG step).
default_settings() {
    cat <<'LIST'
defaults
seed1 --seed 1
seed2 --seed 2
kmeans100 --kmeans-iters 100
kmeans1000 --kmeans-iters 1000
cg4 --cg-iters 4
cg16 --cg-iters 16
kmeans100_cg4 --kmeans-iters 100 --cg-iters 4
kmeans1000_cg4 --kmeans-iters 1000 --cg-iters 4
order_sort --channel-order sort
importance_magnitude --importance magnitude
LIST
}
settings=$(if [ -n "${SETTINGS:-}" ]; then cat "$SETTINGS"; else default_settings; fi)

while read -r name flags; do
    [ -n "$name" ] || continue
    # shellcheck disable=SC2086 # flags is a list of words
    "$CRVQ" quantize-matrix --weight "$DATA/W.npy" --hessian "$DATA/H.npy" --method crvq --device "$DEVICE" \
        --max-rounds "$ROUNDS" --tol 0 $flags --json >"$LOGS/$name.out"
    echo "$flags" >"$LOGS/$name.flags"
    echo "$name: $(grep '^relative loss' "$LOGS/$name.out")" >&2
done <<<"$settings"

{
    echo "device=$DEVICE"
    echo "commit=${COMMIT:-$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
    echo "host=$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    [ "$DEVICE" = cuda ] && echo "gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
} >"$LOGS/machine.txt"
python3 "$here/bench/official_sweep_table.py" "$LOGS" <<<"$settings" >"$RESULT"
echo "wrote $RESULT" >&2
