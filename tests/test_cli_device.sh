#!/usr/bin/env bash
# test_cli_device.sh — `crvq quantize-matrix --device`: bad values are usage
# errors (exit 2), scalar methods stay on the cpu, and --device cuda either
# runs (a GPU is here: JSON names the device, the loss is sane) or fails
# with one clear line (exit 1).
set -u
CRVQ=${1:-${CRVQ_BIN:-crvq}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
count=0

# expect CODE ARGS...: crvq quantize-matrix ARGS exits CODE; errors are one line.
expect() {
    count=$((count + 1))
    local want=$1
    shift
    "$CRVQ" quantize-matrix "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" != "$want" ] || { [ "$want" != 0 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; }; then
        echo "FAIL: exit $got (want $want), crvq quantize-matrix $*" >&2
        cat "$tmp/err" >&2
        fail=$((fail + 1))
        return 1
    fi
}

layer=(--synthetic 32x128 --seed 2)
expect 2 "${layer[@]}" --method vq --device gpu
expect 2 "${layer[@]}" --method rtn --device cuda
expect 2 "${layer[@]}" --method gptq --cg-iters 2
expect 0 "${layer[@]}" --method vq --device cpu --cg-iters 2 --json &&
    python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().splitlines()[-1]); assert j["device"] == "cpu" and j["cg_iters"] == 2 and len(j["trace"]["rel_loss"]) == j["rounds"] + 1' "$tmp/out" ||
    { echo "FAIL: cpu JSON" >&2; fail=$((fail + 1)); }

if "$CRVQ" quantize-matrix "${layer[@]}" --method crvq --device cuda --json >"$tmp/out" 2>"$tmp/err"; then
    count=$((count + 1))
    python3 -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().splitlines()[-1]); assert j["device"] == "cuda" and 0 < j["rel_loss"] < 0.5' "$tmp/out" ||
        { echo "FAIL: cuda JSON" >&2; fail=$((fail + 1)); }
else
    count=$((count + 1))
    if [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -q -- "--device cuda: " "$tmp/err"; then
        echo "FAIL: --device cuda without a GPU must say why in one line:" >&2
        cat "$tmp/err" >&2
        fail=$((fail + 1))
    fi
fi

echo "$((count - fail)) passed, $fail failed"
[ "$fail" = 0 ]
