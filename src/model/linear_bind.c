// linear_bind.c — bind a compressed linear layer stored in a file (crvq's
// container, docs/format.md) to its runtime weights.
#include "model/linear_bind.h"

#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "util/error.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

typedef struct binder {
    crvq_tensor_lookup lookup;
    void *ctx;
    const char *file, *prefix;
    char what[160]; // "FILE: layer PREFIX", for the weights' own checks
} binder;

// Tensor PREFIX+suffix, or NULL; with `type` >= 0 and `ndim` > 0 its type
// and rank are checked.
static crvq_status get(const binder *b, const char *suffix, int ndim, crvq_dtype t1, crvq_dtype t2,
                       const crvq_tensor_view **out) {
    char name[96];
    snprintf(name, sizeof name, "%s%s", b->prefix, suffix);
    const crvq_tensor_view *t = b->lookup(b->ctx, name);
    *out = t;
    if (!t) return CRVQ_OK;
    if (t->ndim != ndim || (t->dtype != t1 && t->dtype != t2))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s has type %s and %d dimensions, expected %s with %d",
                         b->file, name, crvq_dtype_name(t->dtype), t->ndim, crvq_dtype_name(t1), ndim);
    return CRVQ_OK;
}

static crvq_status shape_error(const binder *b, const char *suffix) {
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s%s has a shape that does not fit the layer", b->file, b->prefix,
                     suffix);
}

crvq_status crvq_linear_attach(crvq_model_storage *s, crvq_linear *lin, crvq_linear_kind kind, void *W) {
    assert(kind == CRVQ_LINEAR_VQ || kind == CRVQ_LINEAR_SCALAR);
    crvq_status st = crvq_storage_own(s, W, kind == CRVQ_LINEAR_VQ ? (void (*)(void *))crvq_vq_weights_free
                                                                   : (void (*)(void *))crvq_scalar_weights_free);
    if (st) return st;
    lin->kind = kind;
    if (kind == CRVQ_LINEAR_VQ)
        lin->vq = W;
    else
        lin->sq = W;
    return CRVQ_OK;
}

static crvq_status bind_vq(const binder *b, const crvq_tensor_view *codes, crvq_model_storage *s, int n_out,
                           int n_in, crvq_linear *lin) {
    crvq_vq_layer L = {.m_out = n_out, .n_in = n_in};
    int64_t G = codes->shape[1];
    if (codes->shape[0] != n_out || G <= 0 || n_in % G) return shape_error(b, ".codes");
    L.d = (int)(n_in / G);
    L.n_groups = (int)G;
    crvq_status st;
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) {
        char suffix[8];
        snprintf(suffix, sizeof suffix, ".cb%d", k);
        const crvq_tensor_view *cb;
        if ((st = get(b, suffix, 2, CRVQ_F16, CRVQ_F16, &cb))) return st;
        if (!cb) break;
        int64_t K = cb->shape[0];
        int e = 0;
        while (e < 17 && ((int64_t)1 << e) < K) e++;
        if (e < 1 || e > 16 || ((int64_t)1 << e) != K || cb->shape[1] != L.d) return shape_error(b, suffix);
        L.e[k] = e;
        L.codebooks[k] = cb->data;
        L.M = k + 1;
    }
    if (L.M == 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: layer %s has codes but no codebook %s.cb0", b->file,
                                     b->prefix, b->prefix);
    if ((codes->dtype == CRVQ_I16) != (crvq_vq_code_bytes(L.e, 0, 1) == 2)) return shape_error(b, ".codes");
    L.codes = codes->data;
    const crvq_tensor_view *ext, *scales, *perm;
    if ((st = get(b, ".codes_ext", 3, CRVQ_I8, CRVQ_I16, &ext)) ||
        (st = get(b, ".scales", 1, CRVQ_F16, CRVQ_F16, &scales)) ||
        (st = get(b, ".perm", 1, CRVQ_I16, CRVQ_I32, &perm)))
        return st;
    if (ext) {
        if (ext->shape[0] != n_out || ext->shape[1] > G || ext->shape[2] != L.M - 1 ||
            (ext->dtype == CRVQ_I16) != (crvq_vq_code_bytes(L.e, 1, L.M) == 2))
            return shape_error(b, ".codes_ext");
        L.n_crit = (int)ext->shape[1];
        L.codes_ext = L.n_crit ? ext->data : NULL;
    }
    if (!scales || scales->shape[0] != n_out) return shape_error(b, ".scales");
    L.scales = scales->data;
    if (perm) {
        if (perm->shape[0] != n_in) return shape_error(b, ".perm");
        int32_t *p;
        if ((st = crvq_storage_alloc(s, (size_t)n_in * 4, (void **)&p))) return st;
        for (int j = 0; j < n_in; j++) {
            if (perm->dtype == CRVQ_I16) {
                int16_t v;
                memcpy(&v, (const uint8_t *)perm->data + 2 * j, 2);
                p[j] = v;
            } else {
                memcpy(&p[j], (const uint8_t *)perm->data + 4 * j, 4);
            }
        }
        L.perm = p;
    }
    crvq_vq_weights *W;
    if ((st = crvq_vq_weights_from_layer(&L, b->what, &W))) return st;
    return crvq_linear_attach(s, lin, CRVQ_LINEAR_VQ, W);
}

static crvq_status bind_scalar(const binder *b, const crvq_tensor_view *q, crvq_model_storage *s, int n_out,
                               int n_in, crvq_linear *lin) {
    const crvq_tensor_view *scale, *zero;
    crvq_status st;
    if ((st = get(b, ".qscale", 2, CRVQ_F16, CRVQ_F16, &scale)) || (st = get(b, ".qzero", 2, CRVQ_F16, CRVQ_F16, &zero)))
        return st;
    if (!scale || !zero || scale->shape[0] != n_out || zero->shape[0] != n_out ||
        scale->shape[1] != zero->shape[1] || scale->shape[1] <= 0 || n_in % scale->shape[1])
        return shape_error(b, ".qscale");
    int bits = 0;
    for (int c = 1; c <= 8 && !bits; c++)
        if (((int64_t)n_in * c + 7) / 8 == q->shape[1]) bits = c;
    if (q->shape[0] != n_out || !bits) return shape_error(b, ".qweight");
    crvq_scalar_layer L = {.m_out = n_out, .n_in = n_in, .bits = bits,
                           .group_size = (int)(n_in / scale->shape[1]), .q = q->data, .scale = scale->data,
                           .zero = zero->data};
    crvq_scalar_weights *W;
    if ((st = crvq_scalar_weights_from_layer(&L, b->what, &W))) return st;
    return crvq_linear_attach(s, lin, CRVQ_LINEAR_SCALAR, W);
}

crvq_status crvq_linear_bind(crvq_tensor_lookup lookup, void *ctx, crvq_model_storage *s, const char *file,
                             const char *prefix, int n_out, int n_in, crvq_linear *lin, int *found) {
    binder b = {lookup, ctx, file, prefix, ""};
    const crvq_tensor_view *codes, *q;
    crvq_status st;
    *found = 0;
    if ((st = get(&b, ".codes", 2, CRVQ_I8, CRVQ_I16, &codes)) || (st = get(&b, ".qweight", 2, CRVQ_I8, CRVQ_I8, &q)))
        return st;
    if (!codes && !q) return CRVQ_OK;
    snprintf(b.what, sizeof b.what, "%s: layer %s", file, prefix);
    lin->n_out = n_out;
    lin->n_in = n_in;
    lin->w = NULL;
    lin->w16 = NULL;
    st = codes ? bind_vq(&b, codes, s, n_out, n_in, lin) : bind_scalar(&b, q, s, n_out, n_in, lin);
    *found = st == CRVQ_OK;
    return st;
}
