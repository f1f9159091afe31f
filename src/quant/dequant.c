// dequant.c — reconstruction of quantized layers into dense float32 weights.
#include <assert.h>
#include <string.h>

#include "crvq.h"
#include "kernels/sq_weights.h"
#include "kernels/vq_weights.h"
#include "quant/vq_fit.h"

void crvq_vq_unscaled_rows(const crvq_vq_fit *L, float *const *cb, int r0, int r1, float *u) {
    assert(L && u && 0 <= r0 && r0 <= r1 && r1 <= L->m_out);
    float *const *C = cb ? cb : L->codebooks;
    int d = L->d;
    for (int r = r0; r < r1; r++) {
        float *ur = u + (size_t)(r - r0) * L->n_in;
        for (int g = 0; g < L->n_groups; g++) {
            float *x = ur + (size_t)g * d;
            memcpy(x, C[0] + (size_t)*crvq_vq_code(L, r, g, 0) * d, (size_t)d * sizeof *x);
            for (int k = 1; k < crvq_vq_group_books(L, g); k++) {
                const float *c = C[k] + (size_t)*crvq_vq_code(L, r, g, k) * d;
                for (int t = 0; t < d; t++) x[t] += c[t];
            }
        }
    }
}

// ŵ[r, perm[j]] = scales[r] · u[r, j] (crvq.h's formula) from the stored
// fp16 values, each widened to float32 where it is read.
void crvq_vq_dequantize(const crvq_vq_layer *L, float *w) {
    assert(L && w && L->codes && L->scales);
    size_t n = (size_t)L->n_in;
    int d = L->d, E = L->M - 1;
    const int b0 = crvq_vq_code_bytes(L->e, 0, 1), bx = crvq_vq_code_bytes(L->e, 1, L->M);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < L->m_out; r++) {
        float *wr = w + (size_t)r * n, s = crvq_f16_to_f32(L->scales[r]);
        for (int g = 0; g < L->n_groups; g++) {
            const uint16_t *c[CRVQ_MAX_CODEBOOKS];
            int books = g < L->n_crit ? L->M : 1;
            c[0] = L->codebooks[0] + (size_t)crvq_vq_code_at(L->codes, b0, (size_t)r * L->n_groups + g) * d;
            for (int k = 1; k < books; k++)
                c[k] = L->codebooks[k] +
                       (size_t)crvq_vq_code_at(L->codes_ext, bx, ((size_t)r * L->n_crit + g) * E + k - 1) * d;
            for (int t = 0; t < d; t++) {
                float x = crvq_f16_to_f32(c[0][t]);
                for (int k = 1; k < books; k++) x += crvq_f16_to_f32(c[k][t]);
                size_t j = (size_t)g * d + t;
                wr[L->perm ? (size_t)L->perm[j] : j] = s * x;
            }
        }
    }
}

// ŵ[r,c] = scale[r,g] · (q[r,c] − zero[r,g]) from the packed codes and the
// fp16 scales and zeros.
void crvq_scalar_dequantize(const crvq_scalar_layer *L, float *w) {
    assert(L && w && L->q && L->scale && L->zero && L->group_size > 0);
    size_t n = (size_t)L->n_in, G = n / (size_t)L->group_size, rb = crvq_scalar_row_bytes(L->n_in, L->bits);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < L->m_out; r++)
        for (size_t c = 0; c < n; c++) {
            size_t gi = (size_t)r * G + c / (size_t)L->group_size;
            unsigned q = crvq_scalar_code_at(L->q + (size_t)r * rb, L->bits, c);
            w[(size_t)r * n + c] = crvq_f16_to_f32(L->scale[gi]) * ((float)q - crvq_f16_to_f32(L->zero[gi]));
        }
}
