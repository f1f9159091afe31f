#!/usr/bin/env bash
# test_cli_finetune.sh — `crvq finetune` end to end on stories260K: a tiny
# crvq quantization is distilled from the original; the JSON line has its
# keys, the validation KL does not get worse, the output loads and its KL to
# the teacher (crvq perplexity --kl-base) is lower; bad flags exit 2, a
# teacher with another vocabulary and an output over the input exit 1.
set -u
crvq=${1:-${CRVQ_BIN:-crvq}}
# model (the teacher), text, pgdev, need, scratch, ok DESCRIPTION COMMAND...
source "$(dirname "$0")/cli_lib.sh"
TEACHER=$model TEXT=$text PGDEV=$pgdev
need "$TEACHER" "$TEXT"
scratch finetune

exit_is() { # exit_is CODE ARGS...: crvq finetune ARGS exits with CODE
    local want=$1
    shift
    exits "$want" finetune "$@"
}

"$crvq" quantize -m "$TEACHER" --calib "$TEXT" -o "$tmp/q.gguf" --method crvq -d 4 -M 2 -e 6,4 --lambda 0.25 \
    --nsamples 2 --nval 0 --seqlen 32 --no-finetune --quiet --threads 2 >/dev/null 2>"$tmp/qerr" ||
    { cat "$tmp/qerr" >&2; echo "FAIL: quantize"; exit 1; }

common=(-m "$tmp/q.gguf" --teacher "$TEACHER" --data "$TEXT" --nsamples 8 --nval 4 --seqlen 32 --batch 4 --threads 2)
ok "finetune runs" exit_is 0 "${common[@]}" -o "$tmp/ft.gguf" --epochs 2 --lr 1e-3 --warmup 1 --quiet --json
json=$(tail -n 1 "$tmp/out")
ok "JSON keys and values" python3 - "$json" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
for k in ["val_ppl_before", "val_ppl_after", "val_kl_before", "val_kl_after", "seconds", "peak_rss_bytes",
          "epochs_run", "best_epoch"]:
    assert k in j, k
assert j["val_kl_after"] <= j["val_kl_before"], j
assert j["epochs_run"] == 2 and 0 <= j["best_epoch"] <= 2 and j["peak_rss_bytes"] > 0, j
PY
ok "output written, checkpoint removed" test -s "$tmp/ft.gguf" -a ! -e "$tmp/ft.gguf.e2e"
meta() { "$crvq" info -m "$1" --json | tail -n 1 | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["crvq"], sort_keys=True))'; }
ok "the input's crvq.* record carried over" test "$(meta "$tmp/ft.gguf")" = "$(meta "$tmp/q.gguf")" -a \
    -n "$(meta "$tmp/q.gguf" | grep '"method": "crvq"')"
kl() { "$crvq" perplexity -m "$1" -f "$TEXT" --kl-base "$TEACHER" --ctx 64 --max-windows 4 --json 2>/dev/null |
    tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["kld"])'; }
before=$(kl "$tmp/q.gguf")
after=$(kl "$tmp/ft.gguf")
echo "KL to the teacher on held-out text: $before -> $after"
ok "the tuned file is closer to the teacher" python3 -c "import sys; sys.exit(not ($after < $before))"

ok "unknown flag" exit_is 2 "${common[@]}" -o "$tmp/x.gguf" --bogus
ok "bad --lr" exit_is 2 "${common[@]}" -o "$tmp/x.gguf" --lr -1
ok "missing --teacher" exit_is 1 -m "$tmp/q.gguf" --data "$TEXT" -o "$tmp/x.gguf"
ok "output over the input" exit_is 1 "${common[@]}" -o "$tmp/q.gguf"
if [ -r "$PGDEV/config.json" ]; then
    ok "teacher with another vocabulary" exit_is 1 -m "$tmp/q.gguf" --teacher "$PGDEV" --data "$TEXT" -o "$tmp/x.gguf"
    ok "one error line names the vocabularies" grep -q "vocabulary" "$tmp/err"
fi
ok "nothing written on errors" test ! -e "$tmp/x.gguf"

echo "$count checks, $failed failed"
[ "$failed" = 0 ]
