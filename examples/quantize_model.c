// quantize_model.c — libcrvq from its front door: quantize a model, save
// the compressed file, load it back and compare perplexities. It includes
// crvq.h and nothing else of the library (its build gives it include/ only).
//
//   crvq_example_quantize MODEL CALIB_TEXT EVAL_TEXT OUT.gguf
//
// CRVQ with small codebooks (d 4: any width that is a multiple of 4; a
// basic codebook of 2^6 and one extended of 2^4 entries for the quarter of
// input channels that matter most), no block fine-tuning, 8 calibration
// windows of 64 tokens; prints one line per model.
#include "crvq.h"

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what) {
    fprintf(stderr, "crvq_example_quantize: %s: %s\n", what, crvq_last_error());
    return 1;
}

// The whole text file at path into *text (NUL-terminated), its size in *len.
static int read_text(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    int ok = *text && fread(*text, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) return -1;
    (*text)[n] = 0;
    *len = (size_t)n;
    return 0;
}

static int perplexity(const crvq_model *m, const char *text, size_t len, const char *label) {
    crvq_ppl_opts po = {.protocol = CRVQ_PPL_STREAM, .ctx = 128, .max_windows = 8};
    crvq_ppl_result r;
    if (crvq_perplexity(m, text, len, &po, &r) != CRVQ_OK) return fail("perplexity");
    crvq_model_bpw b = crvq_model_bits(m, CRVQ_BITS_AS_LOADED);
    printf("%-10s perplexity %.4f over %lld tokens, %.4f bits per linear weight\n", label, r.ppl,
           (long long)r.scored, b.linear);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL CALIB_TEXT EVAL_TEXT OUT.gguf\n", argv[0]);
        return 2;
    }
    char *text;
    size_t len;
    if (read_text(argv[3], &text, &len)) return fprintf(stderr, "cannot read %s\n", argv[3]), 1;
    crvq_model *m;
    if (crvq_model_load(argv[1], NULL, &m) != CRVQ_OK) return fail(argv[1]);
    int rc = perplexity(m, text, len, "original");

    crvq_pipeline_opts o;
    crvq_pipeline_opts_default(&o, CRVQ_METHOD_CRVQ);
    o.qp.d = 4;
    o.qp.M = 2;
    o.qp.e[0] = 6;
    o.qp.e[1] = 4;
    o.qp.lambda = 0.25;
    o.finetune = 0;
    crvq_calib cal;
    crvq_pipeline_report rep;
    crvq_save_info info = {.params = &o.qp, .calib_file = argv[2], .calib_nsamples = 8, .calib_seqlen = 64};
    if (!rc && crvq_calib_sample(m->tok, argv[2], 8, 0, 64, o.qp.seed, &cal) != CRVQ_OK) rc = fail(argv[2]);
    else if (!rc) {
        if (crvq_quantize_model(m, &cal, &o, &rep) != CRVQ_OK) rc = fail("quantize");
        else if (crvq_model_save(m, &info, argv[4]) != CRVQ_OK) rc = fail(argv[4]);
        crvq_calib_free(&cal);
    }
    crvq_model_free(m);

    crvq_model *q;
    if (!rc && crvq_model_load(argv[4], NULL, &q) != CRVQ_OK) rc = fail(argv[4]);
    else if (!rc) {
        rc = perplexity(q, text, len, "quantized");
        crvq_model_free(q);
    }
    free(text);
    return rc;
}
