#!/usr/bin/env bash
# test_cli_quantize_e2e.sh — `crvq quantize --e2e-epochs N`, distillation as
# the last stage of quantization, on stories260K: the file it writes loads,
# is closer to the original (KL on held-out text) than the same quantization
# without the stage and carries the same crvq.* record; --json reports the
# stage, stderr its progress; bad values and combinations
# exit 2 and write nothing; --help lists the flags.
set -u
crvq=${1:-${CRVQ_BIN:-crvq}}
# model (the original), text, need, scratch, ok DESCRIPTION COMMAND...
source "$(dirname "$0")/cli_lib.sh"
scratch quantize-e2e

exit_is() { # exit_is CODE ARGS...: crvq quantize ARGS exits with CODE
    local want=$1
    shift
    exits "$want" quantize "$@"
}

"$crvq" quantize --help >"$tmp/help"
for f in --e2e-epochs --e2e-lr --e2e-min-lr --e2e-warmup --e2e-batch --e2e-accum --e2e-train-embeddings; do
    ok "--help lists $f" grep -q -- "^  $f " "$tmp/help"
done
ok "--help says the stage is off by default" grep -q -- "--e2e-epochs N .*(default 0: off)" "$tmp/help"
"$crvq" finetune --help >"$tmp/fhelp"
ok "finetune --help keeps its spellings" grep -q -- "^  --epochs N .*(default 1)" "$tmp/fhelp"

need "$model" "$text"
# a small crvq quantization (stories260K's dim 64: d 4), no block fine-tuning
# so that the stage alone makes the difference
q=(-m "$model" --calib "$text" --method crvq -d 4 -M 2 -e 6,4 --lambda 0.25 --nsamples 8 --nval 4 --seqlen 32
   --no-finetune --threads 2)
e2e=(--e2e-epochs 1 --e2e-lr 1e-3 --e2e-warmup 1)

ok "bad --e2e-epochs" exit_is 2 "${q[@]}" -o "$tmp/x.gguf" --e2e-epochs -1
ok "... names the flag" grep -q -- "--e2e-epochs" "$tmp/err"
ok "non-numeric --e2e-epochs" exit_is 2 "${q[@]}" -o "$tmp/x.gguf" --e2e-epochs one
ok "bad --e2e-lr" exit_is 2 "${q[@]}" -o "$tmp/x.gguf" "${e2e[@]}" --e2e-lr 0
ok "bad --e2e-batch" exit_is 2 "${q[@]}" -o "$tmp/x.gguf" "${e2e[@]}" --e2e-batch 0
ok "--e2e-epochs with a scalar method" exit_is 2 -m "$model" --calib "$text" --method rtn --group-size 32 \
    -o "$tmp/x.gguf" --e2e-epochs 1
ok "... one line says why" test "$(wc -l <"$tmp/err")" = 1 -a -n "$(grep 'vq and crvq only' "$tmp/err")"
ok "--e2e-epochs with a quantized head" exit_is 2 "${q[@]}" -o "$tmp/x.gguf" "${e2e[@]}" --head q8g32
ok "... one line says why" test "$(wc -l <"$tmp/err")" = 1 -a -n "$(grep 'head and embedding' "$tmp/err")"
ok "an --e2e-* setting without the stage" exit_is 2 "${q[@]}" -o "$tmp/x.gguf" --e2e-lr 1e-3
ok "... says it needs --e2e-epochs" grep -q "need --e2e-epochs" "$tmp/err"
ok "nothing written on errors" test ! -e "$tmp/x.gguf" -a ! -e "$tmp/x.gguf.ckpt"

ok "quantize without the stage" exit_is 0 "${q[@]}" -o "$tmp/q0.gguf" --quiet --json
ok "... reports no stage" python3 -c 'import json,sys; sys.exit("e2e" in json.loads(sys.argv[1]))' "$(tail -n 1 "$tmp/out")"
ok "quantize --e2e-epochs 1" exit_is 0 "${q[@]}" -o "$tmp/q1.gguf" "${e2e[@]}" --json
ok "progress on stderr" grep -q "^epoch 1/1: validation KL" "$tmp/err"
ok "JSON reports the stage" python3 - "$(tail -n 1 "$tmp/out")" <<'PY'
import json, sys
j = json.loads(sys.argv[1])["e2e"]
for k in ["epochs", "best_epoch", "seconds", "val_kl_before", "val_kl_after", "val_ppl_before", "val_ppl_after",
          "lr", "device"]:
    assert k in j, k
assert j["epochs"] == 1 and j["device"] == "cpu" and j["seconds"] >= 0, j
assert j["val_kl_after"] < j["val_kl_before"], j
PY
ok "one file, no checkpoint left" test -s "$tmp/q1.gguf" -a ! -e "$tmp/q1.gguf.ckpt" -a ! -e "$tmp/q1.gguf.e2e" \
    -a -z "$(ls "$tmp" | grep 'tmp\.')"
kl() { "$crvq" perplexity -m "$1" -f "$text" --kl-base "$model" --ctx 64 --max-windows 4 --json 2>/dev/null |
    tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["kld"])'; }
before=$(kl "$tmp/q0.gguf")
after=$(kl "$tmp/q1.gguf")
echo "KL to the original on held-out text: $before without the stage, $after with it"
ok "the file loads and is closer to the original" python3 -c "import sys; sys.exit(not (0 < $after < $before))"
meta() { "$crvq" info -m "$1" --json | tail -n 1 | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["crvq"], sort_keys=True))'; }
ok "the crvq.* record is the quantization's" test "$(meta "$tmp/q1.gguf")" = "$(meta "$tmp/q0.gguf")"

# Killed during the stage: the per-block checkpoint (complete) is still
# there, so --resume takes every block from it and runs the stage again.
"$crvq" quantize "${q[@]}" -o "$tmp/k.gguf" --e2e-epochs 100000 --e2e-lr 1e-3 2>"$tmp/kerr" >/dev/null &
pid=$!
for _ in $(seq 600); do grep -q "distillation:" "$tmp/kerr" && break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
ok "killed in the stage: no output, the checkpoint kept" test ! -e "$tmp/k.gguf" -a -s "$tmp/k.gguf.ckpt"
ok "--resume after it" exit_is 0 "${q[@]}" -o "$tmp/k.gguf" "${e2e[@]}" --resume --quiet --json
ok "... took every block from the checkpoint and ran the stage" python3 - "$(tail -n 1 "$tmp/out")" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
assert j["blocks_resumed"] == 5 and j["e2e"]["epochs"] == 1, j
PY
ok "... the same file as an uninterrupted run" cmp -s "$tmp/k.gguf" "$tmp/q1.gguf"

echo "$count checks, $failed failed"
[ "$failed" = 0 ]
