// tiny_model.h — small random models in memory for the tests: the same
// weights on every machine (xorshift64), every projection dense, q/k/v
// biases and q/k norms when the configuration has them, a tied or untied head.
#ifndef CRVQ_TEST_TINY_MODEL_H
#define CRVQ_TEST_TINY_MODEL_H

#include "crvq.h"
#include "model/block_proj.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline double urand(void) { // uniform in [-1, 1)
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}

static inline float *rand_vec(size_t n, double scale, double offset) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(offset + scale * urand());
    return v;
}

static inline crvq_linear rand_linear(int n_out, int n_in, int bias) {
    crvq_linear L = {.kind = CRVQ_LINEAR_DENSE, .n_out = n_out, .n_in = n_in};
    L.w = rand_vec((size_t)n_out * n_in, 1.5 / sqrt(n_in), 0.0);
    L.bias = bias ? rand_vec(n_out, 0.3, 0.0) : NULL;
    return L;
}

static inline void free_linear(crvq_linear *L) {
    free((void *)L->w);
    free((void *)L->bias);
}

static inline crvq_model *tiny_model(const crvq_config *cfg) {
    crvq_model *m = calloc(1, sizeof *m);
    m->cfg = *cfg;
    const crvq_config *c = &m->cfg;
    m->tok_embd = rand_vec((size_t)c->vocab_size * c->dim, 1.0, 0.0);
    m->out_norm = rand_vec(c->dim, 0.2, 1.0);
    if (c->tied_embeddings)
        m->output = (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = c->vocab_size, .n_in = c->dim,
                                  .w = m->tok_embd};
    else
        m->output = rand_linear(c->vocab_size, c->dim, 0);
    m->layers = calloc(c->n_layers, sizeof *m->layers);
    for (int l = 0; l < c->n_layers; l++) {
        crvq_layer *L = &m->layers[l];
        L->attn_norm = rand_vec(c->dim, 0.2, 1.0);
        L->ffn_norm = rand_vec(c->dim, 0.2, 1.0);
        if (c->qk_norm) L->q_norm = rand_vec(c->head_dim, 0.2, 1.0), L->k_norm = rand_vec(c->head_dim, 0.2, 1.0);
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) {
            int n_out, n_in;
            crvq_proj_shape(c, p, &n_out, &n_in);
            *crvq_block_proj(L, p) = rand_linear(n_out, n_in, c->qkv_bias && crvq_proj_table[p].bias);
        }
    }
    return m;
}

static inline void free_tiny_model(crvq_model *m) {
    for (int l = 0; l < m->cfg.n_layers; l++) {
        crvq_layer *L = &m->layers[l];
        free((void *)L->attn_norm);
        free((void *)L->ffn_norm);
        free((void *)L->q_norm), free((void *)L->k_norm);
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) free_linear(crvq_block_proj(L, p));
    }
    if (!m->cfg.tied_embeddings) free_linear(&m->output);
    free((void *)m->tok_embd);
    free((void *)m->out_norm);
    free(m->layers);
    free(m);
}

#endif
