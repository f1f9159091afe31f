#!/usr/bin/env bash
# pg_dev.sh — the whole-model results table: quantize ../shared/models/pg-dev
# with every method (calibration from pg-calib.txt) and measure bits/weight,
# perplexity on WikiText-2 and C4 (stream protocol, ctx 1024), KL divergence
# to the original and top-1 agreement (WikiText-2), quantization time and
# decode speed. Writes bench/results/pg_dev.md.
#
#   bench/pg_dev.sh                       # defaults below
#   WINDOWS=0 bench/pg_dev.sh             # every window (slow on 2 cores)
#   CONFIGS="crvq-default vq-1" bench/pg_dev.sh
#
# Environment: CRVQ (binary), SHARED (../shared), NSAMPLES (64), SEQLEN (512),
# WINDOWS (evaluation windows per file, 0 = all; default 100), FINETUNE
# (0/1, default 0), CONFIGS (names below), WORK (scratch dir), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
CRVQ=${CRVQ:-build/crvq}
SHARED=${SHARED:-../shared}
NSAMPLES=${NSAMPLES:-64}
SEQLEN=${SEQLEN:-512}
WINDOWS=${WINDOWS:-100}
FINETUNE=${FINETUNE:-0}
WORK=${WORK:-/tmp/crvq-pg-dev}
OUT=${OUT:-bench/results/pg_dev.md}
model=$SHARED/models/pg-dev
calib=$SHARED/data/pg-calib.txt
wiki=$SHARED/data/wikitext2-test.txt
c4=$SHARED/data/c4-val-1100.txt
for f in "$model/model.safetensors" "$calib" "$wiki" "$c4"; do
    [ -f "$f" ] || { echo "pg_dev.sh: $f not found" >&2; exit 1; }
done
[ -x "$CRVQ" ] || { echo "pg_dev.sh: $CRVQ not found; build first" >&2; exit 1; }
mkdir -p "$WORK" "$(dirname "$OUT")"

# name | quantize flags
all=(
  "rtn-2bit|--method rtn --bits 2 --group-size 128"
  "gptq-2bit|--method gptq --bits 2 --group-size 128"
  "vq-1|--method vq -M 1 -e 8"
  "vq-2|--method vq -M 2 -e 8"
  "crvq-default|--method crvq"
  "crvq-M2|--method crvq -M 2"
  "crvq-lambda0.05|--method crvq --lambda 0.05"
  "crvq-lambda0.1|--method crvq --lambda 0.1"
)
CONFIGS=${CONFIGS:-$(for c in "${all[@]}"; do printf '%s ' "${c%%|*}"; done)}
ft=(--no-finetune)
[ "$FINETUNE" = 1 ] && ft=()
wflag=()
[ "$WINDOWS" != 0 ] && wflag=(--max-windows "$WINDOWS")

j() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }

measure() { # name path
    "$CRVQ" perplexity -m "$2" -f "$wiki" --ctx 1024 "${wflag[@]}" --kl-base "$model" --json 2>/dev/null >"$WORK/$1.wiki.json"
    "$CRVQ" perplexity -m "$2" -f "$c4" --ctx 1024 "${wflag[@]}" --json 2>/dev/null >"$WORK/$1.c4.json"
    "$CRVQ" bench -m "$2" --prompt-len 128 --gen 64 --reps 3 --json 2>/dev/null >"$WORK/$1.bench.json"
}

echo "pg_dev.sh: original model" >&2
"$CRVQ" perplexity -m "$model" -f "$wiki" --ctx 1024 "${wflag[@]}" --json 2>/dev/null >"$WORK/original.wiki.json"
"$CRVQ" perplexity -m "$model" -f "$c4" --ctx 1024 "${wflag[@]}" --json 2>/dev/null >"$WORK/original.c4.json"
"$CRVQ" bench -m "$model" --prompt-len 128 --gen 64 --reps 3 --json 2>/dev/null >"$WORK/original.bench.json"

for c in "${all[@]}"; do
    name=${c%%|*}
    flags=${c#*|}
    case " $CONFIGS " in *" $name "*) ;; *) continue ;; esac
    echo "pg_dev.sh: $name" >&2
    # shellcheck disable=SC2086
    "$CRVQ" quantize -m "$model" --calib "$calib" -o "$WORK/$name.gguf" $flags --nsamples "$NSAMPLES" \
        --seqlen "$SEQLEN" "${ft[@]}" --quiet --json >"$WORK/$name.quant.json"
    measure "$name" "$WORK/$name.gguf"
done

{
    echo "# pg-dev: whole-model results"
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores),"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Calibration: $NSAMPLES windows of $SEQLEN tokens"
    echo "from pg-calib.txt (seed 0), fine-tuning $( [ "$FINETUNE" = 1 ] && echo on || echo off)."
    echo "Perplexity: stream protocol, ctx 1024, $( [ "$WINDOWS" = 0 ] && echo "every window" || echo "the first $WINDOWS windows") of each file."
    echo "KLD: mean KL(original ‖ quantized) per token on the same WikiText-2 windows; top-1: argmax agreement."
    echo "Bits: linear layers, method page formula (permutation counted). Decode: \`crvq bench\`, 64 tokens after 128."
    echo
    echo "| method | bits/weight | WikiText-2 | C4 | KLD | top-1 | quantize s | decode tok/s |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '| original (bf16 weights, f32 compute) | 16 | %.2f | %.2f | – | – | – | %.1f |\n' \
        "$(j "$WORK/original.wiki.json" ppl)" "$(j "$WORK/original.c4.json" ppl)" "$(j "$WORK/original.bench.json" decode_tps)"
    for c in "${all[@]}"; do
        name=${c%%|*}
        [ -f "$WORK/$name.quant.json" ] || continue
        case " $CONFIGS " in *" $name "*) ;; *) continue ;; esac
        printf '| %s (`%s`) | %.3f | %.2f | %.2f | %.4f | %.3f | %.0f | %.1f |\n' "$name" "${c#*|}" \
            "$(j "$WORK/$name.quant.json" linear_bpw)" "$(j "$WORK/$name.wiki.json" ppl)" "$(j "$WORK/$name.c4.json" ppl)" \
            "$(j "$WORK/$name.wiki.json" kld)" "$(j "$WORK/$name.wiki.json" top1_agree)" \
            "$(j "$WORK/$name.quant.json" seconds)" "$(j "$WORK/$name.bench.json" decode_tps)"
    done
} >"$OUT"
cat "$OUT"
