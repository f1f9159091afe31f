#!/bin/bash
# slow_quantize_resume.sh CRVQ — a real `crvq quantize` run on pg-dev is
# killed (SIGKILL) once its first per-block checkpoint exists; `--resume`
# must finish it and write a file byte-identical to an uninterrupted run
# with the same seed. Also: the output never replaces the input, a failed
# run leaves no output file, --dry-run reports the exact bits.
set -u
crvq=$1
shared=${CRVQ_SHARED:-../shared}
model=$shared/models/pg-dev
calib=$shared/data/pg-calib.txt
for f in "$model/model.safetensors" "$calib"; do
    [ -f "$f" ] || { echo "SKIP: $f not found (shared data missing)"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-resume.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
args=(quantize -m "$model" --calib "$calib" --method crvq -e 5 --max-rounds 2 --kmeans-iters 3
      --nsamples 4 --nval 2 --seqlen 128 --seed 7 --quiet --ft-epochs 1 --threads 2)

"$crvq" "${args[@]}" -o "$tmp/full.gguf" >/dev/null || { echo "FAIL: uninterrupted run"; fail=1; }

"$crvq" "${args[@]}" -o "$tmp/part.gguf" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 6000); do
    [ -f "$tmp/part.gguf.ckpt" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ ! -f "$tmp/part.gguf.ckpt" ]; then
    echo "FAIL: no checkpoint appeared before the run ended"
    fail=1
fi
[ -e "$tmp/part.gguf" ] && { echo "FAIL: a killed run left an output file"; fail=1; }
ls "$tmp" | grep -q '\.tmp\.' && echo "note: the killed run left a temporary file (expected after SIGKILL mid-write)"

"$crvq" "${args[@]}" -o "$tmp/part.gguf" --resume --json >"$tmp/resume.out" || { echo "FAIL: resumed run"; fail=1; }
python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if d['blocks_resumed'] >= 1 else 1)" "$tmp/resume.out" ||
    { echo "FAIL: the resumed run did not start from the checkpoint"; fail=1; }
cmp "$tmp/full.gguf" "$tmp/part.gguf" || { echo "FAIL: resumed output differs from the uninterrupted one"; fail=1; }
[ -e "$tmp/part.gguf.ckpt" ] && { echo "FAIL: checkpoint not removed after success"; fail=1; }

# the input is never the output
"$crvq" quantize -m "$tmp/full.gguf" --calib "$calib" -o "$tmp/full.gguf" --method rtn --quiet 2>"$tmp/err"
[ $? = 1 ] && grep -q "replace the input" "$tmp/err" || { echo "FAIL: output over input not refused"; fail=1; }
# a run that fails (calibration text missing) leaves no output
"$crvq" quantize -m "$model" --calib "$tmp/nope.txt" -o "$tmp/none.gguf" --method rtn --quiet 2>/dev/null
[ $? = 1 ] && [ ! -e "$tmp/none.gguf" ] || { echo "FAIL: failed run exit code or leftover output"; fail=1; }
# dry run: the plan's bits are docs/method.md's figure for pg-dev (1.388 with the permutation)
"$crvq" quantize -m "$model" --dry-run --json >"$tmp/dry.out" || fail=1
python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if abs(d['linear_bpw'] - 1.3880208) < 1e-6 else 1)" "$tmp/dry.out" ||
    { echo "FAIL: dry-run bits"; fail=1; }

[ $fail = 0 ] && echo "slow_quantize_resume: ok"
exit $fail
