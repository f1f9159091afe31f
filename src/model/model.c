// model.c — freeing a model and counting its parameters.
#include "crvq.h"

#include "kernels/half_rows.h"
#include "kernels/sq_weights.h"
#include "model/block_proj.h"
#include "model/storage.h"
#include "util/free_all.h"

#include <stdlib.h>
#include <string.h>

void crvq_model_free(crvq_model *m) {
    if (!m) return;
    if (m->tok) crvq_tokenizer_free(m->tok);
    crvq_storage_free(m->storage);
    crvq_free_all(m->layers, m->path, m->format, m->source_dtype);
    free(m);
}

void crvq_model_embed_row(const crvq_model *m, int token, float *dst) {
    const size_t dim = (size_t)m->cfg.dim;
    if (m->tok_embd_q)
        crvq_scalar_dequant_rows(m->tok_embd_q, token, token + 1, dst);
    else if (m->tok_embd16)
        crvq_half_to_f32(m->tok_embd16 + (size_t)token * dim, m->tok_embd16_dtype, dim, dst);
    else
        memcpy(dst, m->tok_embd + (size_t)token * dim, dim * sizeof(float));
}

crvq_linear crvq_model_embedding(const crvq_model *m) {
    return (crvq_linear){.kind = CRVQ_LINEAR_DENSE, .n_out = m->cfg.vocab_size, .n_in = m->cfg.dim,
                         .w = m->tok_embd, .w16 = m->tok_embd16, .w16_dtype = m->tok_embd16_dtype};
}

static int64_t linear_weights(const crvq_linear *l) { return (int64_t)l->n_out * l->n_in; }
static int64_t linear_biases(const crvq_linear *l) { return l->bias ? l->n_out : 0; }

// Weights of the seven projections; biases are not counted (they stay
// dense and are not what bits-per-weight figures are about).
int64_t crvq_model_n_params_linear(const crvq_model *m) {
    int64_t n = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) n += linear_weights(crvq_layer_proj(&m->layers[l], p));
    return n;
}

int64_t crvq_model_n_params(const crvq_model *m) {
    const crvq_config *c = &m->cfg;
    int64_t n = (int64_t)c->vocab_size * c->dim + c->dim; // embedding, final norm
    if (!c->tied_embeddings) n += linear_weights(&m->output) + linear_biases(&m->output);
    n += crvq_model_n_params_linear(m);
    for (int l = 0; l < c->n_layers; l++) {
        n += 2 * c->dim; // attention and ffn norms
        if (c->qk_norm) n += 2 * c->head_dim;
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) n += linear_biases(crvq_layer_proj(&m->layers[l], p));
    }
    return n;
}
