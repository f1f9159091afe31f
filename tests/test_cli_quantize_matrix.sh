#!/usr/bin/env bash
# test_cli_quantize_matrix.sh — `crvq quantize-matrix` end to end on tiny
# layers: every method runs, the JSON line has its keys and sensible values,
# .npy inputs reproduce the synthetic run, bad flags exit 2, bad input exit 1.
set -u
crvq=${1:-${CRVQ_BIN:-crvq}}
# scratch, ok DESCRIPTION COMMAND...
source "$(dirname "$0")/cli_lib.sh"
scratch quantize-matrix

# exit_is CODE ARGS...: crvq quantize-matrix ARGS exits with CODE and, on an
# error, prints exactly one line on stderr.
exit_is() {
    local want=$1
    shift
    exits "$want" quantize-matrix "$@" || return 1
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
ok "rtn runs" exit_is 0 "${layer[@]}" --method rtn --json
ok "rtn json" json_ok "$tmp/out" 'j["method"] == "rtn" and j["bits"] == 2.25 and 0 < j["rel_loss"] < 1 and j["m_out"] == 32 and j["n_in"] == 128'
ok "gptq runs" exit_is 0 "${layer[@]}" --method gptq --act-order --json
ok "gptq json" json_ok "$tmp/out" 'j["method"] == "gptq" and 2 < j["bits"] < 3 and 0 < j["rel_loss"] < 1 and j["params"]["act_order"]'
ok "gptq 4-bit group 32" exit_is 0 "${layer[@]}" --method gptq --bits 4 --group-size 32 --damp 0.05 --json
ok "gptq 4-bit json" json_ok "$tmp/out" 'j["bits"] == 5 and 0 < j["rel_loss"] < 0.1'
ok "vq runs" exit_is 0 "${layer[@]}" --method vq -e 6 --max-rounds 5 --json
ok "vq json" json_ok "$tmp/out" 'j["method"] == "vq" and 0 < j["bits"] < 8 and 0 < j["rel_loss"] < 1 and 1 <= j["rounds"] <= 5'
ok "crvq runs" exit_is 0 "${layer[@]}" --method crvq -e 6,4 --lambda 0.25 --importance magnitude --max-rounds 5 --threads 1 --json
ok "crvq json" json_ok "$tmp/out" 'j["method"] == "crvq" and j["params"]["M"] == 2 and j["params"]["e"] == [6, 4] and 0 < j["rel_loss"] < 1 and j["threads"] == 1'
ok "text report" grep -q "^relative loss" "$tmp/out"
ok "help" exit_is 0 --help

# .npy round trip: the saved layer gives the synthetic run's result.
ok "save layer" exit_is 0 "${layer[@]}" --method gptq --json --save-weight "$tmp/w.npy" --save-hessian "$tmp/h.npy" --save-reconstruction "$tmp/r.npy"
grep -o '"rel_loss":[^,]*' "$tmp/out" >"$tmp/rel_synthetic"
ok "reconstruction size" test "$(stat -c %s "$tmp/r.npy")" = $((128 + 32 * 128 * 4))
ok "npy input" exit_is 0 --weight "$tmp/w.npy" --hessian "$tmp/h.npy" --method gptq --json
grep -o '"rel_loss":[^,]*' "$tmp/out" >"$tmp/rel_npy"
ok "npy input reproduces the synthetic run" cmp -s "$tmp/rel_synthetic" "$tmp/rel_npy"
ok "npy json" json_ok "$tmp/out" 'j["source"] == "npy"'

# numpy itself reads what crvq writes, and crvq reads what numpy writes (when numpy is installed).
if python3 -c 'import numpy' 2>/dev/null; then
    ok "numpy reads and writes" python3 -c '
import numpy as np, sys
d = sys.argv[1]
w, h, r = np.load(d + "/w.npy"), np.load(d + "/h.npy"), np.load(d + "/r.npy")
assert w.shape == (32, 128) and w.dtype == np.float32 and h.shape == (128, 128) and h.dtype == np.float64
assert r.shape == w.shape and np.allclose(h, h.T)
np.save(d + "/w64.npy", w.astype(np.float64))
np.save(d + "/h32.npy", h.astype(np.float32))
' "$tmp"
    ok "npy written by numpy" exit_is 0 --weight "$tmp/w64.npy" --hessian "$tmp/h32.npy" --method rtn --json
fi

# Usage errors: exit 2.
ok "unknown flag" exit_is 2 "${layer[@]}" --method rtn --frobnicate
ok "no method" exit_is 2 "${layer[@]}"
ok "bad method" exit_is 2 "${layer[@]}" --method awq
ok "bits out of range" exit_is 2 "${layer[@]}" --method rtn --bits 9
ok "bad shape" exit_is 2 --synthetic 32by128 --method rtn
ok "two sources" exit_is 2 "${layer[@]}" --weight "$tmp/w.npy" --hessian "$tmp/h.npy" --method rtn
ok "no source" exit_is 2 --method rtn
ok "weight without hessian" exit_is 2 --weight "$tmp/w.npy" --method rtn
ok "scalar flag on vq" exit_is 2 "${layer[@]}" --method vq --bits 2
ok "vector flag on gptq" exit_is 2 "${layer[@]}" --method gptq -M 2
ok "lambda on vq" exit_is 2 "${layer[@]}" --method vq --lambda 0.1
ok "bad e list" exit_is 2 "${layer[@]}" --method crvq -e 8,,8
ok "e list vs M" exit_is 2 "${layer[@]}" --method crvq -e 8,8 -M 3
ok "missing value" exit_is 2 "${layer[@]}" --method

# Input errors: exit 1.
ok "group does not divide" exit_is 1 --synthetic 32x96 --method rtn
ok "d does not divide" exit_is 1 --synthetic 32x128 --method vq -d 6
ok "missing file" exit_is 1 --weight "$tmp/nope.npy" --hessian "$tmp/h.npy" --method rtn
ok "hessian shape" exit_is 1 --weight "$tmp/w.npy" --hessian "$tmp/w.npy" --method rtn
printf 'not numpy' >"$tmp/bad.npy"
ok "malformed npy" exit_is 1 --weight "$tmp/bad.npy" --hessian "$tmp/h.npy" --method rtn

echo "$count checks, $failed failed"
[ "$failed" = 0 ]
