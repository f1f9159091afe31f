// bits.c — bits per weight of a quantized layer, everything counted
// (docs/quantization.md, "Bits accounting"). P = m_out · n_in weights.
#include "model/bits.h"

#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/storage.h"

#include <assert.h>

// VQ / CRVQ (docs/method.md, "Bits per weight"):
//   P/d · e_1                    basic codes, every vector
//   + m_out · n_crit · Σ_{k≥2} e_k   extended codes, critical vectors only
//   + Σ_k 2^{e_k} · d · 16        fp16 codebooks
//   + m_out · 16                  fp16 row scales
//   + n_in · 16                   the channel permutation, when one is stored
// For VQ (no permutation, n_crit = n_groups) the second term is P/d · Σ_{k≥2} e_k.
// Every term is an integer below 2^53, so the sum is exact in any order.
double crvq_vq_shape_bits(const crvq_vq_shape *s) {
    assert(s && s->m_out > 0 && s->n_in > 0 && s->d > 0 && s->M >= 1);
    double P = (double)s->m_out * s->n_in, bits = P / s->d * s->e[0];
    for (int k = 1; k < s->M; k++) bits += (double)s->m_out * s->n_crit * s->e[k];
    for (int k = 0; k < s->M; k++) bits += (double)(1u << s->e[k]) * s->d * 16.0;
    bits += (double)s->m_out * 16.0;
    if (s->permuted) bits += (double)s->n_in * 16.0;
    return bits / P;
}

// RTN / GPTQ: `bits` per weight plus one fp16 scale and one fp16 zero point
// per group of group_size weights of a row:
//   (P · bits + (P / group_size) · (16 + 16)) / P = bits + 32 / group_size.
double crvq_scalar_shape_bits(int m_out, int n_in, int bits, int group_size) {
    assert(m_out > 0 && n_in > 0 && group_size > 0 && n_in % group_size == 0);
    double P = (double)m_out * n_in, groups = P / group_size;
    return (P * bits + groups * (16.0 + 16.0)) / P;
}

double crvq_vq_bits(const crvq_vq_layer *L) {
    assert(L);
    crvq_vq_shape s = {L->m_out, L->n_in, L->d, L->M, L->n_crit, L->perm != NULL, L->e};
    return crvq_vq_shape_bits(&s);
}

double crvq_scalar_bits(const crvq_scalar_layer *L) {
    assert(L);
    return crvq_scalar_shape_bits(L->m_out, L->n_in, L->bits, L->group_size);
}

double crvq_model_linear_bits(const crvq_model *m, const double *dense_stored) {
    double bits = dense_stored ? *dense_stored : 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int j = 0; j < CRVQ_PROJ_COUNT; j++) {
            const crvq_linear *lin = crvq_layer_proj(&m->layers[l], j);
            if (!(dense_stored && lin->kind == CRVQ_LINEAR_DENSE))
                bits += crvq_linear_bits(lin) * ((double)lin->n_out * lin->n_in);
        }
    return bits;
}

double crvq_model_linear_bpw(const crvq_model *m, const double *dense_stored) {
    return crvq_model_linear_bits(m, dense_stored) / (double)crvq_model_n_params_linear(m);
}

// A compressed matrix by its formula; a dense one as the file stores it
// (*stored) or as the container writes it (fp16).
static double matrix_bits(const crvq_linear *lin, const double *stored) {
    double P = (double)lin->n_out * lin->n_in;
    if (lin->kind != CRVQ_LINEAR_DENSE) return crvq_linear_bits(lin) * P;
    return stored ? *stored : 16.0 * P;
}

crvq_model_bpw crvq_model_bpw_of(const crvq_model *m, const double *dense_stored) {
    const crvq_config *c = &m->cfg;
    const double *ds = dense_stored;
    double n_all = (double)crvq_model_n_params(m), n_lin = (double)crvq_model_n_params_linear(m);
    double n_emb = (double)c->vocab_size * c->dim, n_head = c->tied_embeddings ? 0 : n_emb;
    double n_other = n_all - n_lin - n_emb - n_head;
    // the embedding as a (vocab_size, dim) "layer", so one rule counts it
    crvq_linear emb = {.kind = CRVQ_LINEAR_DENSE, .n_out = c->vocab_size, .n_in = c->dim};
    if (m->tok_embd_q) emb.kind = CRVQ_LINEAR_SCALAR, emb.sq = m->tok_embd_q;
    double lin_bits = crvq_model_linear_bits(m, ds ? &ds[CRVQ_ROLE_LINEAR] : NULL);
    double emb_bits = matrix_bits(&emb, ds ? &ds[CRVQ_ROLE_EMBED] : NULL);
    double head_bits = c->tied_embeddings ? 0 : matrix_bits(&m->output, ds ? &ds[CRVQ_ROLE_HEAD] : NULL);
    double other_bits = ds ? ds[CRVQ_ROLE_OTHER] : 32.0 * n_other;
    return (crvq_model_bpw){
        .linear = lin_bits / n_lin,
        .nonembed = (lin_bits + other_bits) / (n_all - n_emb - n_head),
        .total = (lin_bits + emb_bits + head_bits + other_bits) / n_all,
        .embed = emb_bits / n_emb,
        .head = n_head ? head_bits / n_head : 0,
    };
}

crvq_model_bpw crvq_model_bits(const crvq_model *m, crvq_bits_basis basis) {
    return crvq_model_bpw_of(m, basis == CRVQ_BITS_AS_LOADED ? m->storage->dense_bits : NULL);
}
