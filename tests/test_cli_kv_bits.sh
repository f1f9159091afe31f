#!/bin/bash
# test_cli_kv_bits.sh CRVQ — --kv-bits on `crvq perplexity`, `generate` and
# `bench` with stories260K (head_dim 8: one short group per kv head) and,
# when present, pg-dev (head_dim 64: two full groups of 32). --kv-bits 32
# gives exactly the default's numbers; an 8-bit cache's perplexity is
# within 2% of the float32 cache's (stories260K shows 0.3%, pg-dev less);
# a 4-bit cache runs; bench reports the smaller cache; bad widths exit 2
# with a message naming the flag; every --help describes it.
set -u
crvq=$1
# model, pgdev, text, need FILE..., scratch NAME, json FILE EXPR and expect CODE ARGS...
source "$(dirname "$0")/cli_lib.sh"
need "$model" "$text"
scratch kv

# ppl_check MODEL TEXT CTX: default == --kv-bits 32 exactly, 8 bits within 2%, 4 bits finite
ppl_check() {
    local m=$1 f=$2 ctx=$3
    expect 0 perplexity -m "$m" -f "$f" --ctx "$ctx" --max-windows 2 --threads 1 --json
    cp "$tmp/out" "$tmp/default.json"
    for b in 32 8 4; do
        expect 0 perplexity -m "$m" -f "$f" --ctx "$ctx" --max-windows 2 --threads 1 --kv-bits $b --json
        cp "$tmp/out" "$tmp/kv$b.json"
    done
    ref=$(python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(repr(d['nll']), repr(d['ppl']))" "$tmp/default.json")
    set -- $ref
    json "$tmp/default.json" "d['kv_bits'] == 32"
    json "$tmp/kv32.json" "d['kv_bits'] == 32 and d['nll'] == $1 and d['ppl'] == $2"
    json "$tmp/kv8.json" "d['kv_bits'] == 8 and abs(d['ppl'] - $2) <= 0.02 * $2"
    json "$tmp/kv4.json" "d['kv_bits'] == 4 and math.isfinite(d['ppl']) and d['ppl'] > 1"
}
ppl_check "$model" "$text" 64
if [ -d "$pgdev" ] && [ -f "$shared/data/wikitext2-test.txt" ]; then
    ppl_check "$pgdev" "$shared/data/wikitext2-test.txt" 128
else
    echo "note: $pgdev or wikitext2-test.txt not found, pg-dev part skipped"
fi

# generate, greedy: --kv-bits 32 is the default's text; 8 and 4 bits run
expect 0 generate -m "$model" -p "Once upon a time" -n 24 --temp 0 --json
cp "$tmp/out" "$tmp/gen.json"
ids=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['ids'])" "$tmp/gen.json")
expect 0 generate -m "$model" -p "Once upon a time" -n 24 --temp 0 --kv-bits 32 --json
json "$tmp/out" "d['ids'] == $ids and d['kv_bits'] == 32"
for b in 8 4; do
    expect 0 generate -m "$model" -p "Once upon a time" -n 24 --temp 0 --kv-bits $b --json
    json "$tmp/out" "d['kv_bits'] == $b and 1 <= d['n_generated'] <= 24"
done

# bench: the cache really is smaller (stories260K: 8 values per kv head, so
# 8-bit rows are 8 + 2 bytes and 4-bit 4 + 2, against 32)
for b in 32 8 4; do
    expect 0 bench -m "$model" --prompt-len 32 --gen 8 --reps 1 --threads 1 --kv-bits $b --json
    json "$tmp/out" "d['kv_bits'] == $b and d['decode_tps'] > 0"
    python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['kv_cache_bytes'])" "$tmp/out" >"$tmp/bytes$b"
done
b32=$(cat "$tmp/bytes32")
json "$tmp/out" "d['kv_cache_bytes'] * 32 == $b32 * 6 and $(cat "$tmp/bytes8") * 32 == $b32 * 10"

# bad widths: exit 2, the flag and the value named
for cmdline in "perplexity -m $model -f $text" "generate -m $model -p hi" "bench -m $model"; do
    for bad in 5 16 abc ""; do
        expect 2 $cmdline --kv-bits "$bad"
        grep -q -- "--kv-bits expects 32, 8 or 4, got $bad" "$tmp/err" ||
            { echo "FAIL: crvq $cmdline --kv-bits '$bad': $(cat "$tmp/err")"; fail=1; }
    done
    expect 0 ${cmdline%% *} --help
    grep -q -- "--kv-bits B" "$tmp/out" || { echo "FAIL: ${cmdline%% *} --help lacks --kv-bits"; fail=1; }
done

[ $fail = 0 ] && echo "ok"
