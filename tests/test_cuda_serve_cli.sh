#!/usr/bin/env bash
# test_cuda_serve_cli.sh — `crvq perplexity` and `crvq generate` with --device
# cuda against the CPU on the shared models:
# 1. pg-dev as stored (bf16), a CRVQ file and an RTN 2-bit file made here
#    (small calibration, no fine-tuning: the values only need to be a real
#    quantized model's): WikiText-2 perplexity on 8 windows of 256 tokens
#    within 1% of the CPU's (issue 11's criterion); the same weights on both
#    devices, so the difference is float32 rounding alone (test_cuda_serve.c
#    bounds it per logit);
# 2. stories260K (float32): greedy generation of 24 tokens; the GPU's first
#    token must be the CPU's, and the common prefix is printed (later tokens
#    may part where two logits are within rounding of each other).
# Skips (77) without a GPU or without ../shared's models. CRVQ_TEST_DEVICE=cpu
# runs the script's own logic with the CPU on both sides.
set -u
crvq=${1:-${CRVQ_BIN:-crvq}}
shared=${CRVQ_SHARED:-$(dirname "$0")/../../shared}
device=${CRVQ_TEST_DEVICE:-cuda}
pg=$shared/models/pg-dev
st=$shared/models/stories260K
calib=$shared/data/pg-calib.txt
text=$shared/data/wikitext2-test.txt
for f in "$pg/model.safetensors" "$st/stories260K.bin" "$st/tok512.bin" "$calib" "$text"; do
    [ -e "$f" ] || { echo "skip: no $f"; exit 77; }
done
"$crvq" quantize-matrix --synthetic 32x128 --method crvq --device "$device" >/dev/null 2>&1 || { echo "skip: no GPU"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q=(quantize -m "$pg" --calib "$calib" --nsamples 16 --nval 0 --seqlen 128 --no-finetune --quiet)
"$crvq" "${q[@]}" --method crvq --max-rounds 3 -o "$tmp/crvq.gguf" >/dev/null || { echo "FAIL: quantize crvq"; exit 1; }
"$crvq" "${q[@]}" --method rtn --bits 2 -o "$tmp/rtn2.gguf" >/dev/null || { echo "FAIL: quantize rtn"; exit 1; }
rc=0
for model in "$pg" "$tmp/crvq.gguf" "$tmp/rtn2.gguf"; do
    for dev in cpu "$device"; do
        "$crvq" perplexity -m "$model" -f "$text" --ctx 256 --max-windows 8 --device "$dev" --json \
            >"$tmp/ppl.$dev" 2>"$tmp/err.$dev" || { echo "FAIL: perplexity --device $dev of $model"; cat "$tmp/err.$dev"; exit 1; }
    done
    python3 - "$tmp/ppl.cpu" "$tmp/ppl.$device" "$model" <<'PY' || rc=1
import json, sys
a, b = (json.loads(open(p).read().splitlines()[-1]) for p in sys.argv[1:3])
rel = b["ppl"] / a["ppl"] - 1
print(f"{sys.argv[3].split('/')[-1]}: perplexity cpu {a['ppl']:.4f} ({a['seconds']:.2f} s), "
      f"{b['device']} {b['ppl']:.4f} ({b['seconds']:.2f} s): {rel:+.4%}")
sys.exit(0 if abs(rel) <= 0.01 else 1)
PY
done
g=(generate -m "$st/stories260K.bin" --tokenizer "$st/tok512.bin" -p "Once upon a time" -n 24 --temp 0 --json)
"$crvq" "${g[@]}" --device cpu >"$tmp/gen.cpu" || { echo "FAIL: generate on the CPU"; exit 1; }
"$crvq" "${g[@]}" --device "$device" >"$tmp/gen.gpu" || { echo "FAIL: generate --device $device"; exit 1; }
python3 - "$tmp/gen.cpu" "$tmp/gen.gpu" <<'PY' || rc=1
import json, sys
a, b = (json.loads(open(p).read().splitlines()[-1])["ids"] for p in sys.argv[1:3])
k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
print(f"stories260K greedy: {k} of {len(a)} tokens as on the CPU")
sys.exit(0 if k >= 1 else 1)
PY
[ "$rc" = 0 ] && echo "test_cuda_serve_cli: ok"
exit "$rc"
