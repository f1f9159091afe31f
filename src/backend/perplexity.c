// perplexity.c — perplexity under the "stream" and "docs" protocols of
// ../shared/docs/evaluation.md. It sits in backend/ because its states run
// on the device the options name (crvq_state_init_device, serve.c).
#include "crvq.h"
#include "util/error.h"
#include "util/free_all.h"
#include "util/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Logits kept per forward call when opts->max_batch is 0: 2^24 floats
// (64 MiB), so a 128k-vocabulary model still runs 128 tokens per call while
// small vocabularies run a whole window at once.
#define CRVQ_PPL_LOGITS_BUDGET (1 << 24)

typedef struct ppl_run {
    const crvq_model *m;
    crvq_state *state;
    int max_batch;
    float *logits; // (max_batch, vocab)
    double *nll;   // (max_batch) per-row NLL of the current chunk
    double nll_sum;
    int64_t scored;
    // KL against a base model (base NULL: off). The base runs the same chunks
    // in its own state right after the model, so only one chunk of each
    // model's logits is ever held.
    const crvq_model *base;
    crvq_state *base_state;
    float *base_logits; // (max_batch, vocab)
    double *base_nll;   // (max_batch)
    double *kl;         // (max_batch) KL(base ‖ model) per row
    int *agree;         // (max_batch) 1 where both argmaxes agree
    double base_nll_sum, kl_sum;
    int64_t agree_sum;
} ppl_run;

// Row max, its first index, and log Σ exp(l - max) (double) of logits l (V).
static double log_sum_exp(const float *l, int V, float *mx_out, int *arg_out) {
    float mx = l[0];
    int arg = 0;
    for (int v = 1; v < V; v++)
        if (l[v] > mx) mx = l[v], arg = v;
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += exp((double)l[v] - mx);
    *mx_out = mx;
    *arg_out = arg;
    return log(sum);
}

// KL(base ‖ model) of one position and whether the argmaxes agree, from the
// two logit rows lb, lm (V): Σ_v p_b(v) (log p_b(v) − log p_m(v)) with both
// log-softmaxes in double. Also sets the base's NLL of `target`.
static double kl_row(const float *lb, const float *lm, int V, int target, double *base_nll,
                     int *agree) {
    float mb, mm;
    int ab, am;
    double zb = log_sum_exp(lb, V, &mb, &ab) + mb; // log Σ exp(lb)
    double zm = log_sum_exp(lm, V, &mm, &am) + mm;
    double kl = 0.0;
    for (int v = 0; v < V; v++) {
        double lpb = (double)lb[v] - zb, lpm = (double)lm[v] - zm;
        kl += exp(lpb) * (lpb - lpm);
    }
    *base_nll = zb - (double)lb[target];
    *agree = ab == am;
    return kl;
}

// A failure while scoring window or document k (1-based), with its place.
static crvq_status failed_at(crvq_status st, const char *unit, int k) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", crvq_last_error());
    return crvq_fail(st, "perplexity: %s %d: %s", unit, k, msg);
}

// Run one window or document tok (n) from an empty cache and add the NLL of
// tokens 1..n-1, each given the tokens before it. Non-finite logits (an
// overflow) fail in crvq_forward, so every NLL added is finite.
static crvq_status score_sequence(ppl_run *r, const int *tok, int n) {
    int V = r->m->cfg.vocab_size;
    for (int c0 = 0; c0 < n; c0 += r->max_batch) {
        int len = n - c0 < r->max_batch ? n - c0 : r->max_batch;
        crvq_status st = crvq_forward(r->m, r->state, tok + c0, len, c0, 1, r->logits);
        if (st) return st;
        // row i predicts token i+1; the last row of the sequence predicts nothing
        int rows = c0 + len < n ? len : len - 1;
#pragma omp parallel for schedule(static) if ((size_t)rows * V >= CRVQ_PAR_MIN_WORK)
        for (int i = 0; i < rows; i++) {
            const float *l = r->logits + (size_t)i * V; // (V)
            float mx;
            int arg;
            // -log softmax(l)[target] = log Σ exp(l - max) - (l[target] - max), in double
            r->nll[i] = log_sum_exp(l, V, &mx, &arg) - ((double)l[tok[c0 + i + 1]] - mx);
        }
        // summed in row order: the total does not depend on the thread count
        for (int i = 0; i < rows; i++) r->nll_sum += r->nll[i];
        r->scored += rows;
        if (!r->base) continue;
        st = crvq_forward(r->base, r->base_state, tok + c0, len, c0, 1, r->base_logits);
        if (st) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", crvq_last_error());
            return crvq_fail(st, "the KL base model: %s", msg);
        }
#pragma omp parallel for schedule(static) if ((size_t)rows * V >= CRVQ_PAR_MIN_WORK)
        for (int i = 0; i < rows; i++)
            r->kl[i] = kl_row(r->base_logits + (size_t)i * V, r->logits + (size_t)i * V, V,
                              tok[c0 + i + 1], &r->base_nll[i], &r->agree[i]);
        for (int i = 0; i < rows; i++) {
            r->kl_sum += r->kl[i];
            r->base_nll_sum += r->base_nll[i];
            r->agree_sum += r->agree[i];
        }
    }
    return CRVQ_OK;
}

// Document piece [*b, *e) with leading and trailing spaces and newlines removed.
static void strip(const char **b, const char **e) {
    while (*b < *e && (**b == ' ' || **b == '\n')) ++*b;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\n')) --*e;
}

// The next document of the docs protocol from *p on (NULL: none left; end:
// the end of the text): sets [*b, *e) to the stripped piece and moves *p past
// its separator. Returns 0 when no non-empty piece is left.
static int next_doc(const char **p, const char *end, const char *sep, const char **b,
                    const char **e) {
    size_t sep_len = strlen(sep);
    while (*p) {
        const char *s = memmem(*p, (size_t)(end - *p), sep, sep_len);
        *b = *p;
        *e = s ? s : end;
        *p = s ? s + sep_len : NULL;
        strip(b, e);
        if (*b < *e) return 1;
    }
    return 0;
}

static crvq_status run_stream(ppl_run *r, const char *text, size_t len, const crvq_ppl_opts *o,
                              crvq_ppl_result *out) {
    int *ids = NULL;
    size_t n_ids = 0;
    crvq_status st = crvq_tokenize(r->m->tok, text, len, 1, &ids, &n_ids);
    if (st) return st;
    size_t total = n_ids / (size_t)o->ctx;
    if (total > INT32_MAX) {
        free(ids);
        return crvq_fail(CRVQ_ERR_INVALID, "perplexity: %zu windows are too many", total);
    }
    int n_eval = o->max_windows > 0 && (size_t)o->max_windows < total ? o->max_windows : (int)total;
    out->tokens = (int64_t)n_ids;
    out->n_total = (int)total;
    for (int w = 0; w < n_eval; w++) {
        st = score_sequence(r, ids + (size_t)w * o->ctx, o->ctx);
        if (st) {
            st = failed_at(st, "window", w + 1);
            break;
        }
        out->n_windows = w + 1;
        out->evaluated += o->ctx;
        if (o->progress) o->progress(o->progress_user, w + 1, n_eval, r->nll_sum, r->scored);
    }
    free(ids);
    return st;
}

static crvq_status run_docs(ppl_run *r, const char *text, size_t len, const crvq_ppl_opts *o,
                            crvq_ppl_result *out) {
    const char *end = text + len, *p = text, *b, *e;
    int total = 0;
    while (next_doc(&p, end, o->doc_sep, &b, &e)) total++;
    int n_eval = o->max_windows > 0 && o->max_windows < total ? o->max_windows : total;
    out->n_total = total;
    p = text;
    for (int d = 0; d < n_eval; d++) {
        next_doc(&p, end, o->doc_sep, &b, &e);
        int *ids = NULL;
        size_t n_ids = 0;
        crvq_status st = crvq_tokenize(r->m->tok, b, (size_t)(e - b), 1, &ids, &n_ids);
        if (st) return st;
        int n = n_ids < (size_t)o->ctx ? (int)n_ids : o->ctx;
        st = score_sequence(r, ids, n);
        free(ids);
        if (st) return failed_at(st, "document", d + 1);
        out->tokens += (int64_t)n_ids;
        out->evaluated += n;
        out->n_windows = d + 1;
        if (o->progress) o->progress(o->progress_user, d + 1, n_eval, r->nll_sum, r->scored);
    }
    return CRVQ_OK;
}

crvq_status crvq_perplexity(const crvq_model *m, const char *text, size_t len,
                            const crvq_ppl_opts *opts, crvq_ppl_result *out) {
    memset(out, 0, sizeof *out);
    if (!m->tok) return crvq_fail(CRVQ_ERR_INVALID, "perplexity: the model has no tokenizer");
    if (opts->ctx < 2) return crvq_fail(CRVQ_ERR_INVALID, "perplexity: ctx %d < 2", opts->ctx);
    if (opts->protocol == CRVQ_PPL_DOCS && (!opts->doc_sep || !*opts->doc_sep))
        return crvq_fail(CRVQ_ERR_INVALID, "perplexity: the docs protocol needs a separator");
    if (opts->max_batch < 0 || opts->max_windows < 0)
        return crvq_fail(CRVQ_ERR_INVALID, "perplexity: negative max_batch or max_windows");

    const crvq_model *base = opts->kl_base;
    int V = m->cfg.vocab_size;
    if (base && base->cfg.vocab_size != V)
        return crvq_fail(CRVQ_ERR_INVALID,
                         "perplexity: the KL base model has %d vocabulary entries, the model %d",
                         base->cfg.vocab_size, V);
    // with a base model the logits budget is shared by the two models
    int batch = opts->max_batch ? opts->max_batch : CRVQ_PPL_LOGITS_BUDGET / (base ? 2 : 1) / V;
    if (batch < 1) batch = 1;
    if (batch > opts->ctx) batch = opts->ctx;
    ppl_run r = {.m = m, .max_batch = batch, .base = base};
    crvq_status st = crvq_state_init_device(m, opts->ctx, batch, opts->kv_bits ? opts->kv_bits : 32, opts->device,
                                            &r.state);
    if (!st && base) st = crvq_state_init_device(base, opts->ctx, batch, 32, opts->device, &r.base_state);
    if (st) {
        crvq_state_free(r.state);
        return st;
    }
    r.logits = malloc((size_t)batch * V * sizeof *r.logits);
    r.nll = malloc((size_t)batch * sizeof *r.nll);
    int kl_ok = 1;
    if (base) {
        r.base_logits = malloc((size_t)batch * V * sizeof *r.base_logits);
        r.base_nll = malloc((size_t)batch * sizeof *r.base_nll);
        r.kl = malloc((size_t)batch * sizeof *r.kl);
        r.agree = malloc((size_t)batch * sizeof *r.agree);
        kl_ok = r.base_logits && r.base_nll && r.kl && r.agree;
    }
    if (!r.logits || !r.nll || !kl_ok)
        st = crvq_fail(CRVQ_ERR_NOMEM, "perplexity: out of memory for %d x %d logits", batch, V);
    else if (opts->protocol == CRVQ_PPL_DOCS)
        st = run_docs(&r, text, len, opts, out);
    else
        st = run_stream(&r, text, len, opts, out);
    if (!st && r.scored == 0)
        st = crvq_fail(CRVQ_ERR_INVALID, "perplexity: no token to score (text shorter than ctx %d?)",
                       opts->ctx);
    if (!st) {
        out->scored = r.scored;
        out->nll = r.nll_sum / (double)r.scored;
        out->ppl = exp(out->nll);
        if (base) {
            out->kld = r.kl_sum / (double)r.scored;
            out->top1_agree = (double)r.agree_sum / (double)r.scored;
            out->base_ppl = exp(r.base_nll_sum / (double)r.scored);
        }
    }
    crvq_state_free(r.state);
    crvq_state_free(r.base_state);
    crvq_free_all(r.logits, r.nll, r.base_logits, r.base_nll, r.kl, r.agree);
    return st;
}
