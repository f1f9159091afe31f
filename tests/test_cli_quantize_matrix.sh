#!/usr/bin/env bash
# test_cli_quantize_matrix.sh — `crvq quantize-matrix` end to end on tiny
# layers: every method runs, the JSON line has its keys and sensible values,
# .npy inputs reproduce the synthetic run, bad flags exit 2, bad input exit 1.
set -u
CRVQ=${1:-${CRVQ_BIN:-crvq}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
count=0

check() { # check DESCRIPTION COMMAND...
    count=$((count + 1))
    local what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what" >&2
        fail=$((fail + 1))
    fi
}

# exit_is CODE ARGS...: crvq quantize-matrix ARGS exits with CODE and, on an
# error, prints exactly one line on stderr.
exit_is() {
    local want=$1
    shift
    "$CRVQ" quantize-matrix "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "  exit $got, want $want: crvq quantize-matrix $*" >&2
        cat "$tmp/err" >&2
        return 1
    fi
    if [ "$want" != 0 ] && [ "$(wc -l <"$tmp/err")" != 1 ]; then
        echo "  stderr is not one line: crvq quantize-matrix $*" >&2
        cat "$tmp/err" >&2
        return 1
    fi
}

# json_ok FILE PYTHON-CONDITION: the last stdout line is JSON satisfying the condition (j is the object).
json_ok() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
keys = ["method", "bits", "rel_loss", "seconds", "m_out", "n_in", "loss", "loss0", "rounds", "threads", "params"]
missing = [k for k in keys if k not in j]
if missing:
    sys.exit("missing keys: %s" % missing)
if not eval(sys.argv[2], {}, {"j": j}):
    sys.exit("condition failed: %s on %s" % (sys.argv[2], j))
EOF
}

layer=(--synthetic 32x128 --seed 3)
check "rtn runs" exit_is 0 "${layer[@]}" --method rtn --json
check "rtn json" json_ok "$tmp/out" 'j["method"] == "rtn" and j["bits"] == 2.25 and 0 < j["rel_loss"] < 1 and j["m_out"] == 32 and j["n_in"] == 128'
check "gptq runs" exit_is 0 "${layer[@]}" --method gptq --act-order --json
check "gptq json" json_ok "$tmp/out" 'j["method"] == "gptq" and 2 < j["bits"] < 3 and 0 < j["rel_loss"] < 1 and j["params"]["act_order"]'
check "gptq 4-bit group 32" exit_is 0 "${layer[@]}" --method gptq --bits 4 --group-size 32 --damp 0.05 --json
check "gptq 4-bit json" json_ok "$tmp/out" 'j["bits"] == 5 and 0 < j["rel_loss"] < 0.1'
check "vq runs" exit_is 0 "${layer[@]}" --method vq -e 6 --max-rounds 5 --json
check "vq json" json_ok "$tmp/out" 'j["method"] == "vq" and 0 < j["bits"] < 8 and 0 < j["rel_loss"] < 1 and 1 <= j["rounds"] <= 5'
check "crvq runs" exit_is 0 "${layer[@]}" --method crvq -e 6,4 --lambda 0.25 --importance magnitude --max-rounds 5 --threads 1 --json
check "crvq json" json_ok "$tmp/out" 'j["method"] == "crvq" and j["params"]["M"] == 2 and j["params"]["e"] == [6, 4] and 0 < j["rel_loss"] < 1 and j["threads"] == 1'
check "text report" grep -q "^relative loss" "$tmp/out"
check "help" exit_is 0 --help

# .npy round trip: the saved layer gives the synthetic run's result.
check "save layer" exit_is 0 "${layer[@]}" --method gptq --json --save-weight "$tmp/w.npy" --save-hessian "$tmp/h.npy" --save-reconstruction "$tmp/r.npy"
grep -o '"rel_loss":[^,]*' "$tmp/out" >"$tmp/rel_synthetic"
check "reconstruction size" test "$(stat -c %s "$tmp/r.npy")" = $((128 + 32 * 128 * 4))
check "npy input" exit_is 0 --weight "$tmp/w.npy" --hessian "$tmp/h.npy" --method gptq --json
grep -o '"rel_loss":[^,]*' "$tmp/out" >"$tmp/rel_npy"
check "npy input reproduces the synthetic run" cmp -s "$tmp/rel_synthetic" "$tmp/rel_npy"
check "npy json" json_ok "$tmp/out" 'j["source"] == "npy"'

# numpy itself reads what crvq writes, and crvq reads what numpy writes (when numpy is installed).
if python3 -c 'import numpy' 2>/dev/null; then
    check "numpy reads and writes" python3 -c '
import numpy as np, sys
d = sys.argv[1]
w, h, r = np.load(d + "/w.npy"), np.load(d + "/h.npy"), np.load(d + "/r.npy")
assert w.shape == (32, 128) and w.dtype == np.float32 and h.shape == (128, 128) and h.dtype == np.float64
assert r.shape == w.shape and np.allclose(h, h.T)
np.save(d + "/w64.npy", w.astype(np.float64))
np.save(d + "/h32.npy", h.astype(np.float32))
' "$tmp"
    check "npy written by numpy" exit_is 0 --weight "$tmp/w64.npy" --hessian "$tmp/h32.npy" --method rtn --json
fi

# Usage errors: exit 2.
check "unknown flag" exit_is 2 "${layer[@]}" --method rtn --frobnicate
check "no method" exit_is 2 "${layer[@]}"
check "bad method" exit_is 2 "${layer[@]}" --method awq
check "bits out of range" exit_is 2 "${layer[@]}" --method rtn --bits 9
check "bad shape" exit_is 2 --synthetic 32by128 --method rtn
check "two sources" exit_is 2 "${layer[@]}" --weight "$tmp/w.npy" --hessian "$tmp/h.npy" --method rtn
check "no source" exit_is 2 --method rtn
check "weight without hessian" exit_is 2 --weight "$tmp/w.npy" --method rtn
check "scalar flag on vq" exit_is 2 "${layer[@]}" --method vq --bits 2
check "vector flag on gptq" exit_is 2 "${layer[@]}" --method gptq -M 2
check "lambda on vq" exit_is 2 "${layer[@]}" --method vq --lambda 0.1
check "bad e list" exit_is 2 "${layer[@]}" --method crvq -e 8,,8
check "e list vs M" exit_is 2 "${layer[@]}" --method crvq -e 8,8 -M 3
check "missing value" exit_is 2 "${layer[@]}" --method

# Input errors: exit 1.
check "group does not divide" exit_is 1 --synthetic 32x96 --method rtn
check "d does not divide" exit_is 1 --synthetic 32x128 --method vq -d 6
check "missing file" exit_is 1 --weight "$tmp/nope.npy" --hessian "$tmp/h.npy" --method rtn
check "hessian shape" exit_is 1 --weight "$tmp/w.npy" --hessian "$tmp/w.npy" --method rtn
printf 'not numpy' >"$tmp/bad.npy"
check "malformed npy" exit_is 1 --weight "$tmp/bad.npy" --hessian "$tmp/h.npy" --method rtn

echo "$count checks, $fail failed"
[ "$fail" = 0 ]
