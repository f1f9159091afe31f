// cuda_serve_linear.c — a linear layer resident on the GPU in its stored
// form, and its products (see cuda_serve_linear.h).
#include "cuda/cuda_serve_linear.h"

#include <string.h>

#include "cuda/cu_kernels.h"
#include "kernels/sq_types.h"
#include "kernels/vq_types.h"

// Floats of the expansion tile: 16 Mi (64 MiB) is one 4096 x 4096 layer
// whole, and SGEMMs of at least 4096 rows keep the GPU busy; wider layers
// get at least one row.
#define TILE_FLOATS ((size_t)1 << 24)

// A host array of `bytes` into a new device buffer (src NULL or bytes 0: NULL).
static crvq_status put(void *dst, const void *src, size_t bytes, size_t *total) {
    if (src) *total += bytes;
    return crvq_cu_put(dst, src, bytes, "the model's weights");
}

static crvq_status upload_vq(const crvq_vq_weights *W, crvq_cu_stored *o) {
    crvq_cu_vq *v = &o->vq;
    *v = (crvq_cu_vq){.m = W->m_out, .n = W->n_in, .d = W->d, .M = W->M, .ng = W->n_groups, .nc = W->n_crit,
                      .wide0 = W->codes16 != NULL, .wide_x = W->ext16 != NULL};
    const size_t m = (size_t)W->m_out;
    const void *codes = W->codes16 ? (const void *)W->codes16 : (const void *)W->codes8;
    const void *ext = W->ext16 ? (const void *)W->ext16 : (const void *)W->ext8;
    crvq_status st = put(&v->codes, codes, m * W->n_groups * (v->wide0 ? 2 : 1), &o->bytes);
    if (st == CRVQ_OK && W->n_ext) st = put(&v->ext, ext, m * W->n_ext * (v->wide_x ? 2 : 1), &o->bytes);
    for (int k = 0; k < W->M && st == CRVQ_OK; k++) {
        v->K[k] = 1 << W->e[k];
        st = put(&v->cb[k], W->layer.codebooks[k], (size_t)v->K[k] * W->d * sizeof(uint16_t), &o->bytes);
    }
    if (st == CRVQ_OK) st = put(&v->scales, W->scales, m * sizeof(float), &o->bytes);
    if (st == CRVQ_OK) st = put(&v->perm, W->perm, (size_t)W->n_in * sizeof(int32_t), &o->bytes);
    return st;
}

static crvq_status upload_sq(const crvq_scalar_weights *W, crvq_cu_stored *o) {
    crvq_cu_sq *s = &o->sq;
    *s = (crvq_cu_sq){.m = W->m_out, .n = W->n_in, .bits = W->bits, .gs = W->group_size, .n_gr = W->n_gr,
                      .row_bytes = W->row_bytes};
    const size_t m = (size_t)W->m_out, groups = m * W->n_gr * sizeof(float);
    crvq_status st = put(&s->q, W->q, m * W->row_bytes, &o->bytes);
    if (st == CRVQ_OK) st = put(&s->scale, W->scale, groups, &o->bytes);
    if (st == CRVQ_OK) st = put(&s->zero, W->zero, groups, &o->bytes);
    return st;
}

crvq_status crvq_cu_linear_upload(const crvq_linear *L, crvq_cu_stored *o) {
    memset(o, 0, sizeof *o);
    o->kind = L->kind, o->n_out = L->n_out, o->n_in = L->n_in;
    const size_t len = (size_t)L->n_out * L->n_in;
    crvq_status st = CRVQ_OK;
    switch (L->kind) {
    case CRVQ_LINEAR_DENSE:
        if (L->w16) {
            o->bf16 = L->w16_dtype == CRVQ_BF16;
            st = put(&o->w16, L->w16, len * sizeof(uint16_t), &o->bytes);
        } else {
            st = put(&o->w, L->w, len * sizeof(float), &o->bytes);
        }
        break;
    case CRVQ_LINEAR_VQ: st = upload_vq(L->vq, o); break;
    case CRVQ_LINEAR_SCALAR: st = upload_sq(L->sq, o); break;
    }
    if (st == CRVQ_OK) st = put(&o->bias, L->bias, (size_t)L->n_out * sizeof(float), &o->bytes);
    if (st != CRVQ_OK) crvq_cu_linear_free(o);
    return st;
}

void crvq_cu_linear_free(crvq_cu_stored *L) {
    crvq_cu_free(L->w), crvq_cu_free(L->w16), crvq_cu_free(L->bias);
    crvq_cu_free((void *)L->vq.codes), crvq_cu_free((void *)L->vq.ext);
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) crvq_cu_free((void *)L->vq.cb[k]);
    crvq_cu_free((void *)L->vq.scales), crvq_cu_free((void *)L->vq.perm);
    crvq_cu_free((void *)L->sq.q), crvq_cu_free((void *)L->sq.scale), crvq_cu_free((void *)L->sq.zero);
    memset(L, 0, sizeof *L);
}

size_t crvq_cu_linear_xq_floats(const crvq_cu_stored *L) {
    return L->kind == CRVQ_LINEAR_VQ ? crvq_cu_vq_xq_floats(&L->vq) : 0;
}

crvq_status crvq_cu_linear_work_alloc(crvq_cu_linear_work *w, int max_rows, int max_in, size_t max_xq) {
    memset(w, 0, sizeof *w);
    w->tile_floats = TILE_FLOATS < (size_t)max_in ? (size_t)max_in : TILE_FLOATS;
    crvq_status st = crvq_cu_alloc(&w->tile, w->tile_floats * sizeof(float), "the expansion tile");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&w->xp, (size_t)max_rows * max_in * sizeof(float), "permuted inputs");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&w->xq, max_xq * sizeof(float), "staged inputs");
    if (st != CRVQ_OK) crvq_cu_linear_work_free(w);
    return st;
}

void crvq_cu_linear_work_free(crvq_cu_linear_work *w) {
    crvq_cu_free(w->tile), crvq_cu_free(w->xp), crvq_cu_free(w->xq);
    memset(w, 0, sizeof *w);
}

// Row i of y = Ŵ x_i for i < n, each by the kind's one-token kernel.
static crvq_status gemv_rows(const crvq_cu_stored *L, const float *x, int n, float *y, crvq_cu_linear_work *w) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * L->n_in;
        float *yi = y + (size_t)i * L->n_out;
        int e = L->kind == CRVQ_LINEAR_VQ       ? crvq_cu_vq_gemv(&L->vq, xi, w->xq, yi)
                : L->kind == CRVQ_LINEAR_SCALAR ? crvq_cu_sq_gemv(&L->sq, xi, yi)
                                                : crvq_cu_h16_gemv(L->w16, L->bf16, L->n_out, L->n_in, xi, yi);
        if (e) return crvq_cu_check(e, "a one-token product");
    }
    return CRVQ_OK;
}

// Rows [r0, r0 + rows) of Ŵ into the tile (VQ: permuted column order).
static int expand(const crvq_cu_stored *L, int r0, int rows, float *tile) {
    switch (L->kind) {
    case CRVQ_LINEAR_VQ: return crvq_cu_vq_expand_tile(&L->vq, r0, rows, tile);
    case CRVQ_LINEAR_SCALAR: return crvq_cu_sq_expand(&L->sq, r0, rows, tile);
    case CRVQ_LINEAR_DENSE: break;
    }
    return crvq_cu_h16_expand(L->w16, L->bf16, L->n_in, r0, rows, tile);
}

// y = x Ŵᵀ tile by tile: y[:, r0:r0+rows] = x tileᵀ (leading dimension n_out).
static crvq_status tiled(crvq_cu *cu, const crvq_cu_stored *L, const float *x, int n, float *y,
                         crvq_cu_linear_work *w) {
    const int n_in = L->n_in, step = (int)(w->tile_floats / (size_t)n_in);
    const float *xin = x;
    crvq_status st = CRVQ_OK;
    if (L->kind == CRVQ_LINEAR_VQ && L->vq.perm) { // the tile is in the weights' column order
        st = crvq_cu_check(crvq_cu_permute_rows(x, n, n_in, L->vq.perm, w->xp), "permuting the inputs");
        xin = w->xp;
    }
    for (int r0 = 0; r0 < L->n_out && st == CRVQ_OK; r0 += step) {
        const int rows = L->n_out - r0 < step ? L->n_out - r0 : step;
        st = crvq_cu_check(expand(L, r0, rows, w->tile), "expanding a tile of weights");
        if (st == CRVQ_OK)
            st = crvq_cu_sgemm_strided(cu, 0, 1, n, rows, n_in, 1.0f, xin, n_in, 0, w->tile, n_in, 0, 0.0f, y + r0,
                                       L->n_out, 0, 1);
    }
    return st;
}

crvq_status crvq_cu_linear_forward(crvq_cu *cu, const crvq_cu_stored *L, const float *x, int n, float *y,
                                   crvq_cu_linear_work *w) {
    crvq_status st;
    if (L->w)
        st = crvq_cu_sgemm_strided(cu, 0, 1, n, L->n_out, L->n_in, 1.0f, x, L->n_in, 0, L->w, L->n_in, 0, 0.0f, y,
                                   L->n_out, 0, 1);
    else if (n <= CRVQ_CU_GEMV_ROWS)
        st = gemv_rows(L, x, n, y, w);
    else
        st = tiled(cu, L, x, n, y, w);
    if (st == CRVQ_OK && L->bias) st = crvq_cu_check(crvq_cu_add_bias(y, L->bias, n, L->n_out), "bias");
    return st;
}
