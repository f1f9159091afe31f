#!/bin/bash
# test_cli_target_bpw.sh CRVQ — `crvq quantize --target-bpw B` on stories260K
# (d 4, e 4: its 172-wide FFN takes d = 4): the file's bits per linear
# weight (crvq info, the quantize report) are at most B for crvq and vq;
# the report and info list the same per-layer settings, the file's
# crvq.target_bpw key holds B; B outside what the
# grid reaches is one line on stderr and exit 1 before any work (no file,
# no checkpoint), a malformed B or a flag that --target-bpw replaces is a
# usage error (exit 2); --help and the dry run name the flag and the range.
set -u
crvq=$1
# model, tok, text, need, scratch, json, expect
source "$(dirname "$0")/cli_lib.sh"
need "$model" "$tok" "$text"
scratch target-bpw
q=(quantize -m "$model" --tokenizer "$tok" --calib "$text" -d 4 -e 4 --max-rounds 3 --kmeans-iters 4
   --nsamples 4 --nval 0 --seqlen 64 --no-finetune --threads 2 --quiet)

"$crvq" quantize --help | grep -q -- "--target-bpw B" || { echo "FAIL: --help does not name --target-bpw"; fail=1; }

# the range the grid reaches on this model, from the dry run's JSON-free plan
expect 0 "${q[@]}" --dry-run --target-bpw 2
grep -q "target: at most 2.0000 bits per linear weight" "$tmp/out" || { echo "FAIL: plan: $(cat "$tmp/out")"; fail=1; }
lo=$(sed -n 's/.*this model: \([0-9.]*\) to.*/\1/p' "$tmp/out")
hi=$(sed -n 's/.*to \([0-9.]*\)).*/\1/p' "$tmp/out")
[ -n "$lo" ] && [ -n "$hi" ] || { echo "FAIL: no range in the plan"; exit 1; }

# out of reach: one line, exit 1, nothing written
for b in 0.5 "$(python3 -c "print($hi + 0.01)")"; do
    expect 1 "${q[@]}" -o "$tmp/bad.gguf" --target-bpw "$b"
    [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q -- "--target-bpw $b is" "$tmp/err" ||
        { echo "FAIL: --target-bpw $b: $(cat "$tmp/err")"; fail=1; }
    [ -e "$tmp/bad.gguf" ] || [ -e "$tmp/bad.gguf.ckpt" ] && { echo "FAIL: --target-bpw $b wrote a file"; fail=1; }
done
for args in "--target-bpw abc" "--target-bpw -1" "--target-bpw 0" "--target-bpw 2 --lambda 0.1" \
            "--target-bpw 2 --method vq -M 2"; do
    # shellcheck disable=SC2086 # word splitting intended
    expect 2 "${q[@]}" -o "$tmp/bad.gguf" $args
    [ -e "$tmp/bad.gguf" ] && { echo "FAIL: $args wrote a file"; fail=1; }
done
expect 2 quantize -m "$model" --tokenizer "$tok" --calib "$text" -o "$tmp/bad.gguf" --method rtn --target-bpw 2
grep -q "applies to vq and crvq" "$tmp/err" || { echo "FAIL: rtn --target-bpw: $(cat "$tmp/err")"; fail=1; }
# just under the richest (the plan prints it rounded) is accepted
expect 0 "${q[@]}" --dry-run --target-bpw "$(python3 -c "print($hi - 0.0001)")"

# within reach: crvq in the middle of the range, vq at 1.5; bits <= B in the
# report and in the file, the report's layers are the file's
mid=$(python3 -c "print(round(($lo + $hi) / 2, 4))")
for run in "crvq $mid" "vq 1.5"; do
    set -- $run
    "$crvq" "${q[@]}" --method "$1" --target-bpw "$2" -o "$tmp/$1.gguf" --json >"$tmp/$1.qj" ||
        { echo "FAIL: quantize --method $1 --target-bpw $2"; fail=1; continue; }
    "$crvq" info -m "$tmp/$1.gguf" --json >"$tmp/$1.ij" || { echo "FAIL: info $1"; fail=1; continue; }
    json "$tmp/$1.qj" "d['target_bpw'] == $2 and d['linear_bpw'] <= $2"
    json "$tmp/$1.ij" "d['linear_bpw'] <= $2 and abs(d['crvq']['target_bpw'] - $2) < 1e-6"
    python3 - "$tmp/$1.qj" "$tmp/$1.ij" <<'EOF' || { echo "FAIL: $1: report and info differ"; fail=1; }
import json, sys
q, i = (json.loads(open(f).read().splitlines()[-1]) for f in sys.argv[1:])
key = lambda l: (l['name'], l['M'], l['n_crit'] if l['M'] > 1 else 0, l['bpw'])
sys.exit(0 if [key(l) for l in q['layers']] == [key(l) for l in i['layers']] and
         abs(q['linear_bpw'] - i['linear_bpw']) < 1e-12 else 1)
EOF
done
exit $fail
