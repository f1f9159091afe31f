#!/bin/bash
# test_kl.sh CRVQ — `crvq perplexity --kl-base` on stories260K: a model
# against itself has KL 0 and top-1 agreement 1; an RTN 3-bit copy has KL > 0
# and agreement < 1 (and a larger KL than the f16 GGUF of the same model);
# forward-call chunking does not change the figures; the docs protocol works
# too; a base with another vocabulary size is refused with exit 1.
set -u
crvq=$1
# model, f16, tok, text, pgdev, need, scratch, json FILE EXPR and expect CODE ARGS...
source "$(dirname "$0")/cli_lib.sh"
need "$model" "$f16" "$tok" "$text" "$pgdev/config.json"
scratch kl

ppl=(perplexity -f "$text" --ctx 32 --max-windows 3 --json)

# against itself: exactly 0 and 1, and the base perplexity is the model's
expect 0 "${ppl[@]}" -m "$model" --kl-base "$model"
json "$tmp/out" "d['kld'] == 0 and d['top1_agree'] == 1 and abs(d['base_ppl'] - d['ppl']) < 1e-9 * d['ppl']"
json "$tmp/out" "d['kl_base'].endswith('stories260K.bin') and d['scored_tokens'] == 3 * 31"
# without --kl-base the keys are absent
expect 0 "${ppl[@]}" -m "$model"
json "$tmp/out" "'kld' not in d and 'top1_agree' not in d and 'base_ppl' not in d"
base_ppl=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read())['ppl'])" "$tmp/out")

# RTN 3-bit, groups of 4
expect 0 quantize -m "$model" --tokenizer "$tok" --calib "$text" -o "$tmp/rtn.gguf" --method rtn --bits 3 \
    --group-size 4 --nsamples 2 --seqlen 32 --quiet
expect 0 "${ppl[@]}" -m "$tmp/rtn.gguf" --kl-base "$model"
cp "$tmp/out" "$tmp/rtn.json"
json "$tmp/rtn.json" "0 < d['kld'] < 5 and 0 < d['top1_agree'] < 1"
# agreement is a count over the scored positions
json "$tmp/rtn.json" "abs(d['top1_agree'] * d['scored_tokens'] - round(d['top1_agree'] * d['scored_tokens'])) < 1e-9"
# the base's perplexity is the one `perplexity` reports for the base alone
json "$tmp/rtn.json" "abs(d['base_ppl'] - $base_ppl) < 1e-6 * $base_ppl and d['ppl'] != d['base_ppl']"
# forward calls of 5 tokens give the same figures; top-1 agreement exactly:
# the smallest top-1/top-2 logit gap over these positions is 0.009 (original)
# and 0.011 (RTN) with |logits| <= 22, against float32 differences between
# forward paths and OpenBLAS kernels of ~1e-5
expect 0 "${ppl[@]}" -m "$tmp/rtn.gguf" --kl-base "$model" --batch 5 --threads 1
kld=$(python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read()); print(d['kld'], d['top1_agree'])" "$tmp/out")
set -- $kld
json "$tmp/rtn.json" "abs(d['kld'] - $1) < 1e-5 * d['kld'] and d['top1_agree'] == $2"

# fp16 weights are much closer to the original than 3-bit codes
expect 0 "${ppl[@]}" -m "$f16" --kl-base "$model"
json "$tmp/out" "0 <= d['kld'] < 0.01"
f16_kld=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read())['kld'])" "$tmp/out")
json "$tmp/rtn.json" "d['kld'] > 10 * $f16_kld"

# docs protocol, and the human-readable line
printf 'One day, a cat sat on a mat.<|endoftext|>The dog ran to the park.' >"$tmp/docs.txt"
expect 0 perplexity -m "$tmp/rtn.gguf" -f "$tmp/docs.txt" --doc-sep '<|endoftext|>' --kl-base "$model" --json
json "$tmp/out" "d['docs'] == 2 and d['kld'] > 0 and 0 <= d['top1_agree'] <= 1"
expect 0 perplexity -m "$tmp/rtn.gguf" -f "$text" --ctx 32 --max-windows 1 --kl-base "$model"
grep -q "KLD [0-9.]*  top-1 agreement 0\.[0-9]*  base ppl" "$tmp/out" || { echo "FAIL: summary: $(cat "$tmp/out")"; fail=1; }

# another vocabulary (pg-dev: 8192 entries, stories260K: 512) is refused
expect 1 "${ppl[@]}" -m "$model" --kl-base "$pgdev"
grep -q "KL base model has 8192 vocabulary entries, the model 512" "$tmp/err" ||
    { echo "FAIL: vocab message: $(cat "$tmp/err")"; fail=1; }
[ "$(wc -l <"$tmp/err")" = 1 ] || { echo "FAIL: more than one error line: $(cat "$tmp/err")"; fail=1; }
expect 1 "${ppl[@]}" -m "$model" --kl-base "$tmp/no-such-model.bin"
expect 2 "${ppl[@]}" -m "$model" --kl-base

[ $fail = 0 ] && echo "ok"
exit $fail
