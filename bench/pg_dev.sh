#!/usr/bin/env bash
# pg_dev.sh — the whole-model results table: quantize ../shared/models/pg-dev
# with every method (calibration from pg-calib.txt), optionally fine-tune,
# and measure bits/weight, perplexity on WikiText-2 and C4 (stream protocol,
# ctx 1024), KL divergence to the original and top-1 agreement (WikiText-2),
# the time of each stage and decode speed. Rewrites bench/results/pg_dev.md
# after every configuration, so an interrupted run still leaves a table, and
# skips every step whose result file exists (rerunning continues a run).
#
#   bench/pg_dev.sh                          # every configuration below
#   CONFIGS="crvq vq-1" bench/pg_dev.sh      # a subset, by name
#   WINDOWS=0 bench/pg_dev.sh                # every evaluation window (slow on 2 cores)
#   DEVICE=cuda NSAMPLES=256 NVAL=32 SEQLEN=1024 FT_EPOCHS=10 bench/pg_dev.sh
#                                            # the authors' settings, quantized on a GPU
#   FRONTIER=bench/results/frontier.tsv bench/pg_dev.sh
#                                            # also put the points in that TSV and
#                                            # redraw its plots (bench/frontier.sh)
#
# Environment: CRVQ (binary), SHARED (../shared), NSAMPLES (32), NVAL (8),
# SEQLEN (512), WINDOWS (evaluation windows per file, 0 = all; default 40),
# DEVICE (cpu or cuda: where quantize and finetune run), FT_EPOCHS (block fine-tuning
# epochs of the configurations that fine-tune; 3), E2E_SAMPLES (64),
# E2E_SEQLEN (SEQLEN), E2E_EPOCHS (1), E2E_LR (1e-4), CONFIGS, WORK (scratch dir), OUT,
# FRONTIER (a TSV of rate-distortion points; unset: none written).
set -euo pipefail
cd "$(dirname "$0")/.."
CRVQ=${CRVQ:-build/crvq}
SHARED=${SHARED:-../shared}
NSAMPLES=${NSAMPLES:-32}
NVAL=${NVAL:-8}
SEQLEN=${SEQLEN:-512}
WINDOWS=${WINDOWS:-40}
DEVICE=${DEVICE:-cpu}
FT_EPOCHS=${FT_EPOCHS:-3}
E2E_SAMPLES=${E2E_SAMPLES:-64}
E2E_SEQLEN=${E2E_SEQLEN:-$SEQLEN}
E2E_EPOCHS=${E2E_EPOCHS:-1}
E2E_LR=${E2E_LR:-1e-4}
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

# name | quantize flags ("e2e:BASE" = end-to-end distillation of config BASE), most important first.
# Configurations without --no-finetune fine-tune each block for FT_EPOCHS epochs (unless they set --ft-epochs).
# The crvq-lambda* and crvq-M* rows are the points of issue 12's frontier, one at or just under each of
# llama.cpp's i-quant bit rates (1.648, 1.812, 2.086, 2.930 bits per linear weight on pg-dev).
all=(
  "crvq|--method crvq --no-finetune"
  "vq-1|--method vq -M 1 -e 8 --no-finetune"
  "rtn-2bit|--method rtn --bits 2 --group-size 128"
  "gptq-2bit|--method gptq --bits 2 --group-size 128"
  "crvq+block-ft|--method crvq"
  "crvq+block-ft+e2e|e2e:crvq+block-ft"
  "vq-1+block-ft|--method vq -M 1 -e 8"
  "vq-1+block-ft+e2e|e2e:vq-1+block-ft"
  "vq-2|--method vq -M 2 -e 8 --no-finetune"
  "crvq-M2|--method crvq -M 2 --no-finetune"
  "crvq-lambda0.1|--method crvq --lambda 0.1 --no-finetune"
  "crvq-sort|--method crvq --channel-order sort --no-finetune"
  "vq-1+block-ft-lr1e-4|--method vq -M 1 -e 8 --ft-lr 1e-4"
  "crvq-lambda0.1+block-ft|--method crvq --lambda 0.1"
  "crvq-lambda0.1+block-ft+e2e|e2e:crvq-lambda0.1+block-ft"
  "crvq-lambda0.16+block-ft|--method crvq --lambda 0.16"
  "crvq-lambda0.16+block-ft+e2e|e2e:crvq-lambda0.16+block-ft"
  "crvq-M2-lambda0.85+block-ft|--method crvq -M 2 --lambda 0.85"
  "crvq-M2-lambda0.85+block-ft+e2e|e2e:crvq-M2-lambda0.85+block-ft"
  "crvq-M3-lambda0.8+block-ft|--method crvq -M 3 --lambda 0.8"
  "crvq-M3-lambda0.8+block-ft+e2e|e2e:crvq-M3-lambda0.8+block-ft"
  "crvq-M3-lambda0.835+block-ft|--method crvq -M 3 --lambda 0.835"
  "crvq-M3-lambda0.835+block-ft+e2e|e2e:crvq-M3-lambda0.835+block-ft"
)
CONFIGS=${CONFIGS:-$(for c in "${all[@]}"; do printf '%s ' "${c%%|*}"; done)}
wflag=()
[ "$WINDOWS" != 0 ] && wflag=(--max-windows "$WINDOWS")

j() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1]).get(sys.argv[2], "nan"))' "$1" "$2"; }

# Each measurement is skipped when its result file exists, so an interrupted
# run continues where it stopped.
measure() { # name path
    [ -s "$WORK/$1.wiki.json" ] ||
        "$CRVQ" perplexity -m "$2" -f "$wiki" --ctx 1024 "${wflag[@]}" --kl-base "$model" --json 2>/dev/null >"$WORK/$1.wiki.json"
    [ -s "$WORK/$1.c4.json" ] ||
        "$CRVQ" perplexity -m "$2" -f "$c4" --ctx 1024 "${wflag[@]}" --json 2>/dev/null >"$WORK/$1.c4.json"
    # one core, timed in its CPU time: other jobs on the machine do not distort it
    [ -s "$WORK/$1.bench.json" ] ||
        "$CRVQ" bench -m "$2" --prompt-len 128 --gen 64 --reps 3 --threads 1 --json 2>/dev/null >"$WORK/$1.bench.json"
}

table() {
    {
        echo "# pg-dev: whole-model results"
        echo
        echo "Written by \`bench/pg_dev.sh\` on $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;"
        echo "load average when written: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: times are upper bounds)."
        echo "Calibration: $NSAMPLES windows of $SEQLEN tokens from pg-calib.txt (+ $NVAL validation windows for block fine-tuning), seed 0."
        echo "Quantization on \`--device $DEVICE\`$( [ "$DEVICE" = cuda ] && command -v nvidia-smi >/dev/null && echo " ($(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1))")."
        echo "Block fine-tuning (configurations without --no-finetune): Adam lr 3e-5 unless named, betas 0.9/0.95, at most $FT_EPOCHS epochs, patience 3."
        echo "End-to-end distillation: \`crvq finetune --device $DEVICE\`, $E2E_EPOCHS epoch(s) over $E2E_SAMPLES windows of $E2E_SEQLEN tokens of pg-calib.txt, lr $E2E_LR."
        echo "Perplexity: stream protocol, ctx 1024, $( [ "$WINDOWS" = 0 ] && echo "every window" || echo "the first $WINDOWS windows") of each file."
        echo "KLD: mean KL(original ‖ quantized) per scored token on those WikiText-2 windows; top-1: argmax agreement."
        echo "Bits: linear layers, docs/method.md formula, permutation counted. Time: quantization (+ fine-tuning) wall seconds."
        echo "Decode: \`crvq bench --threads 1\`, 64 tokens after a 128-token prompt, one core timed in its CPU time."
        echo
        echo "Ratio: WikiText-2 perplexity / the original's on the same windows (issue 12 compares llama.cpp's files by it)."
        echo
        echo "| model | bits/weight | WikiText-2 | ratio | C4 | KLD | top-1 | time s | decode tok/s |"
        echo "|---|---|---|---|---|---|---|---|---|"
        printf '| original (bf16 weights, f32 compute) | 16 | %.2f | 1 | %.2f | 0 | 1 | – | %.1f |\n' \
            "$(j "$WORK/original.wiki.json" ppl)" "$(j "$WORK/original.c4.json" ppl)" "$(j "$WORK/original.bench.json" decode_cpu_tps)"
        for c in "${all[@]}"; do
            name=${c%%|*}
            [ -f "$WORK/$name.bench.json" ] || continue
            printf '| %s (`%s`) | %.3f | %.2f | %.3f | %.2f | %.4f | %.3f | %.0f | %.1f |\n' "$name" "${c#*|}" \
                "$(j "$WORK/$name.quant.json" linear_bpw)" "$(j "$WORK/$name.wiki.json" ppl)" \
                "$(python3 -c 'import sys; print(float(sys.argv[1]) / float(sys.argv[2]))' "$(j "$WORK/$name.wiki.json" ppl)" "$(j "$WORK/original.wiki.json" ppl)")" \
                "$(j "$WORK/$name.c4.json" ppl)" \
                "$(j "$WORK/$name.wiki.json" kld)" "$(j "$WORK/$name.wiki.json" top1_agree)" \
                "$(j "$WORK/$name.quant.json" seconds)" "$(j "$WORK/$name.bench.json" decode_cpu_tps)"
        done
    } >"$OUT"
}

echo "pg_dev.sh: original model" >&2
[ -s "$WORK/original.wiki.json" ] ||
    "$CRVQ" perplexity -m "$model" -f "$wiki" --ctx 1024 "${wflag[@]}" --json 2>/dev/null >"$WORK/original.wiki.json"
[ -s "$WORK/original.c4.json" ] ||
    "$CRVQ" perplexity -m "$model" -f "$c4" --ctx 1024 "${wflag[@]}" --json 2>/dev/null >"$WORK/original.c4.json"
[ -s "$WORK/original.bench.json" ] ||
    "$CRVQ" bench -m "$model" --prompt-len 128 --gen 64 --reps 3 --threads 1 --json 2>/dev/null >"$WORK/original.bench.json"

for c in "${all[@]}"; do
    name=${c%%|*}
    flags=${c#*|}
    case " $CONFIGS " in *" $name "*) ;; *) continue ;; esac
    echo "pg_dev.sh: $name" >&2
    if [ ! -s "$WORK/$name.quant.json" ]; then
    case $flags in
    e2e:*)
        base=${flags#e2e:}
        "$CRVQ" finetune -m "$WORK/$base.gguf" --teacher "$model" --data "$calib" -o "$WORK/$name.gguf" \
            --nsamples "$E2E_SAMPLES" --nval "$NVAL" --seqlen "$E2E_SEQLEN" --epochs "$E2E_EPOCHS" --lr "$E2E_LR" --device "$DEVICE" \
            --quiet --json >"$WORK/$name.ft.json"
        # bits as the base; time = base quantization + distillation
        python3 - "$WORK/$base.quant.json" "$WORK/$name.ft.json" >"$WORK/$name.quant.json" <<'PY'
import json, sys
q = json.loads(open(sys.argv[1]).read().splitlines()[-1])
f = json.loads(open(sys.argv[2]).read().splitlines()[-1])
print(json.dumps({"linear_bpw": q["linear_bpw"], "seconds": q["seconds"] + f["seconds"]}))
PY
        ;;
    *)
        ft=()
        case " $flags " in *" --no-finetune "* | *" --ft-epochs "*) ;; *) ft=(--ft-epochs "$FT_EPOCHS") ;; esac
        # shellcheck disable=SC2086
        "$CRVQ" quantize -m "$model" --calib "$calib" -o "$WORK/$name.gguf" $flags "${ft[@]}" --device "$DEVICE" \
            --nsamples "$NSAMPLES" --nval "$NVAL" --seqlen "$SEQLEN" --quiet --json >"$WORK/$name.quant.json"
        ;;
    esac
    fi
    measure "$name" "$WORK/$name.gguf"
    table
done
table
cat "$OUT"

# The points of this run's configurations as rows of $FRONTIER, replacing
# its rows of the same curve, setting and text (a rerun updates them). The
# curve is the configuration's method and stages and how it was calibrated:
# "crvq-lambda0.1+block-ft+e2e" on the GPU at 256x1024 is a point of
# "crvq + block FT + distillation (cuda, 256x1024)".
if [ -n "${FRONTIER:-}" ]; then
    names=()
    for c in "${all[@]}"; do
        name=${c%%|*}
        case " $CONFIGS " in *" $name "*) [ -s "$WORK/$name.c4.json" ] && names+=("$name") ;; esac
    done
    python3 - "$FRONTIER" "$WORK" "$OUT" "$DEVICE" "${NSAMPLES}x$SEQLEN" "$WINDOWS" "$E2E_EPOCHS" "${names[@]}" <<'PY'
import json, os, sys
path, work, src, device, calib, windows, e2e_epochs, *names = sys.argv[1:]
last = lambda f: json.loads(open(os.path.join(work, f)).read().splitlines()[-1])
header = "curve\tsetting\tbits\ttext\twindows\tppl\toriginal\tlabel\tsource"
stage = {"block-ft": "block FT", "e2e": "distillation" + ("" if e2e_epochs == "1" else f" {e2e_epochs} epochs")}
rows = {}
for name in names:
    method, *stages = name.split("+")
    curve = " + ".join([method.split("-")[0]] + [stage.get(s, s) for s in stages]) + f" ({device}, {calib})"
    bits = last(f"{name}.quant.json")["linear_bpw"]
    for text, key in (("wikitext2", "wiki"), ("c4", "c4")):
        ppl, orig = last(f"{name}.{key}.json")["ppl"], last(f"original.{key}.json")["ppl"]
        rows[(curve, name, text)] = [curve, name, f"{bits:.3f}", text, windows if windows != "0" else "all",
                                     f"{ppl:.2f}", f"{orig:.2f}", "-", src]
lines = open(path).read().splitlines() if os.path.exists(path) else [header]
key = lambda f: (f[0], f[1], f[3]) if len(f) > 3 else None
kept = [l for l in lines if l.startswith("#") or key(l.split("\t")) not in rows]
with open(path + ".tmp", "w") as f:
    f.write("\n".join(kept + ["\t".join(r) for r in rows.values()]) + "\n")
os.replace(path + ".tmp", path)
print(f"pg_dev.sh: {len(rows)} rows in {path}", file=sys.stderr)
PY
    TSV=$FRONTIER bench/frontier.sh
fi
