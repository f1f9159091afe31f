# slow_tokenizer_oracle.sh CRVQ — `crvq tokenize` against SentencePiece itself
# (full mode of tokenizer_oracle.py).
# For both shared tokenizer.model files every shared data file, encoded whole as
# one string, must give exactly the ids of Debian's python3-sentencepiece (and
# the counts / first ids of ../shared/docs/evaluation.md); tokenizer.bin must
# agree with its tokenizer.model; tok512.bin with llama2.c's encoder on 100
# TinyStories documents. Slow only because SentencePiece's Python encoder is
# (~6 s for a 3 MB file); crvq itself needs ~0.5 s.
set -u
CRVQ=${1:?usage: slow_tokenizer_oracle.sh CRVQ}
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

exec "$PY" "$(dirname "$0")/tokenizer_oracle.py" full "$CRVQ" "$SHARED"
