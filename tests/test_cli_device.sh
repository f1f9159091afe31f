#!/usr/bin/env bash
# test_cli_device.sh — `crvq quantize-matrix --device`: bad values are usage
# errors (exit 2), scalar methods stay on the cpu, and --device cuda either
# runs (a GPU is here: JSON names the device, the loss is sane) or fails
# with one clear line (exit 1); the same for quantize and finetune --device cuda.
set -u
crvq=${1:-${CRVQ_BIN:-crvq}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
. "$(dirname "$0")/cli_lib.sh"

layer=(quantize-matrix --synthetic 32x128 --seed 2)
expect 2 "${layer[@]}" --method vq --device gpu
expect 2 "${layer[@]}" --method rtn --device cuda
expect 2 "${layer[@]}" --method gptq --cg-iters 2
expect 0 "${layer[@]}" --method vq --device cpu --cg-iters 2 --json
json "$tmp/out" 'd["device"] == "cpu" and d["cg_iters"] == 2 and len(d["trace"]["rel_loss"]) == d["rounds"] + 1'

crvq_has_gpu() { "$crvq" "${layer[@]}" --method crvq --device cuda >/dev/null 2>&1; }
if "$crvq" "${layer[@]}" --method crvq --device cuda --json >"$tmp/out" 2>"$tmp/err"; then
    json "$tmp/out" 'd["device"] == "cuda" and 0 < d["rel_loss"] < 0.5'
elif [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -q -- "--device cuda: " "$tmp/err"; then
    echo "FAIL: --device cuda without a GPU must say why in one line:"
    cat "$tmp/err"
    fail=1
fi

# quantize takes the same shared flag; without a GPU it fails before loading the model
shared=${CRVQ_SHARED:-$(dirname "$0")/../../shared}
model=$shared/models/stories260K/stories260K.bin
q=(quantize -m "$model" --calib "$(dirname "$0")/test_cli_device.sh" -o "$tmp/q.gguf" --quiet)
expect 2 "${q[@]}" --device gpu
expect 2 "${q[@]}" --device cuda --method rtn
# no_gpu_fails CMD ARGS...: `crvq CMD ARGS... --device cuda` without a GPU
# exits 1 with the one line "crvq CMD: error: --device cuda: why"
no_gpu_fails() {
    [ -e "$model" ] && ! crvq_has_gpu || return 0
    "$crvq" "$@" --device cuda 2>"$tmp/err"
    local rc=$?
    if [ "$rc" != 1 ] || [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -q -- "$1: error: --device cuda: " "$tmp/err"; then
        echo "FAIL: $1 --device cuda without a GPU: exit $rc, must be 1 with one line:"
        cat "$tmp/err"
        fail=1
    fi
}
no_gpu_fails "${q[@]}"

# finetune too: a bad value is a usage error; without a GPU, one line before any model is read
f=(finetune -m "$model" --teacher "$model" --data "$(dirname "$0")/test_cli_device.sh" -o "$tmp/f.gguf" --quiet)
expect 2 "${f[@]}" --device gpu
no_gpu_fails "${f[@]}"

[ "$fail" = 0 ] && echo "test_cli_device: ok"
exit "$fail"
