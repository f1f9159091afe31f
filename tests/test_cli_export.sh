#!/bin/bash
# test_cli_export.sh CRVQ — `crvq export` on stories260K quantized with rtn
# (and crvq, and the plain llama2.c checkpoint): the f32 folder loads back in crvq with
# the same perplexity (nll within 1e-6 relative) and KL(container ‖ folder)
# below 1e-9 nats; the bf16 folder (each weight within 2^-9 relative) within
# 1% nll; an existing non-empty DIR is refused and left untouched, a bad
# input is a clear error and nothing appears; --json's last line counts the files.
set -u
crvq=$1 s=${CRVQ_SHARED:-../shared} fail=0
d=$s/models/stories260K
model=$d/stories260K.bin tok=$d/tok512.bin
calib=$s/data/tinystories-val-1k.txt
for f in "$model" "$tok" "$calib"; do [ -f "$f" ] || { echo "SKIP: $f is absent"; exit 77; }; done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-export.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"
ppl() { "$crvq" perplexity -m "$1" --tokenizer "$tok" -f "$calib" --ctx 128 --max-windows 4 --json "${@:2}" 2>/dev/null | tail -1; }

"$crvq" quantize -m "$model" --tokenizer "$tok" --calib "$calib" --method rtn --bits 4 --group-size 4 \
    --nsamples 4 --seqlen 64 --quiet -o "$tmp/q.gguf" >/dev/null || { echo "FAIL: quantize"; exit 1; }
expect 0 export --help
grep -q -- "--dtype" "$tmp/out" || { echo "FAIL: --help"; fail=1; }
expect 0 export -m "$tmp/q.gguf" -o "$tmp/f32" --dtype f32 --json
json "$tmp/out" "d['files'] == ['model.safetensors', 'config.json'] and d['n_tensors'] == 47 and d['dtype'] == 'f32' and d['bytes'] > d['tensor_bytes'] > 47 * 4"
[ "$(stat -c %s "$tmp/f32/model.safetensors")" = "$(tail -1 "$tmp/out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tensor_bytes"])')" ] ||
    { echo "FAIL: tensor_bytes is not the file size"; fail=1; }
ls -d "$tmp"/f32.export.* 2>/dev/null && { echo "FAIL: temporary directory left"; fail=1; }
expect 0 export -m "$tmp/q.gguf" -o "$tmp/bf16/"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["torch_dtype"]=="bfloat16" and c["tie_word_embeddings"] and c["num_key_value_heads"]==4 and c["rms_norm_eps"]==1e-05, c' \
    "$tmp/bf16/config.json" || fail=1
ppl "$tmp/q.gguf" >"$tmp/p0"
ppl "$tmp/f32" --kl-base "$tmp/q.gguf" >"$tmp/p1"
ppl "$tmp/bf16" >"$tmp/p2"
python3 - "$tmp/p0" "$tmp/p1" "$tmp/p2" <<'PY' || fail=1
import json, sys
q, f, b = (json.load(open(p)) for p in sys.argv[1:])
assert abs(f['nll'] - q['nll']) <= 1e-6 * q['nll'], (q['nll'], f['nll'])
assert f['kld'] < 1e-9 and f['top1_agree'] == 1, f
assert abs(b['nll'] - q['nll']) <= 1e-2 * q['nll'], (q['nll'], b['nll'])
PY

# a crvq container (permuted VQ layers) likewise
"$crvq" quantize -m "$model" --tokenizer "$tok" --calib "$calib" --method crvq -d 4 --nsamples 4 --seqlen 64 \
    --no-finetune --quiet -o "$tmp/c.gguf" >/dev/null || { echo "FAIL: quantize crvq"; exit 1; }
expect 0 export -m "$tmp/c.gguf" -o "$tmp/c32" --dtype f32
ppl "$tmp/c.gguf" >"$tmp/p0"
ppl "$tmp/c32" --kl-base "$tmp/c.gguf" >"$tmp/p1"
python3 - "$tmp/p0" "$tmp/p1" <<'PY' || fail=1
import json, sys
q, f = (json.load(open(p)) for p in sys.argv[1:])
assert abs(f['nll'] - q['nll']) <= 1e-6 * q['nll'] and f['kld'] < 1e-9, (q, f)
PY

# the plain checkpoint exports as well, and the folder re-exports to the same bytes
expect 0 export -m "$model" --tokenizer "$tok" -o "$tmp/plain" --dtype f32
expect 0 export -m "$tmp/plain" -o "$tmp/plain2" --dtype f32
cmp -s "$tmp/plain/model.safetensors" "$tmp/plain2/model.safetensors" || { echo "FAIL: re-export differs"; fail=1; }

# refusal: a non-empty DIR stays as it was
mkdir "$tmp/full" && echo mine >"$tmp/full/config.json"
expect 1 export -m "$tmp/q.gguf" -o "$tmp/full"
grep -q "exists and is not empty" "$tmp/err" || { echo "FAIL: refusal message: $(cat "$tmp/err")"; fail=1; }
[ "$(cat "$tmp/full/config.json")" = mine ] && [ "$(ls "$tmp/full")" = config.json ] || { echo "FAIL: DIR touched"; fail=1; }
echo junk >"$tmp/file"
expect 1 export -m "$tmp/q.gguf" -o "$tmp/file"
grep -q "not a directory" "$tmp/err" || { echo "FAIL: file as DIR: $(cat "$tmp/err")"; fail=1; }
# a bad input: a clear error naming it, no folder
expect 1 export -m "$tmp/file" -o "$tmp/new"
grep -q "^crvq export: error: $tmp/file: not a .*GGUF file" "$tmp/err" || { echo "FAIL: bad input message: $(cat "$tmp/err")"; fail=1; }
ls -d "$tmp"/new* 2>/dev/null && { echo "FAIL: output after a bad input"; fail=1; }
expect 2 export -m "$tmp/q.gguf" -o "$tmp/new" --dtype f64
expect 2 export -m "$tmp/q.gguf"
exit $fail
