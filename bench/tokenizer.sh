#!/usr/bin/env bash
# tokenizer.sh — encoding speed, single thread, in thread CPU time: crvq's
# byte-level BPE on the Llama 3 and Qwen3 tokenizer.json files against
# SentencePiece's own encoder (python3-sentencepiece) on the Llama 2
# tokenizer.model, over the same shared text files, in bytes of text per
# second. crvq's SentencePiece encoder on the same tokenizer.model is a row
# too. crvq: best of 3 runs of crvq_tokenize on each whole file.
# SentencePiece: sp.encode(text) on the whole file (what crvq does), and one
# sp.encode(line) per line (SentencePiece's fast case: short strings),
# best of 3 (the whole-file run once: it takes seconds). Writes
# bench/results/tokenizer.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
OUT=${OUT:-bench/results/tokenizer.md}
PY=/usr/bin/python3 # the one with python3-sentencepiece
bench=$BUILD/bench/bench_tokenizer
[ -x "$bench" ] || { echo "tokenizer.sh: $bench not found; build first" >&2; exit 1; }
"$PY" -c "import sentencepiece" || { echo "tokenizer.sh: $PY has no sentencepiece (scripts/install-deps.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$OUT")"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

files=()
for f in wikitext2-test.txt c4-val-1100.txt tinystories-val-1k.txt pg-calib.txt pg-test.txt; do
    files+=("$SHARED/data/$f")
done
for t in llama3 qwen3; do
    gzip -dc "$SHARED/models/$t-tokenizer/tokenizer.json.gz" > "$tmp/$t.json"
    "$bench" "$tmp/$t.json" 3 "${files[@]}" > "$tmp/$t.txt"
done
"$bench" "$SHARED/models/llama2-tokenizer/tokenizer.model" 3 "${files[@]}" > "$tmp/crvq_sp.txt"
"$PY" - "$SHARED/models/llama2-tokenizer/tokenizer.model" "${files[@]}" > "$tmp/sp.txt" <<'EOF'
import sys, time
import sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
for path in sys.argv[2:]:
    text = open(path, encoding="utf-8").read()
    size = len(text.encode("utf-8"))
    t0 = time.thread_time()
    n = len(sp.encode(text))
    whole = time.thread_time() - t0
    lines = text.split("\n")
    best = 1e30
    for _ in range(3):
        t0 = time.thread_time()
        for line in lines:
            sp.encode(line)
        best = min(best, time.thread_time() - t0)
    print(path, size, n, "%.4f %.2f %.4f %.2f" % (whole, size / whole / 1e6, best, size / best / 1e6))
EOF

row() { # FILE column (1-based among the file's lines) of a result file
    awk -v f="$1" -v c="$2" '$1 == f { print $c }' "$3"
}
{
    echo "# Tokenizer encoding speed"
    echo
    echo "Written by \`bench/tokenizer.sh\` on $(date -u +%Y-%m-%d): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
    echo "$(nproc) cores, load average $load_start at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "(other jobs were running: times are the encoding thread's CPU time, which they do not inflate much)."
    echo "One thread each. MB/s = 10^6 bytes of UTF-8 text per CPU second."
    echo
    echo "- crvq tokenizer.json: \`crvq_tokenize\` on the whole file, best of 3 (bench/bench_tokenizer.c)."
    echo "- SentencePiece: python3-sentencepiece $("$PY" -c 'import sentencepiece; print(sentencepiece.__version__)'),"
    echo "  Llama 2 \`tokenizer.model\`; \`encode(text)\` on the whole file (once), and \`encode(line)\` for each line"
    echo "  (best of 3; Python's loop overhead included, small next to the encoding)."
    echo "- crvq SentencePiece: crvq's own encoder on the same \`tokenizer.model\` (whole file, best of 3)."
    echo
    echo "Loading: Llama 3 tokenizer.json $(awk '$1=="load"{print $2}' "$tmp/llama3.txt") s, Qwen3 $(awk '$1=="load"{print $2}' "$tmp/qwen3.txt") s of CPU."
    echo
    echo "| file | MB | crvq Llama 3 json | crvq Qwen3 json | SentencePiece, whole file | SentencePiece, per line | crvq SentencePiece |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for f in "${files[@]}"; do
        mb=$(awk -v b="$(row "$f" 2 "$tmp/llama3.txt")" 'BEGIN { printf "%.2f", b / 1e6 }')
        echo "| $(basename "$f") | $mb | $(row "$f" 5 "$tmp/llama3.txt") | $(row "$f" 5 "$tmp/qwen3.txt") |" \
             "$(row "$f" 5 "$tmp/sp.txt") | $(row "$f" 7 "$tmp/sp.txt") | $(row "$f" 5 "$tmp/crvq_sp.txt") |"
    done
    echo
    echo "Tokens per file (Llama 3 / Qwen3 / Llama 2):"
    for f in "${files[@]}"; do
        echo "- $(basename "$f"): $(row "$f" 3 "$tmp/llama3.txt") / $(row "$f" 3 "$tmp/qwen3.txt") / $(row "$f" 3 "$tmp/sp.txt")"
    done
} > "$OUT"
cat "$OUT"
