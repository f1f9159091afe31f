#!/bin/bash
# slow_generate.sh CRVQ — greedy generation on pg-dev reproduces the token
# ids of ../shared/docs/evaluation.md exactly (32 new tokens after BOS + the
# prompt, float32).
set -u
crvq=$1
shared=${CRVQ_SHARED:-../shared}
model=$shared/models/pg-dev
[ -f "$model/model.safetensors" ] || { echo "SKIP: $model not found (shared data missing)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
fail=0

# gen PROMPT IDS...: the generated ids must be exactly IDS
gen() {
    local prompt=$1
    shift
    local out
    if ! out=$("$crvq" generate -m "$model" -p "$prompt" -n 32 --temp 0 --json); then
        echo "FAIL: '$prompt': crvq generate exited $?"
        fail=1
        return
    fi
    python3 -c '
import json, sys
d = json.loads(sys.argv[1])
want = [int(x) for x in sys.argv[3:]]
ok = d["ids"] == want and d["n_generated"] == 32
print(("ok  " if ok else "FAIL") + " %r: %r" % (sys.argv[2], d["text"]))
if not ok:
    print("  got  %s\n  want %s" % (" ".join(map(str, d["ids"])), " ".join(map(str, want))))
sys.exit(0 if ok else 1)' "$out" "$prompt" "$@" || fail=1
}

# Exact ids hold on any machine: the smallest top-1/top-2 logit gap along
# these paths is 0.0089 (third prompt, step 17; |logits| <= 19), and it moves
# by 3e-6 between OpenBLAS's Haswell, SkylakeX, Zen, Sandybridge and Prescott
# kernels and CRVQ_ISA levels.
gen "It was a dark and stormy night, and" 263 1268 326 4998 1959 317 8123 284 263 1268 5226 1959 270 284 1959 270 8126 13 13 8132 8129 8134 8117 1019 283 1874 742 536 438 263 4144 8123
gen "The little girl opened the door and saw" 263 614 1106 291 263 2644 8126 13 13 8132 8129 539 353 2128 536 402 438 8126 354 8129 539 353 2128 282 263 859 1521 8126 301 539 353 2128
gen "She had never seen anything so beautiful as" 420 8126 13 13 8132 8129 539 353 1221 322 301 539 353 261 614 703 536 438 263 703 443 8126 354 8129 539 353 261 614 1104 8123 403 301
gen "The captain turned to his men and said," 354 8129 539 261 443 282 381 729 8123 284 301 539 261 443 282 381 729 8126 301 539 261 443 282 381 729 8123 284 301 539 261 443 282
exit $fail
