// calib.h — calibration windows drawn from a text.
#ifndef CRVQ_QUANT_CALIB_H
#define CRVQ_QUANT_CALIB_H

#include "crvq.h"

// n_train + n_val windows of seqlen tokens each. Training windows start at
// seeded uniform positions in the first 90% of the text's tokens, validation
// windows in the last 10%, so the two never share a token. No BOS is
// inserted: windows start mid-text, as in GPTQ/AQLM calibration and as the
// "stream" perplexity protocol's later windows do.
typedef struct crvq_calib {
    int n_train, n_val, seqlen;
    int *tokens;     // (n_train + n_val, seqlen): training windows first
    size_t n_text_tokens;
} crvq_calib;

crvq_status crvq_calib_sample(const crvq_tokenizer *tok, const char *text_path, int n_train, int n_val,
                              int seqlen, uint64_t seed, crvq_calib *out);
void crvq_calib_free(crvq_calib *c);

#endif
