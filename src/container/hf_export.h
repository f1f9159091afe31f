// hf_export.h — a model as a Hugging Face folder: model.safetensors with
// every tensor dequantized to one dtype, config.json, and the tokenizer files
// a Hugging Face input directory had beside it (docs/export.md).
#ifndef CRVQ_HF_EXPORT_H
#define CRVQ_HF_EXPORT_H

#include "crvq.h"

#include <stdint.h>

#define CRVQ_EXPORT_MAX_FILES 8

typedef struct crvq_export_report {
    int n_files;
    const char *files[CRVQ_EXPORT_MAX_FILES]; // names inside the folder (static strings)
    int n_tensors;
    int64_t bytes;        // all files written, in bytes
    int64_t tensor_bytes; // model.safetensors
    int tokenizer;        // tokenizer files were written
    int tokenizer_rebuilt; // ... made from the tokenizer in memory (nothing to copy; hf_tokenizer.h)
    const char *tokenizer_file; // then the vocabulary file's name: tokenizer.model or tokenizer.json
    char tokenizer_why[256]; // why none was written, when the model has a tokenizer but it has no HF form
} crvq_export_report;

// Writes the folder `dir`, which must not exist or be an empty directory:
// everything goes to a new directory beside it ("DIR.export.XXXXXX") that is
// renamed to `dir` at the end, so `dir` appears whole or not at all and no
// existing file is ever replaced or removed. One matrix is dequantized at a
// time (a slice of rows of it in memory), never the whole model. dtype:
// CRVQ_BF16 (round to nearest even), CRVQ_F16 or CRVQ_F32. q/k rows in
// llama2.c / GGUF interleaved RoPE order are permuted to Hugging Face's
// half-split order (exactly: rows move, values don't change).
// Whether `dir` may become the folder: it does not exist or is an empty
// directory; otherwise CRVQ_ERR_INVALID saying why.
crvq_status crvq_export_check_dir(const char *dir);

// tok_path: the --tokenizer file the model was loaded with, or NULL.
crvq_status crvq_export_hf(const crvq_model *m, const char *dir, crvq_dtype dtype, const char *tok_path,
                           crvq_export_report *rep);

#endif
