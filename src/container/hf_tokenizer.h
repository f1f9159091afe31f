// hf_tokenizer.h — the Hugging Face tokenizer files of a tokenizer crvq holds
// in memory (hf_tokenizer.c), for `crvq export` of a model whose tokenizer
// has no such file to copy: a crvq container's tokenizer.ggml.* vocabulary,
// a llama2.c tokenizer.bin (docs/export.md).
#ifndef CRVQ_HF_TOKENIZER_H
#define CRVQ_HF_TOKENIZER_H

#include "crvq.h"

#include <stddef.h>

#define CRVQ_HF_TOK_FILES 3

typedef struct crvq_hf_tok_file {
    const char *name; // static
    char *data;       // malloc'ed
    size_t len;
} crvq_hf_tok_file;

// files[0] tokenizer.model (SentencePiece vocabulary) or tokenizer.json
// (byte-level BPE), files[1] tokenizer_config.json (BOS/EOS/unk, whether BOS
// is added, model_max_length), files[2] special_tokens_map.json. Reading
// files[0] back (with files[1] beside a tokenizer.json) gives a tokenizer
// that encodes every text to the same ids. On an error nothing is returned.
crvq_status crvq_hf_tokenizer_files(const crvq_tokenizer *t, int model_max_length,
                                    crvq_hf_tok_file files[CRVQ_HF_TOK_FILES]);
void crvq_hf_tokenizer_files_free(crvq_hf_tok_file files[CRVQ_HF_TOK_FILES]);

#endif
