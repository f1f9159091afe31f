#!/bin/bash
# head.sh [BUILD_DIR] — what `crvq quantize --head / --embeddings` costs and
# gains, written to bench/results/head.md.
#
#   (a) quality: pg-dev (tied head, vocab 8192, dim 512) with every block
#       rtn 4-bit group 128 (close to lossless, so the head's effect shows),
#       calibration pg-calib.txt (NS windows of 512 tokens), perplexity on
#       wikitext2-test.txt (protocol stream, ctx 1024, the first WIN
#       windows), for the head left 16-bit and at q8 / q4 / q3 (group 128)
#       with GPTQ against the head's own Hessian and with RTN, and the
#       embedding at q8 / q4 (the tied head then reads it).
#   (b) speed: Llama-2-7B shapes, 2 CRVQ blocks (bench/make_synthetic_model,
#       crvq defaults, random codes) with the head f16 (float32 at run time),
#       q8 and q4 (group 128); `crvq bench` at 1 thread (its process CPU
#       time: decode_cpu_tps), median of REPS decodes of GEN tokens; MB read per token is
#       bench's decode_weight_bytes (linear layers as stored, the head in its
#       run-time form, one embedding row).
#
# Environment: CRVQ_SHARED (default ../shared), NS (32), WIN (40), GEN (32),
# REPS (3). Large files go to a temporary directory removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
crvq=$build/crvq mk=$build/bench/make_synthetic_model
shared=${CRVQ_SHARED:-../shared}
pg=$shared/models/pg-dev calib=$shared/data/pg-calib.txt eval=$shared/data/wikitext2-test.txt
tok7=$shared/models/llama2-tokenizer/tokenizer.model
for f in "$crvq" "$mk"; do [ -x "$f" ] || { echo "head.sh: $f not built" >&2; exit 1; }; done
for f in "$pg/config.json" "$calib" "$eval" "$tok7"; do [ -f "$f" ] || { echo "head.sh: $f not found" >&2; exit 1; }; done
ns=${NS:-32} win=${WIN:-40} gen=${GEN:-32} reps=${REPS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/crvq-head.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=bench/results/head.md
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
load_start=$(uptime)
# field JSON KEY[.KEY] FORMAT [SCALE]: the value (times SCALE) in FORMAT, or — when absent
field() {
    python3 -c '
import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("—" if v is None else format(v * float(sys.argv[4]) if len(sys.argv) > 4 else v, sys.argv[3]))' "$@"
}

{
    echo "# Quantized output head and embeddings"
    echo
    echo "Written by \`bench/head.sh\` at commit $commit on $(nproc) cores ($cpu), $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo "Load at the start: \`$load_start\`. The machine is shared: speeds are at 1 thread (CPU time of that"
    echo "thread), which other load disturbs less, but treat differences under ~5% as noise."
    echo
    echo "## pg-dev: perplexity (wikitext2-test, stream, ctx 1024, first $win windows)"
    echo
    echo "Blocks rtn 4-bit group 128; calibration $ns x 512 tokens of pg-calib.txt. *head rel loss*: GPTQ's"
    echo "‖(W − Ŵ) X‖² / ‖W X‖² on the head's calibration inputs. Bits per weight as the quantize report counts"
    echo "them (\`crvq_model_bpw_of\`): *all tensors* by the formula, *file* from the file size."
    echo
    echo "| head | embedding | ppl | head rel loss | bits/weight all tensors | bits/weight file | file MB |"
    echo "|---|---|---|---|---|---|---|"
} >"$work/md"

pg_row() { # LABEL-HEAD LABEL-EMB quantize-args...
    local lh=$1 le=$2; shift 2
    echo "head.sh: pg-dev head $lh embedding $le" >&2
    local q j p
    q=$(nice "$crvq" quantize -m "$pg" --calib "$calib" -o "$work/pg.gguf" --method rtn --bits 4 --group-size 128 \
        --nsamples "$ns" --seqlen 512 --quiet --json "$@" | tail -n1)
    j=$(nice "$crvq" perplexity -m "$work/pg.gguf" -f "$eval" --ctx 1024 --max-windows "$win" --json 2>/dev/null | tail -n1)
    echo "| $lh | $le | $(field "$j" ppl .4f) | $(field "$q" head.rel_loss .5f) | $(field "$q" tensor_bpw .4f) |" \
         "$(field "$q" total_bpw .4f) | $(field "$q" bytes .1f 1e-6) |" >>"$work/md"
}
pg_row "16-bit (tied)" "16-bit"
pg_row "q8 gptq" "16-bit" --head q8
pg_row "q4 gptq" "16-bit" --head q4
pg_row "q4 rtn" "16-bit" --head q4 --head-method rtn
pg_row "q3 gptq" "16-bit" --head q3
pg_row "q3 rtn" "16-bit" --head q3 --head-method rtn
pg_row "tied: reads the embedding" "q8 rtn" --embeddings q8
pg_row "tied: reads the embedding" "q4 rtn" --embeddings q4
pg_row "q4 gptq" "q4 rtn" --head q4 --embeddings q4

{
    echo
    echo "## Llama-2-7B shapes, 2 CRVQ blocks: decode at 1 thread"
    echo
    echo "\`make_synthetic_model --layers 2 --head H\` (crvq d 8, M 4, e 8, λ 0.02; random codes), \`crvq bench"
    echo "--prompt-len 8 --gen $gen --reps $reps --threads 1\`."
    echo
    echo "| head | head bits/weight | file MB | weight MB read per token | decode tok/s | ms/token | load (1 min) |"
    echo "|---|---|---|---|---|---|---|"
} >>"$work/md"
for h in f16 q8 q4; do
    echo "head.sh: 7B-shaped, head $h" >&2
    nice "$mk" -o "$work/syn.gguf" --tokenizer "$tok7" --layers 2 --head "$h" >/dev/null
    i=$("$crvq" info -m "$work/syn.gguf" --json | tail -n1)
    hb=$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(next((format(x["bpw"], ".4f") for x in d["layers"] if x["name"] == "output"), "16 (float32 in memory)"))' "$i")
    j=$(nice "$crvq" bench -m "$work/syn.gguf" --prompt-len 8 --gen "$gen" --reps "$reps" --threads 1 --json | tail -n1)
    tps=$(field "$j" decode_cpu_tps .2f)
    echo "| $h | $hb | $(( $(stat -c %s "$work/syn.gguf") / 1000000 )) | $(field "$j" decode_weight_bytes .1f 1e-6) |" \
         "$tps | $(python3 -c "print(f'{1000 / $tps:.1f}')") | $(cut -d' ' -f1 /proc/loadavg) |" >>"$work/md"
done
echo >>"$work/md"
echo "Load at the end: \`$(uptime)\`." >>"$work/md"
mkdir -p bench/results
cp "$work/md" "$out"
echo "head.sh: wrote $out" >&2
