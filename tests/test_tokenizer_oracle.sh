# test_tokenizer_oracle.sh CRVQ [quick|full] — `crvq tokenize` against
# SentencePiece itself (quick mode of tokenizer_oracle.py by default;
# slow_tokenizer_oracle.sh runs the full mode through this script).
# Edge cases against python3-sentencepiece for both tokenizer.model files and
# the llama2.c export tokenizer.bin, evaluation.md's counts for two data files,
# tok512.bin against llama2.c's encoder on a few documents. The whole-file
# comparisons are slow_tokenizer_oracle.sh.
set -u
CRVQ=${1:?usage: test_tokenizer_oracle.sh CRVQ}
SHARED=${CRVQ_SHARED:-../shared}
PY=/usr/bin/python3 # the pyenv python3 on PATH has no sentencepiece

for f in models/llama2-tokenizer/tokenizer.model models/llama2-tokenizer/tokenizer.bin \
         models/pg-dev/tokenizer.model models/stories260K/tok512.bin data/wikitext2-test.txt; do
    if [ ! -f "$SHARED/$f" ]; then echo "SKIP: $SHARED/$f not found (shared data missing)"; exit 77; fi
done
if ! "$PY" -c "import sentencepiece" 2>/dev/null; then
    echo "SKIP: $PY has no sentencepiece module (apt install python3-sentencepiece)"
    exit 77
fi

exec "$PY" "$(dirname "$0")/tokenizer_oracle.py" "${2:-quick}" "$CRVQ" "$SHARED"
