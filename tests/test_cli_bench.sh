#!/bin/bash
# test_cli_bench.sh CRVQ — `crvq bench` on stories260K: at one and at two
# threads the JSON has wall-clock and process-CPU seconds and tok/s for the
# prefill and the decode, each rate being its tokens over its own seconds
# (so 1- and 2-thread runs compare on one clock); --help names the fields;
# usage errors exit 2, a missing model 1.
set -u
crvq=$1
# model, need, scratch, json FILE EXPR and expect CODE ARGS...
source "$(dirname "$0")/cli_lib.sh"
need "$model"
scratch bench

for t in 1 2; do
    expect 0 bench -m "$model" --prompt-len 32 --gen 8 --reps 1 --threads $t --json
    json "$tmp/out" "d['threads'] == $t and d['clock'] == 'wall' and d['prompt_len'] == 32 and d['gen'] == 8"
    json "$tmp/out" "all(d[k] > 0 for k in ('prefill_gflops', 'sgemm_gflops', 'prefill_sgemm_fraction', 'decode_weight_gbps'))"
    for phase in prefill decode; do
        n=$([ $phase = prefill ] && echo 32 || echo 8)
        for clock in "" _cpu; do
            json "$tmp/out" "d['${phase}${clock}_seconds'] > 0 and math.isclose(d['${phase}${clock}_tps'] * d['${phase}${clock}_seconds'], $n, rel_tol=1e-9)"
        done
    done
done

expect 0 bench --help
for k in prefill_seconds prefill_tps decode_seconds decode_tps prefill_cpu_seconds prefill_cpu_tps decode_cpu_seconds decode_cpu_tps; do
    grep -q "$k" "$tmp/out" || { echo "FAIL: bench --help does not name $k"; fail=1; }
done
expect 2 bench
grep -qxF "crvq bench: error: no model given (-m MODEL, see --help)" "$tmp/err" ||
    { echo "FAIL: bench without -m says: $(cat "$tmp/err")"; fail=1; }
expect 2 bench -m "$model" --reps 0
expect 1 bench -m "$tmp/none.bin"

[ $fail = 0 ] && echo "ok"
exit $fail
