# slow_tokenizer_oracle.sh CRVQ — `crvq tokenize` against SentencePiece itself
# (full mode of tokenizer_oracle.py).
# For both shared tokenizer.model files every shared data file, encoded whole as
# one string, must give exactly the ids of Debian's python3-sentencepiece (and
# the counts / first ids of ../shared/docs/evaluation.md); tokenizer.bin must
# agree with its tokenizer.model; tok512.bin with llama2.c's encoder on 100
# TinyStories documents. Slow only because SentencePiece's Python encoder takes
# ~6 s for a 3 MB file; crvq itself needs ~0.5 s. Same checks and skips as
# test_tokenizer_oracle.sh, which it runs in full mode.
set -u
exec bash "$(dirname "$0")/test_tokenizer_oracle.sh" "${1:?usage: slow_tokenizer_oracle.sh CRVQ}" full
