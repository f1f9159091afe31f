// linear.c — y = x Wᵀ (+ b) for each kind of linear layer.
#include "model/linear.h"

#include <assert.h>
#include <cblas.h>

#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"

static void linear_dense(const crvq_linear *L, const float *x, int n, float *y) {
    if (n == 1) {
        // one token (decode): matrix-vector, y (n_out) = W (n_out, n_in) x (n_in)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, L->n_out, L->n_in, 1.0f, L->w, L->n_in, x, 1,
                    0.0f, y, 1);
    } else {
        // a batch (prefill): y (n, n_out) = x (n, n_in) Wᵀ (n_in, n_out)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L->n_out, L->n_in, 1.0f, x,
                    L->n_in, L->w, L->n_in, 0.0f, y, L->n_out);
    }
}

void crvq_linear_forward(const crvq_linear *L, const float *x, int n, float *y) {
    assert(n >= 1);
    switch (L->kind) {
    case CRVQ_LINEAR_DENSE:
        assert(L->w);
        linear_dense(L, x, n, y);
        break;
    case CRVQ_LINEAR_VQ:
        assert(L->vq && L->vq->m_out == L->n_out && L->vq->n_in == L->n_in);
        crvq_vq_forward(L->vq, x, n, y);
        break;
    case CRVQ_LINEAR_SCALAR:
        assert(L->sq && L->sq->m_out == L->n_out && L->sq->n_in == L->n_in);
        crvq_scalar_forward(L->sq, x, n, y);
        break;
    default:
        assert(!"unknown linear kind");
    }
    if (L->bias)
        for (int r = 0; r < n; r++) {
            float *yr = y + (size_t)r * L->n_out;
            for (int o = 0; o < L->n_out; o++) yr[o] += L->bias[o];
        }
}
