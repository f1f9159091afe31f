// model_util.h — helpers shared by tests that run whole models: load one
// (failing the test with the library's message), and the logits of a fixed
// token sequence. Include after check.h.
#ifndef CRVQ_TEST_MODEL_UTIL_H
#define CRVQ_TEST_MODEL_UTIL_H

#include "crvq.h"
#include "model/linear.h"
#include "quant_util.h"

#include <math.h>

// The model at path (tokenizer from tok, or found beside it), NULL on failure.
static inline crvq_model *test_load(const char *path, const char *tok) {
    crvq_load_opts o = {.tokenizer_path = tok};
    crvq_model *m = NULL;
    crvq_status st = crvq_model_load(path, &o, &m);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    return m;
}

// A dense layer's W (n_out, n_in) as float32, widened when the model keeps
// it in bf16 / fp16; malloc'd.
static inline float *test_dense_f32(const crvq_linear *L) {
    float *w = malloc((size_t)L->n_out * L->n_in * sizeof *w);
    crvq_linear_dense_rows(L, 0, L->n_out, w);
    return w;
}

// Whether a dense layer is held as its file stores it: 16-bit types stay
// 16-bit (w16, no float32 copy), others are float32.
static inline int test_dense_kept(const crvq_linear *L, int stored_16bit, crvq_dtype dt) {
    return stored_16bit ? L->w16 && !L->w && L->w16_dtype == dt : L->w && !L->w16;
}

// logits (n, vocab) of the tokens (i * 37 + 11) % vocab, i = 0..n-1; malloc'd
static inline float *test_logits(const crvq_model *m, int n) {
    int *tok = malloc((size_t)n * sizeof *tok);
    for (int i = 0; i < n; i++) tok[i] = (i * 37 + 11) % m->cfg.vocab_size;
    float *out = malloc((size_t)n * m->cfg.vocab_size * sizeof *out);
    crvq_state *s;
    CHECK(crvq_state_init(m, n, n, &s) == CRVQ_OK);
    CHECK(crvq_forward(m, s, tok, n, 0, 1, out) == CRVQ_OK);
    crvq_state_free(s);
    free(tok);
    return out;
}

// max |a - b| / max |b|: the difference of two logit arrays against their scale
static inline double test_max_rel_diff(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return num / den;
}

// A test's whole-model run: the pipeline's settings and the recipe of its
// calibration windows, sampled from the text at calib with the run's seed
// (as crvq quantize does).
typedef struct test_run {
    crvq_pipeline_opts o;
    const char *calib;
    int n_train, n_val, seqlen;
} test_run;

// The pipeline's defaults for method with the tests' tiny calibration: two
// 32-token windows of calib, no validation windows.
static inline void test_run_init(test_run *t, crvq_method method, const char *calib) {
    crvq_pipeline_opts_default(&t->o, method);
    t->calib = calib;
    t->n_train = 2;
    t->n_val = 0;
    t->seqlen = 32;
}

// crvq_quantize_model of t on windows of its calibration text; the status.
static inline crvq_status test_run_try(crvq_model *m, const test_run *t, crvq_pipeline_report *rep) {
    crvq_calib cal;
    crvq_status st = crvq_calib_sample(m->tok, t->calib, t->n_train, t->n_val, t->seqlen, t->o.qp.seed, &cal);
    if (st) return st;
    st = crvq_quantize_model(m, &cal, &t->o, rep);
    crvq_calib_free(&cal);
    return st;
}

// The same, failing the test with the library's message.
static inline crvq_status test_quantize(crvq_model *m, const test_run *t, crvq_pipeline_report *rep) {
    crvq_status st = test_run_try(m, t, rep);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    return st;
}

// The fine-tuning tests' student: a CRVQ quantization of the model at path
// (tokenizer tok, or found beside it) with the small settings `small` makes
// and no block fine-tuning, calibrated on calib and written to out. Returns
// the quantized model (the caller frees it).
static inline crvq_model *test_write_student(const char *path, const char *tok, const char *calib,
                                             void (*small)(crvq_quant_params *), const char *out) {
    crvq_model *m = test_load(path, tok);
    if (!m) exit(1);
    test_run t;
    test_run_init(&t, CRVQ_METHOD_CRVQ, calib);
    t.o.finetune = 0;
    small(&t.o.qp);
    crvq_pipeline_report rep;
    test_quantize(m, &t, &rep);
    crvq_save_info info = {.params = &t.o.qp};
    CHECK_MSG(crvq_model_save(m, &info, out) == CRVQ_OK, "%s", crvq_last_error());
    return m;
}

#endif
