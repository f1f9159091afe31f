#!/bin/bash
# test_cli_perplexity.sh CRVQ — `crvq perplexity` on stories260K with small
# inputs: JSON keys and values of both protocols, document splitting and
# stripping, chunked forward calls agreeing with whole windows, the ctx
# warning, and exit codes (2 for usage errors, 1 for bad files).
set -u
crvq=$1
# model, text, need, scratch, json FILE EXPR and expect CODE ARGS...
source "$(dirname "$0")/cli_lib.sh"
need "$model" "$text"
scratch ppl

# docs protocol: 3 documents, empty and blank pieces skipped, whitespace stripped
printf '\n  One day, a cat sat on a mat.  \n<|endoftext|><|endoftext|>  \n <|endoftext|>The dog ran.<|endoftext|>Lily was happy. She smiled.\n' >"$tmp/docs.txt"
expect 0 perplexity -m "$model" -f "$tmp/docs.txt" --doc-sep '<|endoftext|>' --json
cp "$tmp/out" "$tmp/docs.json"
json "$tmp/docs.json" "d['protocol'] == 'docs' and d['docs'] == 3 and d['docs_total'] == 3 and d['ctx'] == 512"
json "$tmp/docs.json" "all(k in d for k in ('ppl', 'nll', 'scored_tokens', 'tokens', 'evaluated_tokens', 'seconds', 'tokens_per_second'))"
json "$tmp/docs.json" "abs(d['ppl'] - math.exp(d['nll'])) < 1e-9 * d['ppl'] and 1 < d['ppl'] < 100"
json "$tmp/docs.json" "d['scored_tokens'] == d['evaluated_tokens'] - 3 and d['tokens'] == d['evaluated_tokens']"
# the same documents one per file give the same total
total=0
for doc in 'One day, a cat sat on a mat.' 'The dog ran.' 'Lily was happy. She smiled.'; do
    printf '%s' "$doc" >"$tmp/one.txt"
    expect 0 perplexity -m "$model" -f "$tmp/one.txt" --doc-sep '<|endoftext|>' --json
    total=$(python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read()); print($total + d['nll'] * d['scored_tokens'])" "$tmp/out")
done
json "$tmp/docs.json" "abs(d['nll'] * d['scored_tokens'] - $total) < 1e-6 * $total"

# truncation to ctx: each document (all longer than 4 tokens) scores 3
expect 0 perplexity -m "$model" -f "$tmp/docs.txt" --doc-sep '<|endoftext|>' --ctx 4 --json
json "$tmp/out" "d['scored_tokens'] == 3 * 3 and d['evaluated_tokens'] == 12 and d['tokens'] > 12"

# stream protocol: windows of ctx, positions 1..ctx-1 scored
expect 0 perplexity -m "$model" -f "$text" --ctx 64 --max-windows 3 --json
cp "$tmp/out" "$tmp/stream.json"
json "$tmp/stream.json" "d['protocol'] == 'stream' and d['windows'] == 3 and d['scored_tokens'] == 3 * 63 and d['evaluated_tokens'] == 192"
json "$tmp/stream.json" "d['windows_total'] == d['tokens'] // 64 and 1 < d['ppl'] < 100"
# forward calls of 5 tokens continue the cache and give the same result
expect 0 perplexity -m "$model" -f "$text" --ctx 64 --max-windows 3 --batch 5 --threads 1 --json
nll=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read())['nll'])" "$tmp/out")
json "$tmp/stream.json" "abs(d['nll'] - $nll) < 1e-5 * d['nll']"
# the human-readable line
expect 0 perplexity -m "$model" -f "$text" --ctx 32 --max-windows 1
grep -q "ppl .* scored 31 tokens in 1/" "$tmp/out" || { echo "FAIL: summary line: $(cat "$tmp/out")"; fail=1; }

# ctx beyond the declared context length: accepted with a warning
expect 0 perplexity -m "$model" -f "$text" --ctx 600 --max-windows 1 --json
grep -q "warning: ctx 600 exceeds" "$tmp/err" || { echo "FAIL: no ctx warning"; fail=1; }
json "$tmp/out" "d['ctx'] == 600 and d['scored_tokens'] == 599"

# usage errors exit 2, bad inputs exit 1
expect 0 perplexity --help
expect 2 perplexity -m "$model"
expect 2 perplexity -m "$model" -f "$text" --ctx 1
expect 2 perplexity -m "$model" -f "$text" --ctx abc
expect 2 perplexity -m "$model" -f "$text" --doc-sep ''
expect 2 perplexity -m "$model" -f "$text" --bogus
expect 2 perplexity -m "$model" -f "$text" --max-windows
expect 1 perplexity -m "$model" -f "$tmp/no-such-file.txt"
expect 1 perplexity -m "$tmp/no-such-model.bin" -f "$text"
printf 'tiny' >"$tmp/short.txt"
expect 1 perplexity -m "$model" -f "$tmp/short.txt" --ctx 64
grep -q "no token to score" "$tmp/err" || { echo "FAIL: short text message: $(cat "$tmp/err")"; fail=1; }

[ $fail = 0 ] && echo "ok"
exit $fail
