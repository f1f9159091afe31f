#!/usr/bin/env bash
# cuda_pipeline.sh — `crvq quantize --device cuda` end to end, where the
# calibration forward passes run on the GPU (src/cuda/cuda_block.c):
#   1. pg-dev, CRVQ at the authors' calibration (256 windows of 1024 tokens
#      + 32 for validation), no block fine-tuning; WikiText-2 and C4
#      perplexity of the result (40 windows of 1024 tokens each);
#   2. a Llama-2-7B-shaped checkpoint of LAYERS blocks (bench/make_hf_checkpoint,
#      random bf16 weights), CRVQ at 128 x 512, no validation set, no
#      fine-tuning: seconds per block for each stage, projected to 32 blocks;
#   8b: the same with a Llama-3-8B-shaped checkpoint (14336-wide feed-forward,
#      GQA 32/8, the 128k-token tokenizer.json of ../shared);
#   pgdev_ft, 7b_ft, 8b_ft: the same with block fine-tuning on the GPU
#      (src/cuda/cuda_ft.c; 10 epochs, the authors' and crvq's default; the
#      7B-shaped run keeps --nval 0, so it validates on its training windows).
# Each run's JSON line (forward_seconds, layers_seconds, ft_seconds,
# propagate_seconds, seconds, peak_rss_bytes) and log go to LOGS, and the
# GPU's memory in use, polled by nvidia-smi every 100 ms (its peak: the
# table's "peak GPU MiB"); a summary table is printed last.
#
#   bash bench/cuda_pipeline.sh [BUILD_DIR]
#
# Environment: CRVQ_SHARED (../shared), LOGS (default /tmp/cuda_pipeline),
# LAYERS (2), RUNS ("pgdev 7b pgdev_ft 7b_ft"), PPL_WINDOWS (40).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
crvq=$build/crvq mk=$build/bench/make_hf_checkpoint
shared=${CRVQ_SHARED:-$here/../shared}
LOGS=${LOGS:-/tmp/cuda_pipeline}
layers=${LAYERS:-2} runs=${RUNS:-pgdev 7b pgdev_ft 7b_ft} windows=${PPL_WINDOWS:-40}
mkdir -p "$LOGS"
calib=$shared/data/pg-calib.txt

# field FILE KEY: KEY of the JSON object on FILE's last line
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }

# quantize NAME ARGS...: one quantize run; its log and JSON into LOGS, wall
# milliseconds and the peak GPU memory in use (MiB) beside them.
quantize() {
    local name=$1 t0 poll
    shift
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$LOGS/$name.gpumem" 2>/dev/null &
    poll=$!
    t0=$(date +%s%N)
    "$crvq" quantize "$@" --method crvq --device cuda --json >"$LOGS/$name.out" 2>"$LOGS/$name.err" ||
        { kill "$poll"; echo "cuda_pipeline.sh: $name failed:" >&2; tail -5 "$LOGS/$name.err" >&2; exit 1; }
    echo "$(((($(date +%s%N) - t0) / 1000000)))" >"$LOGS/$name.wall_ms"
    kill "$poll" 2>/dev/null || true
    sort -n "$LOGS/$name.gpumem" | tail -1 >"$LOGS/$name.gpu_peak_mib"
}

ppl() { # ppl FILE TEXT NAME
    "$crvq" perplexity -m "$1" -f "$2" --ctx 1024 --max-windows "$windows" --json >"$LOGS/$3.out" 2>"$LOGS/$3.err"
    field "$LOGS/$3.out" ppl
}

summary() { # summary NAME BLOCKS
    local f=$LOGS/$1.out b=$2
    python3 - "$f" "$b" "$(cat "$LOGS/$1.wall_ms")" "$(cat "$LOGS/$1.gpu_peak_mib" 2>/dev/null || echo 0)" <<'PY'
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); b = int(sys.argv[2]); wall = int(sys.argv[3]) / 1e3
per = lambda k: j[k] / b
gpu = sys.argv[4].strip() or "0"
print(f"| {sys.argv[1].rsplit('/',1)[-1][:-4]} | {j['nsamples']}x{j['seqlen']} | {b} | {j['seconds']:.1f} | {wall:.1f} | "
      f"{per('forward_seconds'):.2f} | {per('layers_seconds'):.2f} | {per('ft_seconds'):.2f} | "
      f"{per('propagate_seconds'):.2f} | {j['seconds'] / b:.2f} | {32 * j['seconds'] / b / 60:.1f} | "
      f"{j['mean_rel_loss']:.4f} | {j['peak_rss_bytes'] / 1e9:.2f} | {gpu} |")
PY
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$LOGS/gpu.txt" || true
rows=()
for r in $runs; do
    ft=--no-finetune
    case $r in *_ft) ft="--ft-epochs 10" ;; esac
    case $r in
    pgdev | pgdev_ft)
        # shellcheck disable=SC2086
        quantize "$r" -m "$shared/models/pg-dev" --calib "$calib" --nsamples 256 --nval 32 --seqlen 1024 $ft \
            -o "$LOGS/$r.gguf"
        rows+=("$(summary "$r" 6)")
        echo "$r: WikiText-2 $(ppl "$LOGS/$r.gguf" "$shared/data/wikitext2-test.txt" "${r}_wt2")," \
            "C4 $(ppl "$LOGS/$r.gguf" "$shared/data/c4-val-1100.txt" "${r}_c4") (ctx 1024, $windows windows)" |
            tee "$LOGS/${r}_ppl.txt"
        rm -f "$LOGS/$r.gguf"
        ;;
    7b | 7b_ft | 8b | 8b_ft)
        preset=llama2-7b tok=$shared/models/llama2-tokenizer/tokenizer.model
        case $r in 8b*) preset=llama3-8b tok=$shared/models/llama3-tokenizer/tokenizer.json.gz ;; esac
        ck=$LOGS/$preset-$layers
        [ -f "$ck/config.json" ] || "$mk" --preset $preset -o "$ck" --tokenizer "$tok" --layers "$layers" \
            >"$LOGS/mk-$preset.log" 2>&1
        # shellcheck disable=SC2086
        quantize "$r" -m "$ck" --calib "$calib" --nsamples 128 --nval 0 --seqlen 512 $ft -o "$LOGS/$r.gguf"
        rows+=("$(summary "$r" "$layers")")
        rm -f "$LOGS/$r.gguf"
        ;;
    esac
done
rm -rf "$LOGS/llama2-7b-$layers"
echo "| run | calibration | blocks | quantize s | wall s | forward+Hessians s/block | layers s/block | block FT s/block | propagation s/block | s/block | 32 blocks, min | mean rel loss | peak RSS GB | peak GPU MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
