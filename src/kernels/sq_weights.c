// sq_weights.c — scalar-quantized (RTN / GPTQ) weights: the stored form's
// packing and bytes, the runtime weights built from it, and the two paths
// of y = x Ŵᵀ (per-token matrix-vector products; expanded row tiles and
// sgemm). See sq_weights.h.
#include "kernels/sq_weights.h"

#include <assert.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scratch.h"
#include "kernels/tiled.h"
#include "kernels/sq_kernels.h"
#include "util/error.h"

size_t crvq_scalar_row_bytes(int n_in, int bits) { return ((size_t)n_in * bits + 7) / 8; }

void crvq_scalar_pack(const uint8_t *q, int m_out, int n_in, int bits, uint8_t *dst) {
    const size_t rb = crvq_scalar_row_bytes(n_in, bits);
    memset(dst, 0, (size_t)m_out * rb);
    for (int r = 0; r < m_out; r++) {
        uint8_t *row = dst + (size_t)r * rb;
        for (int c = 0; c < n_in; c++) {
            // a code of <= 8 bits touches at most two bytes
            const size_t bit = (size_t)c * bits, b = bit >> 3;
            const unsigned v = (unsigned)q[(size_t)r * n_in + c] << (bit & 7);
            row[b] |= (uint8_t)v;
            if (v >> 8) row[b + 1] |= (uint8_t)(v >> 8);
        }
    }
}

crvq_status crvq_scalar_weights_from_layer(const crvq_scalar_layer *L, const char *what,
                                           crvq_scalar_weights **out) {
    *out = NULL;
    const int m = L->m_out, n = L->n_in, gs = L->group_size;
    if (m <= 0 || n <= 0 || gs <= 0 || n % gs)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: bad shape %d x %d with group size %d", what, m, n, gs);
    if (L->bits < 1 || L->bits > 8)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %d bits per weight (1..8 supported)", what, L->bits);
    if (!L->q || !L->scale || !L->zero)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: codes, scales or zeros missing", what);
    const size_t ng = (size_t)m * (n / gs);
    const size_t head = crvq_scratch_align(sizeof(crvq_scalar_weights));
    char *blk = aligned_alloc(64, head + 2 * crvq_scratch_align(ng * 4));
    if (!blk) return crvq_fail(CRVQ_ERR_NOMEM, "%s: no memory for scales", what);
    crvq_scalar_weights *W = (crvq_scalar_weights *)blk;
    memset(W, 0, sizeof *W);
    float *sc = (float *)(blk + head), *ze = (float *)(blk + head + crvq_scratch_align(ng * 4));
    for (size_t i = 0; i < ng; i++) {
        sc[i] = crvq_f16_to_f32(L->scale[i]);
        ze[i] = crvq_f16_to_f32(L->zero[i]);
    }
    W->layer = *L;
    W->layer.owned = NULL;
    W->m_out = m;
    W->n_in = n;
    W->bits = L->bits;
    W->group_size = gs;
    W->n_gr = n / gs;
    W->row_bytes = crvq_scalar_row_bytes(n, L->bits);
    W->q = L->q;
    W->scale = sc;
    W->zero = ze;
    *out = W;
    return CRVQ_OK;
}

void crvq_scalar_weights_take(crvq_scalar_weights *W, crvq_scalar_layer *L) {
    assert(!W->own_q && W->q == L->q);
    W->own_q = L->owned;
    memset(L, 0, sizeof *L);
}

void crvq_scalar_weights_free(crvq_scalar_weights *W) {
    if (!W) return;
    free(W->own_q);
    free(W);
}

void crvq_scalar_layer_free(crvq_scalar_layer *L) {
    if (!L) return;
    free(L->owned);
    memset(L, 0, sizeof *L);
}

size_t crvq_scalar_layer_bytes(const crvq_scalar_layer *L) {
    return (size_t)L->m_out * crvq_scalar_row_bytes(L->n_in, L->bits) +
           (size_t)L->m_out * (L->n_in / L->group_size) * 2 * 2;
}

size_t crvq_scalar_weights_bytes(const crvq_scalar_weights *W) { return crvq_scalar_layer_bytes(&W->layer); }

// ---------------------------------------------------------------- forward ---

// Below this many weights one thread does the whole product: an OpenMP
// region costs microseconds, more than small layers take.
#define MATVEC_PAR_MIN_WEIGHTS (1 << 18)

// Each thread takes a fixed share of the rows for all n tokens: one parallel
// region and no barrier inside it (see crvq_vq_forward_lut).
void crvq_scalar_forward_matvec(const crvq_scalar_weights *W, const float *x, int n, float *y) {
    const crvq_sq_kernels *K = crvq_sq_kernels_active();
    const int m = W->m_out, G = W->n_gr, gs = W->group_size;
    // Σ x over each group of each token: the zero points enter as zero · Σ x
    float *xsum = crvq_scratch((size_t)n * G * sizeof(float)); // (n, n_gr)
    for (int t = 0; t < n; t++)
        for (int g = 0; g < G; g++) {
            const float *xg = x + (size_t)t * W->n_in + (size_t)g * gs;
            float s = 0.0f;
            for (int c = 0; c < gs; c++) s += xg[c];
            xsum[(size_t)t * G + g] = s;
        }
    const int par = (size_t)m * W->n_in >= MATVEC_PAR_MIN_WEIGHTS;
#pragma omp parallel if (par)
    {
        const int id = omp_get_thread_num(), nt = omp_get_num_threads();
        const int r0 = (int)((int64_t)m * id / nt), r1 = (int)((int64_t)m * (id + 1) / nt);
        if (r1 > r0)
            for (int t = 0; t < n; t++)
                K->matvec(W, x + (size_t)t * W->n_in, xsum + (size_t)t * G, r0, r1, y + (size_t)t * m + r0);
    }
}

static void sq_rows(const void *W, int r0, int r1, float *w) { crvq_sq_kernels_active()->dequant(W, r0, r1, w); }

void crvq_scalar_forward_tiled(const crvq_scalar_weights *W, const float *x, int n, float *y, int tile) {
    crvq_tiled_forward(sq_rows, W, W->m_out, W->n_in, x, n, y, tile);
}

// Below this many tokens the per-token products win (docs/kernels.md,
// measured with bench_kernels).
#define SQ_MATVEC_MAX_TOKENS 16

void crvq_scalar_forward(const crvq_scalar_weights *W, const float *x, int n, float *y) {
    assert(n >= 1);
    if (n <= SQ_MATVEC_MAX_TOKENS) crvq_scalar_forward_matvec(W, x, n, y);
    else crvq_scalar_forward_tiled(W, x, n, y, 0);
}

void crvq_scalar_dequant_rows(const crvq_scalar_weights *W, int r0, int r1, float *w) {
    assert(0 <= r0 && r0 <= r1 && r1 <= W->m_out);
    crvq_sq_kernels_active()->dequant(W, r0, r1, w);
}
