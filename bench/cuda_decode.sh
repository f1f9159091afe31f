#!/usr/bin/env bash
# cuda_decode.sh — serving on the GPU from compressed weights (issue 11,
# measurement 4), logs and JSON lines into LOGS:
#   1. a Llama-2-7B-shaped file of all 32 blocks at CRVQ's defaults
#      (bench/make_synthetic_model: random codes, fp16 embedding and head),
#      and the same at RTN 2-bit (group 128): `crvq bench --device cuda`,
#      decode tok/s, the weight bytes one token reads and their rate, prefill;
#   2. bench/cuda_gemv: the card's device-to-device copy rate, cuBLAS fp16
#      GEMV decoding of the same 7B shapes (all 32 blocks and the head), and
#      crvq's one-token kernels on each shape beside cuBLAS's;
#   3. pg-dev perplexity (WikiText-2, PPL_WINDOWS windows of 1024 tokens) on
#      the CPU of the same machine and on the GPU: seconds and tokens/s.
#
#   bash bench/cuda_decode.sh [BUILD_DIR]
#
# Environment: CRVQ_SHARED (../shared), LOGS (/tmp/cuda_decode), GEN (64),
# REPS (3), PPL_WINDOWS (40), KINDS ("crvq rtn").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
crvq=$build/crvq mk=$build/bench/make_synthetic_model gemv=$build/bench/cuda_gemv
shared=${CRVQ_SHARED:-$here/../shared}
LOGS=${LOGS:-/tmp/cuda_decode}
gen=${GEN:-64} reps=${REPS:-3} windows=${PPL_WINDOWS:-40} kinds=${KINDS:-crvq rtn}
tok7=$shared/models/llama2-tokenizer/tokenizer.model
mkdir -p "$LOGS"
work=$(mktemp -d "${TMPDIR:-/tmp}/crvq-cuda-decode.XXXXXX")
trap 'rm -rf "$work"' EXIT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$LOGS/gpu.txt" 2>&1 || true

for kind in $kinds; do
    "$mk" -o "$work/7b.gguf" --tokenizer "$tok7" --kind "$kind" >"$LOGS/make_$kind.log" 2>&1
    "$crvq" info -m "$work/7b.gguf" --json | tail -n1 >"$LOGS/info_$kind.json"
    for p in 16 512; do # decode after a short prompt; prefill of 512
        "$crvq" bench -m "$work/7b.gguf" --device cuda --prompt-len $p --gen "$gen" --reps "$reps" --json \
            >"$LOGS/bench_${kind}_p$p.out" 2>"$LOGS/bench_${kind}_p$p.err"
        tail -n1 "$LOGS/bench_${kind}_p$p.out"
    done
    rm -f "$work/7b.gguf"
done

"$gemv" --layers 32 --reps 20 | tee "$LOGS/cuda_gemv.txt"

text=$shared/data/wikitext2-test.txt
for dev in cpu cuda; do
    "$crvq" perplexity -m "$shared/models/pg-dev" -f "$text" --ctx 1024 --max-windows "$windows" --device $dev --json \
        >"$LOGS/ppl_pgdev_$dev.out" 2>"$LOGS/ppl_pgdev_$dev.err"
    tail -n1 "$LOGS/ppl_pgdev_$dev.out"
done
