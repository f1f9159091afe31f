// calib.c — seeded calibration windows (crvq.h, crvq_calib).
#include "crvq.h"

#include "io/mapfile.h"
#include "quant/rng.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

// Stream id of the window draws, distinct from the quantizer's own streams.
#define CALIB_STREAM 0xca11b0ull

crvq_status crvq_calib_sample(const crvq_tokenizer *tok, const char *text_path, int n_train, int n_val,
                              int seqlen, uint64_t seed, crvq_calib *out) {
    memset(out, 0, sizeof *out);
    if (n_train < 1 || n_val < 0 || seqlen < 2)
        return crvq_fail(CRVQ_ERR_INVALID, "calibration: need >= 1 sample of >= 2 tokens (got %d x %d)",
                         n_train, seqlen);
    crvq_mapfile f;
    crvq_status st = crvq_mapfile_open(text_path, &f);
    if (st) return st;
    int *ids = NULL;
    size_t n = 0;
    st = crvq_tokenize(tok, (const char *)f.data, f.size, 0, &ids, &n);
    crvq_mapfile_close(&f);
    if (st) return st;

    // Training windows come from [0, split), validation ones from [split, n).
    size_t split = n_val ? n - n / 10 : n;
    if (split < (size_t)seqlen || (n_val && n - split < (size_t)seqlen)) {
        free(ids);
        return crvq_fail(CRVQ_ERR_INVALID,
                         "%s: %zu tokens are too few for windows of %d tokens (with a 10%% validation part)",
                         text_path, n, seqlen);
    }
    int total = n_train + n_val;
    out->tokens = malloc((size_t)total * seqlen * sizeof *out->tokens);
    if (!out->tokens) {
        free(ids);
        return crvq_fail(CRVQ_ERR_NOMEM, "calibration: out of memory for %d x %d tokens", total, seqlen);
    }
    crvq_rng g;
    crvq_rng_init(&g, seed, CALIB_STREAM);
    for (int i = 0; i < total; i++) {
        size_t lo = i < n_train ? 0 : split, hi = i < n_train ? split : n; // window lies in [lo, hi)
        size_t start = lo + crvq_rng_below(&g, hi - lo - (size_t)seqlen + 1);
        memcpy(out->tokens + (size_t)i * seqlen, ids + start, (size_t)seqlen * sizeof *ids);
    }
    free(ids);
    out->n_train = n_train;
    out->n_val = n_val;
    out->seqlen = seqlen;
    out->n_text_tokens = n;
    return CRVQ_OK;
}

void crvq_calib_free(crvq_calib *c) {
    free(c->tokens);
    memset(c, 0, sizeof *c);
}
