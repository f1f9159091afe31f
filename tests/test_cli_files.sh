#!/usr/bin/env bash
# test_cli_files.sh CRVQ — what crvq promises about the user's files
# (README, "What crvq guarantees about your files"), tried the hostile way:
#   - no command writes over, renames over or deletes a file it reads, however
#     it is spelled (same path, hard link, symlink, a file found inside an HF
#     directory, --checkpoint naming an input);
#   - a checkpoint is deleted only when crvq made it, a user's file named by
#     --checkpoint is never overwritten nor deleted;
#   - outputs that are FIFOs or device nodes are refused, never replaced;
#   - a FIFO given as any input is refused at once instead of hanging;
#   - bad outputs (-o "", a directory, a missing directory) fail before any work;
#   - two runs on one output: the second is refused while the first runs;
#   - --threads has one bound in every command and is capped;
#   - a failed write names the file and the reason (errno).
# stories260K (../shared) is copied into a scratch directory: every file
# the checks try to overwrite is a copy, compared with the original after.
set -u
crvq=$1
# model, tok, text, pgdev, need_files, ok (counting into failed)
source "$(dirname "$0")/cli_lib.sh"
need_files "$model" "$tok" "$text"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-files.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
hang=${CRVQ_HANG_SECONDS:-60}

# run CODE NEEDLE ARGS...: crvq ARGS (killed after $hang s: a hang is a failure)
# exits with CODE and, for CODE != 0, prints exactly one stderr line that
# contains NEEDLE.
run() {
    count=$((count + 1))
    local code=$1 needle=$2
    shift 2
    timeout "$hang" "$crvq" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" != "$code" ] || { [ "$code" != 0 ] && { [ "$lines" != 1 ] || ! grep -qF -- "$needle" "$tmp/err"; }; }; then
        echo "FAIL: crvq $* -> exit $rc (want $code), $lines stderr lines, want one with '$needle':"
        head -n 5 "$tmp/err"
        failed=$((failed + 1))
    fi
}

same() { cmp -s "$1" "$2" || { echo "  $1 differs from $2"; return 1; }; }
no_leftovers() { # no temporary or lock files in $tmp
    local left
    left=$(find "$tmp" -name '*.tmp.*' -o -name '*.lock' | head -n 3)
    [ -z "$left" ] || { echo "  left behind: $left"; return 1; }
}

restore() { # fresh copies of the inputs, so that one lost file does not fail every later check
    rm -f "$tmp/m.bin" "$tmp/tok512.bin" "$tmp/calib.txt" "$tmp/notes.txt"
    cp "$model" "$tmp/m.bin"
    cp "$tok" "$tmp/tok512.bin" # found beside m.bin by the llama2.c loader
    head -c 30000 "$text" >"$tmp/calib.txt"
    echo "my notes" >"$tmp/notes.txt"
}
restore
q=(quantize -m "$tmp/m.bin" --calib "$tmp/calib.txt" --method rtn --group-size 4 --nsamples 2 --nval 0 --seqlen 32 --threads 2)
intact() { # the inputs are as they were
    same "$tmp/m.bin" "$model" && same "$tmp/tok512.bin" "$tok" && same "$tmp/notes.txt" <(echo "my notes") &&
        cmp -s "$tmp/calib.txt" <(head -c 30000 "$text")
}

# --- a good run: its checkpoint and lock are gone after it ----------------------------
run 0 "" "${q[@]}" -o "$tmp/q.gguf" --quiet
ok "a run leaves its output and no checkpoint, temporary or lock" test -s "$tmp/q.gguf" -a ! -e "$tmp/q.gguf.ckpt"
ok "no leftovers" no_leftovers
run 0 "" "${q[@]}" -o "$tmp/c.gguf" --checkpoint "$tmp/new.ckpt" --quiet
ok "a checkpoint crvq created is removed" test ! -e "$tmp/new.ckpt"

# --- an output or a checkpoint never replaces an input ----------------------------------
run 1 "replace" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp/m.bin"
run 1 "replace" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp/calib.txt"
run 1 "replace" "${q[@]}" -o "$tmp/calib.txt"
run 1 "replace" "${q[@]}" -o "$tmp/tok512.bin"                        # found beside the model
run 1 "replace" "${q[@]}" --tokenizer "$tmp/tok512.bin" -o "$tmp/./tok512.bin"
ln "$tmp/m.bin" "$tmp/hard.bin"
ln -s "$tmp/calib.txt" "$tmp/sym.txt"
run 1 "replace" "${q[@]}" -o "$tmp/hard.bin"
run 1 "replace" "${q[@]}" -o "$tmp/sym.txt"
ok "the symlink is still a symlink" test -L "$tmp/sym.txt"
run 1 "replace" quantize -m "$tmp/sym.txt" --calib "$tmp/calib.txt" -o "$tmp/o.gguf" --checkpoint "$tmp/calib.txt"
ok "inputs intact after the collisions" intact
restore
ok "the refused runs wrote nothing" test ! -e "$tmp/o.gguf"

# --checkpoint and -o are one file: refused (it used to delete the output after writing it)
run 1 "same file" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp/o.gguf"
run 1 "same file" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp/../${tmp##*/}/o.gguf"
run 1 "same file" "${q[@]}" -o "$tmp/q.gguf" --checkpoint "$tmp/q.gguf"

# a user's file named by --checkpoint is neither overwritten nor deleted
run 1 "not a crvq checkpoint" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp/notes.txt"
run 1 "not a crvq checkpoint" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp/notes.txt" --resume
cp "$tmp/notes.txt" "$tmp/o.gguf.ckpt"
run 1 "not a crvq checkpoint" "${q[@]}" -o "$tmp/o.gguf"                # the default OUT.ckpt
ok "a user's file at OUT.ckpt is kept" same "$tmp/o.gguf.ckpt" "$tmp/notes.txt"
rm "$tmp/o.gguf.ckpt"
ok "notes intact" intact
restore

# A checkpoint crvq made (crvq.ckpt.* keys) of another run: --resume refuses it
# and keeps it; without --resume it is replaced and, after success, removed.
le32() { for v in "$@"; do printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)))"; done; }
le64() { le32 $(($1 & 0xffffffff)) $(($1 >> 32 & 0xffffffff)); }
kv_u32() { le64 ${#1}; printf '%s' "$1"; le32 4 "$2"; }
kv_u64() { le64 ${#1}; printf '%s' "$1"; le32 10; le64 "$2"; }
{ printf 'GGUF'; le32 3; le64 0; le64 3; kv_u32 crvq.ckpt.version 1; kv_u32 crvq.ckpt.blocks_done 0
  kv_u64 crvq.ckpt.run_hash 12345; } >"$tmp/foreign.ckpt"
cp "$tmp/foreign.ckpt" "$tmp/r.gguf.ckpt"
run 1 "without --resume" "${q[@]}" -o "$tmp/r.gguf" --resume --quiet
ok "a checkpoint of another run is kept on a refused --resume" same "$tmp/r.gguf.ckpt" "$tmp/foreign.ckpt"
run 0 "" "${q[@]}" -o "$tmp/r.gguf" --quiet
ok "a crvq checkpoint replaced by the run is removed after it" test -s "$tmp/r.gguf" -a ! -e "$tmp/r.gguf.ckpt"

# Hugging Face directory: its files are inputs too (copies, weights linked).
if [ -r "$pgdev/model.safetensors" ]; then
    mkdir "$tmp/hf"
    cp "$pgdev/config.json" "$pgdev/tokenizer.model" "$tmp/hf/"
    ln -s "$pgdev/model.safetensors" "$tmp/hf/model.safetensors"
    hq=(quantize -m "$tmp/hf" --calib "$tmp/calib.txt" --method rtn --nsamples 1 --nval 0 --seqlen 16 --threads 2)
    for f in config.json tokenizer.model model.safetensors; do
        run 1 "replace" "${hq[@]}" -o "$tmp/hf/$f"
        run 1 "replace" "${hq[@]}" -o "$tmp/hf.gguf" --checkpoint "$tmp/hf/$f"
    done
    ok "HF files intact" cmp -s "$tmp/hf/config.json" "$pgdev/config.json"
    ok "HF tokenizer intact" cmp -s "$tmp/hf/tokenizer.model" "$pgdev/tokenizer.model"
    ok "HF weights still a link" test -L "$tmp/hf/model.safetensors"
else
    echo "note: $pgdev missing, HF-directory checks skipped"
fi

# finetune: the teacher, the training text and a user's file are never written
ft=(finetune -m "$tmp/q.gguf" --teacher "$tmp/m.bin" --data "$tmp/calib.txt" --nsamples 2 --nval 1 --seqlen 32
    --epochs 1 --batch 2 --threads 2)
run 1 "replace" "${ft[@]}" -o "$tmp/calib.txt"
run 1 "replace" "${ft[@]}" -o "$tmp/ft.gguf" --checkpoint "$tmp/m.bin"
run 1 "replace" "${ft[@]}" -o "$tmp/ft.gguf" --checkpoint "$tmp/q.gguf"
run 1 "not a crvq checkpoint" "${ft[@]}" -o "$tmp/ft.gguf" --checkpoint "$tmp/notes.txt"
run 1 "same file" "${ft[@]}" -o "$tmp/ft.gguf" --checkpoint "$tmp/ft.gguf"
ok "finetune inputs intact" intact
restore
run 0 "" "${ft[@]}" -o "$tmp/ft.gguf" --quiet
ok "finetune leaves its output, no checkpoint" test -s "$tmp/ft.gguf" -a ! -e "$tmp/ft.gguf.e2e"

# --- outputs that are not regular files -------------------------------------------------
mkfifo "$tmp/fifo"
run 1 "not a regular file" "${q[@]}" -o "$tmp/fifo"
ok "the FIFO output is still a FIFO" test -p "$tmp/fifo"
run 1 "not a regular file" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp/fifo"
run 1 "not a regular file" quantize-matrix --synthetic 4x8 --method rtn --group-size 8 --save-weight "$tmp/fifo"
if mknod "$tmp/null" c 1 3 2>/dev/null; then
    run 1 "not a regular file" "${q[@]}" -o "$tmp/null"
    ok "the device node is still a device node" test -c "$tmp/null"
fi

# --- FIFOs as inputs: refused at once (they used to block forever) -----------------------
rm -f "$tmp/fifo" && mkfifo "$tmp/fifo" # in case a check above replaced it
run 1 "not a regular file" quantize -m "$tmp/fifo" --calib "$tmp/calib.txt" -o "$tmp/o.gguf"
run 1 "not a regular file" "${q[@]}" --tokenizer "$tmp/fifo" -o "$tmp/o.gguf"
run 1 "not a regular file" quantize -m "$tmp/m.bin" --calib "$tmp/fifo" -o "$tmp/o.gguf"
run 1 "not a regular file" "${ft[@]}" --data "$tmp/fifo" -o "$tmp/ft2.gguf"
run 1 "not a regular file" finetune -m "$tmp/q.gguf" --teacher "$tmp/fifo" --data "$tmp/calib.txt" -o "$tmp/ft2.gguf"
run 1 "not a regular file" finetune -m "$tmp/fifo" --teacher "$tmp/m.bin" --data "$tmp/calib.txt" -o "$tmp/ft2.gguf"
run 1 "not a regular file" perplexity -m "$tmp/m.bin" -f "$tmp/fifo"
run 1 "not a regular file" perplexity -m "$tmp/q.gguf" -f "$tmp/calib.txt" --kl-base "$tmp/fifo"
run 1 "not a regular file" perplexity -m "$tmp/m.bin" --tokenizer "$tmp/fifo" -f "$tmp/calib.txt"
run 1 "not a regular file" tokenize -m "$tmp/m.bin" -f "$tmp/fifo"
run 1 "not a regular file" info -m "$tmp/fifo"
run 1 "not a regular file" generate -m "$tmp/fifo" -p "Once"
run 1 "not a regular file" bench -m "$tmp/fifo"
run 1 "not a regular file" quantize-matrix --weight "$tmp/fifo" --hessian "$tmp/fifo" --method rtn
mkdir "$tmp/hf-fifo-config" "$tmp/hf-fifo-shard"
mkfifo "$tmp/hf-fifo-config/config.json"
printf '{"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 1,
 "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16}' >"$tmp/hf-fifo-shard/config.json"
printf '{"weight_map": {"model.norm.weight": "shard-1.safetensors"}}' >"$tmp/hf-fifo-shard/model.safetensors.index.json"
mkfifo "$tmp/hf-fifo-shard/shard-1.safetensors"
run 1 "config.json" info -m "$tmp/hf-fifo-config"
run 1 "not a regular file" info -m "$tmp/hf-fifo-shard"

# --- outputs that cannot be written fail before any work ---------------------------------
# (not --quiet: the single stderr line shows that no progress was printed)
run 1 "-o" "${q[@]}" -o ""
run 1 "directory" "${q[@]}" -o "$tmp"
run 1 "no-such-dir" "${q[@]}" -o "$tmp/no-such-dir/o.gguf"
run 1 "directory" "${q[@]}" -o "$tmp/o.gguf" --checkpoint "$tmp"
run 1 "-o" "${ft[@]}" -o ""
run 1 "directory" "${ft[@]}" -o "$tmp"
run 1 "directory" "${ft[@]}" -o "$tmp/ft3.gguf" --checkpoint "$tmp"
run 1 "directory" quantize-matrix --synthetic 64x64 --method crvq --save-reconstruction "$tmp"
ok "the failed runs wrote nothing" test ! -e "$tmp/o.gguf" -a ! -e "$tmp/ft2.gguf" -a ! -e "$tmp/ft3.gguf"

# --- two runs on one output: the second is refused while the first holds it -------------
# The first (a slower crvq run) is stopped once it printed its plan, which it
# does after validating and locking its outputs, then ended with SIGTERM:
# it must leave neither temporaries nor lock files behind.
"$crvq" quantize -m "$tmp/m.bin" --calib "$tmp/calib.txt" --method crvq -d 4 -M 2 -e 6,4 --nsamples 8 --nval 2 \
    --seqlen 64 --threads 2 -o "$tmp/two.gguf" >"$tmp/first.out" 2>"$tmp/first.err" &
first=$!
pids+=("$first")
for _ in $(seq 1 1200); do
    grep -q "bits per linear weight" "$tmp/first.err" 2>/dev/null && break
    kill -0 "$first" 2>/dev/null || break
    sleep 0.05
done
kill -STOP "$first" 2>/dev/null
run 1 "another crvq run is writing" "${q[@]}" -o "$tmp/two.gguf"
run 1 "another crvq run is writing" "${q[@]}" -o "$tmp/other.gguf" --checkpoint "$tmp/two.gguf.ckpt"
kill -TERM "$first" 2>/dev/null
kill -CONT "$first" 2>/dev/null
wait "$first"
ok "the first run ends by SIGTERM" test $? = 143
ok "no temporaries or locks left after SIGTERM" no_leftovers
ok "no output from the refused or killed runs" test ! -e "$tmp/two.gguf" -a ! -e "$tmp/other.gguf"

# --- --threads: one bound for every command, capped at 4 x the online cores -------------
for c in quantize finetune quantize-matrix perplexity generate bench; do
    run 2 "--threads" "$c" --threads 0
    run 2 "--threads" "$c" --threads two
done
cap=$((4 * $(getconf _NPROCESSORS_ONLN)))
run 0 "" quantize-matrix --synthetic 8x16 --method rtn --group-size 8 --threads 100000 --json
ok "--threads above the cap is clamped" json "$tmp/out" "d['threads'] == $cap"
ok "with a warning" grep -q "warning: --threads 100000" "$tmp/err"
run 0 "" perplexity -m "$tmp/m.bin" -f "$tmp/calib.txt" --ctx 32 --max-windows 2 --threads 5000 --json
ok "perplexity takes the same bound" json "$tmp/out" "d['threads'] == $cap"
run 0 "" "${q[@]}" -o "$tmp/t.gguf" --threads 4096 --quiet

# --- a failed write names the file and the reason ----------------------------------------
# (a 64 KiB file-size limit, SIGXFSZ ignored: write() fails with EFBIG)
(ulimit -f 64; trap '' XFSZ; exec "$crvq" "${q[@]}" -o "$tmp/big.gguf" --quiet) >"$tmp/out" 2>"$tmp/err"
ok "the write error exits 1" test $? = 1
ok "it names the file and errno" grep -Eq "big\.gguf(\.ckpt)?: .*File too large" "$tmp/err"
(ulimit -f 1; trap '' XFSZ; exec "$crvq" quantize-matrix --synthetic 64x64 --method rtn --group-size 8 \
    --save-weight "$tmp/w.npy") >"$tmp/out" 2>"$tmp/err"
ok "the .npy write error names the file and errno" grep -q "w\.npy: .*File too large" "$tmp/err"
ok "nothing left of the failed writes" test ! -e "$tmp/big.gguf" -a ! -e "$tmp/w.npy"
ok "no temporaries left" no_leftovers

ok "inputs intact at the end" intact
[ "$fail" = 0 ] || failed=$((failed + 1))
echo "$count checks, $failed failed"
[ "$failed" = 0 ]
