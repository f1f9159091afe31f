// linear_desc.c — what a linear layer is made of, and what a decode step
// reads (crvq.h, "Bits"): the description `crvq info` prints and the byte
// count `crvq bench` divides by the decode time.
#include "crvq.h"

#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "model/linear_kind.h"

#include <string.h>

void crvq_linear_describe(const crvq_linear *lin, crvq_linear_desc *out) {
    memset(out, 0, sizeof *out);
    const crvq_linear_traits *t = crvq_linear_traits_of(lin->kind);
    out->bpw = t->bits(lin);
    out->bytes = t->bytes(lin);
    switch (lin->kind) {
    case CRVQ_LINEAR_VQ: {
        const crvq_vq_weights *W = lin->vq;
        out->kind = W->M > 1 && W->n_crit < W->n_groups ? "crvq" : "vq";
        out->d = W->d;
        out->M = W->M;
        for (int k = 0; k < W->M; k++) out->e[k] = W->e[k];
        out->n_crit = W->n_crit;
        out->n_groups = W->n_groups;
        out->permuted = W->perm != NULL;
        break;
    }
    case CRVQ_LINEAR_SCALAR:
        out->kind = "scalar";
        out->bits = lin->sq->bits;
        out->group_size = lin->sq->group_size;
        break;
    case CRVQ_LINEAR_DENSE:
        out->kind = "dense";
        break;
    }
}

static double linear_bytes(const crvq_linear *lin) {
    return crvq_linear_traits_of(lin->kind)->bytes(lin);
}

double crvq_model_decode_bytes(const crvq_model *m) {
    double row = m->tok_embd_q ? (double)crvq_scalar_weights_bytes(m->tok_embd_q) / m->tok_embd_q->m_out
                               : (m->tok_embd16 ? 2.0 : 4.0) * m->cfg.dim;
    double b = linear_bytes(&m->output) + row;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int p = 0; p < CRVQ_PROJ_COUNT; p++) b += linear_bytes(crvq_layer_proj(&m->layers[l], p));
    return b;
}
