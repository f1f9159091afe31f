#!/usr/bin/env bash
# llamacpp_frontier.sh — llama.cpp's points of the rate-distortion frontier
# on pg-dev (issue 12), made the way ../shared/docs/evaluation.md made its
# WikiText-2 ones and measured on WikiText-2 and C4 with crvq's perplexity:
#   1. pg-dev written as a GGUF llama.cpp reads (bench/save_model: bf16
#      tensors kept exactly);
#   2. an importance matrix from pg-calib.txt (llama-imatrix -c 512
#      --chunks 200, as evaluation.md);
#   3. llama-quantize --imatrix to IQ1_S, IQ1_M, IQ2_XXS and Q2_K with the
#      token embedding (pg-dev's head too: tied) kept bf16, so only the
#      linear layers are quantized ("embeddings and norms original");
#   4. each file dequantized by llama-quantize --allow-requantize to F32
#      (ggml's own dequantization, exact in float32), and the original bf16
#      embedding carried along unchanged;
#   5. bits per linear weight of the quantized file (bench/gguf_linear_bits.py),
#      and `crvq perplexity` (stream protocol, ctx 1024, the first WINDOWS
#      windows) of the dequantized one on WikiText-2 and C4, with the
#      original's beside them for the ratios.
# Prints a Markdown table and, last, one JSON line with every row.
#
#   LLAMACPP=/path/to/llama.cpp bash bench/llamacpp_frontier.sh [BUILD_DIR]
#
# Environment: LLAMACPP (a llama.cpp source tree; built in LLAMACPP/build
# when it has no build; unset: skipped, exit 77), CRVQ_SHARED (../shared),
# WINDOWS (64), TYPES ("IQ1_S IQ1_M IQ2_XXS Q2_K"), WORK (scratch, kept
# when given: finished steps are not redone).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
crvq=$build/crvq save=$build/bench/save_model
shared=${CRVQ_SHARED:-$here/../shared}
windows=${WINDOWS:-64} types=${TYPES:-IQ1_S IQ1_M IQ2_XXS Q2_K}
log() { echo "llamacpp_frontier.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ -n "${LLAMACPP:-}" ] || { log "LLAMACPP is not set (a llama.cpp source tree): skipped"; exit 77; }
[ -f "$LLAMACPP/CMakeLists.txt" ] || die "$LLAMACPP is not a llama.cpp source tree"
[ -x "$crvq" ] && [ -x "$save" ] || die "$crvq or $save not found: build crvq first"
model=$shared/models/pg-dev calib=$shared/data/pg-calib.txt
wiki=$shared/data/wikitext2-test.txt c4=$shared/data/c4-val-1100.txt
for f in "$model/model.safetensors" "$calib" "$wiki" "$c4"; do [ -f "$f" ] || die "$f not found"; done
lbin=$LLAMACPP/build/bin
if [ ! -x "$lbin/llama-quantize" ] || [ ! -x "$lbin/llama-imatrix" ]; then
    log "building llama.cpp in $LLAMACPP/build"
    cmake -S "$LLAMACPP" -B "$LLAMACPP/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF >/dev/null
    cmake --build "$LLAMACPP/build" -j "$(nproc)" --target llama-quantize llama-imatrix >/dev/null
fi
lcommit=$(LLAMACPP=$LLAMACPP bash "$here/bench/llamacpp_commit.sh") || die "cannot tell the llama.cpp commit"
log "llama.cpp $lcommit"
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else
    work=$(mktemp -d "${TMPDIR:-/tmp}/crvq-frontier.XXXXXX"); trap 'rm -rf "$work"' EXIT; fi
made() { [ -s "$1" ]; }
# finish OUT: OUT.part (complete) becomes OUT, so an interrupted step leaves no file made() accepts
finish() { mv "$1.part" "$1"; }

# run LOG CMD...: CMD with its output in LOG, its tail shown if it fails
run() {
    local out=$1
    shift
    "$@" >"$out" 2>&1 || { tail -20 "$out" >&2; die "failed: $*"; }
}

orig=$work/pg-dev-bf16.gguf
made "$orig" || run "$work/save.log" "$save" "$model" "$orig" # written atomically by crvq_model_save
if ! made "$work/imatrix.dat"; then
    log "llama-imatrix: 200 chunks of 512 tokens of pg-calib.txt"
    run "$work/imatrix.log" "$lbin/llama-imatrix" -m "$orig" -f "$calib" -o "$work/imatrix.part.dat" -c 512 \
        --chunks 200 -t "$(nproc)"
    mv "$work/imatrix.part.dat" "$work/imatrix.dat" # .dat last: the name tells llama.cpp the format
fi
for q in $types; do
    made "$work/$q.gguf" || { run "$work/quantize-$q.log" "$lbin/llama-quantize" --imatrix "$work/imatrix.dat" \
        --token-embedding-type bf16 --output-tensor-type bf16 "$orig" "$work/$q.gguf.part" "$q" "$(nproc)" &&
        finish "$work/$q.gguf"; }
    made "$work/$q-f32.gguf" || { run "$work/dequant-$q.log" "$lbin/llama-quantize" --allow-requantize \
        "$work/$q.gguf" "$work/$q-f32.gguf.part" F32 "$(nproc)" && finish "$work/$q-f32.gguf"; }
done

# ppl FILE TEXT: crvq's perplexity of FILE on TEXT (cached beside the file)
ppl() {
    local out=$1.$(basename "$2").json
    made "$out" || { "$crvq" perplexity -m "$1" -f "$2" --ctx 1024 --max-windows "$windows" --json 2>/dev/null \
        >"$out.part" && finish "$out"; } || die "crvq perplexity of $1 failed"
    tail -n1 "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["ppl"])'
}
log "perplexity of the original"
ow=$(ppl "$orig" "$wiki") oc=$(ppl "$orig" "$c4")
rows=()
for q in $types; do
    log "perplexity of $q"
    rows+=("$q $(python3 "$here/bench/gguf_linear_bits.py" "$work/$q.gguf") $(ppl "$work/$q-f32.gguf" "$wiki") $(ppl "$work/$q-f32.gguf" "$c4")")
done
python3 - "$lcommit" "$windows" "$ow" "$oc" "${rows[@]}" <<'PY'
import json, sys
commit, windows, ow, oc = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"llama.cpp {commit}; pg-dev, imatrix from pg-calib.txt (200 x 512), embedding bf16; crvq perplexity, "
      f"stream protocol, ctx 1024, first {windows} windows\n")
print("| type | bits per linear weight | WikiText-2 | ratio | C4 | ratio |")
print("|---|---|---|---|---|---|")
print(f"| original (bf16) | 16 | {ow:.2f} | 1 | {oc:.2f} | 1 |")
out = {"llamacpp": commit, "windows": windows, "original": {"wikitext2": ow, "c4": oc}, "rows": []}
for r in sys.argv[5:]:
    t, bits, w, c = r.split()
    bits, w, c = float(bits), float(w), float(c)
    print(f"| {t} | {bits:.3f} | {w:.2f} | {w / ow:.3f} | {c:.2f} | {c / oc:.3f} |")
    out["rows"].append({"type": t, "linear_bpw": bits, "wikitext2": w, "c4": c, "ratio_wikitext2": w / ow,
                        "ratio_c4": c / oc})
print(json.dumps(out))
PY
