#!/bin/bash
# test_cli_generate.sh CRVQ — `crvq generate` on stories260K:
# greedy text from BOS matches what llama.cpp generates from the same GGUF
# file, the llama2.c file gives the same ids, sampling is reproducible by
# seed, the JSON keys are there, and usage errors exit 2.
set -u
crvq=$1
# model, f32, need, scratch, json FILE EXPR and expect CODE ARGS...
source "$(dirname "$0")/cli_lib.sh"
need "$model" "$f32"
scratch gen

# Greedy ids are compared exactly: along this path the top-1 logit leads
# the next by at least 0.13 (|logits| <= 22), 10^4 times the float32
# differences between OpenBLAS kernels, so no kernel can flip an argmax.
expect 0 generate -m "$f32" -p "" -n 40 --temp 0 --json
cp "$tmp/out" "$tmp/gguf.json"
json "$tmp/gguf.json" "d['text'].startswith('Once upon a time, there was a little girl named Lily. She loved to play outside in the park.')"
json "$tmp/gguf.json" "d['n_prompt'] == 1 and d['n_generated'] == 40 and len(d['ids']) == 40 and d['prefill_tps'] > 0 and d['decode_tps'] > 0"
expect 0 generate -m "$model" -p "" -n 40 --temp 0 --json
ids=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read())['ids'])" "$tmp/out")
json "$tmp/gguf.json" "d['ids'] == $ids"

# the streamed text is the prompt followed by the JSON's continuation
expect 0 generate -m "$model" -p "Once upon a time" -n 16 --temp 0
grep -q "^Once upon a time, there was a little girl" "$tmp/out" || { echo "FAIL: streamed text: $(cat "$tmp/out")"; fail=1; }

# sampling: same seed, same ids; another seed, (almost surely) other ids
expect 0 generate -m "$model" -p "Lily" -n 40 --temp 1 --top-p 0.95 --seed 7 --json
a=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read())['ids'])" "$tmp/out")
expect 0 generate -m "$model" -p "Lily" -n 40 --temp 1 --top-p 0.95 --seed 7 --json
json "$tmp/out" "d['ids'] == $a and d['seed'] == 7"
expect 0 generate -m "$model" -p "Lily" -n 40 --temp 1 --top-p 0.95 --seed 8 --json
json "$tmp/out" "d['ids'] != $a"

expect 0 generate --help
expect 2 generate -m "$model"
expect 2 generate -m "$model" -p hi --top-p 0
expect 2 generate -m "$model" -p hi --temp -1
expect 2 generate -m "$model" -p hi -n 0
expect 1 generate -m "$tmp/none.bin" -p hi

[ $fail = 0 ] && echo "ok"
exit $fail
