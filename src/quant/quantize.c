// quantize.c — what crvq_quantize_matrix() (src/backend/quantize_matrix.c)
// needs from the quantizers on every device: the parameters' defaults,
// names and checks, the checks of W and H, the CPU's Cholesky test, the
// layer loss, and freeing a result.
#include "quant/quant_internal.h"

#include "quant/vq.h"
#include "util/error.h"

#include <assert.h>
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void crvq_quant_params_default(crvq_quant_params *p, crvq_method method) {
    assert(p);
    memset(p, 0, sizeof *p);
    p->method = method;
    // Scalar methods: 2 bits is the lowest setting at which asymmetric
    // min/max rounding is still meaningful (at 1 bit one of the two levels
    // is 0 because the grid must contain 0). Group 128 and 1% damping are
    // GPTQ's published defaults.
    p->bits = 2;
    p->group_size = 128;
    p->damp = 0.01;
    p->act_order = 0;
    p->block_size = 128;
    // Vector methods: the defaults of the CRVQ release (d = 8, e = 8, M = 4,
    // λ = 0.02). VQ is the single-codebook arm (M = 1) with every vector
    // using all codebooks (λ = 1).
    p->d = 8;
    p->M = method == CRVQ_METHOD_VQ ? 1 : 4;
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) p->e[k] = 8;
    p->lambda = method == CRVQ_METHOD_VQ ? 1.0 : 0.02;
    p->importance = CRVQ_IMPORTANCE_HESSIAN;
    // Critical channels first, the rest left in their original order: the
    // same critical set and bits as the paper's full sort, but vectors
    // of mixed importance, which the Hessian-aware code search exploits
    // (docs/method.md, "Critical channels and their order": 15% lower loss than the full
    // sort on a 4096x4096 layer, where the sort does not beat 1-codebook VQ).
    p->order = CRVQ_ORDER_PARTITION;
    p->beam = 1;
    p->tol = 0.01;
    p->max_rounds = 50;
    // 20 Lloyd iterations: initial codebooks only seed the alternating
    // rounds, which keep refining them, so more buys little.
    p->kmeans_iters = 20;
    p->cg_iters = CRVQ_VQ_CG_ITERS;
    p->seed = 0;
}

const char *crvq_method_name(crvq_method m) {
    switch (m) {
    case CRVQ_METHOD_RTN: return "rtn";
    case CRVQ_METHOD_GPTQ: return "gptq";
    case CRVQ_METHOD_VQ: return "vq";
    case CRVQ_METHOD_CRVQ: return "crvq";
    }
    return "unknown";
}

const char *crvq_channel_order_name(crvq_channel_order o) {
    return o == CRVQ_ORDER_SORT ? "sort" : o == CRVQ_ORDER_PARTITION ? "partition" : "unknown";
}

const char *crvq_importance_name(crvq_importance r) {
    switch (r) {
    case CRVQ_IMPORTANCE_HESSIAN: return "hessian";
    case CRVQ_IMPORTANCE_MAGNITUDE: return "magnitude";
    case CRVQ_IMPORTANCE_RANDOM: return "random";
    }
    return "unknown";
}

int crvq_method_is_vector(crvq_method m) { return m == CRVQ_METHOD_VQ || m == CRVQ_METHOD_CRVQ; }

crvq_status crvq_quant_check_params(const crvq_quant_params *p, int n_in) {
    const char *name = crvq_method_name(p->method);
    switch (p->method) {
    case CRVQ_METHOD_RTN:
    case CRVQ_METHOD_GPTQ:
        if (p->bits < 1 || p->bits > 8)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: bits must be in [1, 8], got %d", name, p->bits);
        if (p->group_size < 1 || n_in % p->group_size != 0)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: group size %d does not divide n_in = %d", name,
                             p->group_size, n_in);
        if (p->method == CRVQ_METHOD_GPTQ) {
            if (!(p->damp >= 0 && p->damp <= 1))
                return crvq_fail(CRVQ_ERR_INVALID, "gptq: damp must be in [0, 1], got %g", p->damp);
            if (p->block_size < 1)
                return crvq_fail(CRVQ_ERR_INVALID, "gptq: block size must be >= 1, got %d", p->block_size);
        }
        return CRVQ_OK;
    case CRVQ_METHOD_VQ:
    case CRVQ_METHOD_CRVQ:
        if (p->d < 1 || n_in % p->d != 0)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: vector dimension d = %d does not divide n_in = %d",
                             name, p->d, n_in);
        if (p->M < 1 || p->M > CRVQ_MAX_CODEBOOKS)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: M must be in [1, %d], got %d", name,
                             CRVQ_MAX_CODEBOOKS, p->M);
        for (int k = 0; k < p->M; k++)
            if (p->e[k] < 1 || p->e[k] > 16)
                return crvq_fail(CRVQ_ERR_INVALID, "%s: codebook %d bits e = %d, must be in [1, 16]",
                                 name, k + 1, p->e[k]);
        if (!(p->lambda >= 0 && p->lambda <= 1))
            return crvq_fail(CRVQ_ERR_INVALID, "%s: lambda must be in [0, 1], got %g", name, p->lambda);
        if (p->importance != CRVQ_IMPORTANCE_HESSIAN && p->importance != CRVQ_IMPORTANCE_MAGNITUDE &&
            p->importance != CRVQ_IMPORTANCE_RANDOM)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: unknown importance %d", name, (int)p->importance);
        if (p->beam < 1)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: beam width must be >= 1, got %d", name, p->beam);
        if (!(p->tol >= 0))
            return crvq_fail(CRVQ_ERR_INVALID, "%s: tol must be >= 0, got %g", name, p->tol);
        if (p->max_rounds < 0)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: max rounds must be >= 0, got %d", name, p->max_rounds);
        if (p->kmeans_iters < 1)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: k-means iterations must be >= 1, got %d", name,
                             p->kmeans_iters);
        if (p->cg_iters < 0)
            return crvq_fail(CRVQ_ERR_INVALID, "%s: CG iterations must be >= 0, got %d", name, p->cg_iters);
        return CRVQ_OK;
    }
    return crvq_fail(CRVQ_ERR_INVALID, "unknown quantization method %d", (int)p->method);
}

// NaN/Inf in W or H, or an H that is not symmetric, are input errors; the
// message names the first offending entry.
crvq_status crvq_quant_check_inputs(const float *W, int m_out, int n_in, const double *H) {
    size_t n = (size_t)n_in;
    for (size_t i = 0; i < (size_t)m_out * n; i++)
        if (!isfinite(W[i]))
            return crvq_fail(CRVQ_ERR_INVALID, "W[%zu, %zu] is %g (W must be finite)", i / n, i % n,
                             (double)W[i]);
    double max_diag = 0;
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(H[i]))
            return crvq_fail(CRVQ_ERR_INVALID, "H[%zu, %zu] is %g (H must be finite)", i / n, i % n, H[i]);
    for (size_t j = 0; j < n; j++) max_diag = fmax(max_diag, fabs(H[j * n + j]));
    // Symmetric to float32-accumulation accuracy; H built as XᵀX in float64
    // is symmetric to the last bit, so this only catches wrong matrices.
    // In 64 x 64 tiles: reading H[j, i] down a column of a 11008-wide H
    // would miss the cache on every entry.
    double tol = 1e-6 * max_diag;
    enum { TILE = 64 };
    for (size_t i0 = 0; i0 < n; i0 += TILE)
        for (size_t j0 = i0; j0 < n; j0 += TILE)
            for (size_t i = i0; i < i0 + TILE && i < n; i++)
                for (size_t j = j0 > i + 1 ? j0 : i + 1; j < j0 + TILE && j < n; j++)
                    if (fabs(H[i * n + j] - H[j * n + i]) > tol)
                        return crvq_fail(CRVQ_ERR_INVALID,
                                         "H is not symmetric: H[%zu, %zu] = %g but H[%zu, %zu] = %g", i, j,
                                         H[i * n + j], j, i, H[j * n + i]);
    return CRVQ_OK;
}

// Cholesky of H + shift·I succeeds. H is symmetric, so its row-major array
// is also its column-major one and LAPACK needs no transposed copy.
int crvq_cholesky_ok(const double *H, int n, double shift, double *work) {
    memcpy(work, H, (size_t)n * n * sizeof *work);
    for (int j = 0; j < n; j++) work[(size_t)j * n + j] += shift;
    return LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, work, n) == 0;
}

double crvq_layer_loss(const float *W, const float *W_hat, int m_out, int n_in, const double *H) {
    assert(W && H && m_out > 0 && n_in > 0);
    size_t n = (size_t)n_in;
    // Rows in chunks: E (rows, n) then E·H with one BLAS-3 call per chunk,
    // then the row dots; memory stays O(chunk · n) for any m_out.
    enum { CHUNK = 256 };
    double *E = malloc(CHUNK * n * sizeof *E), *EH = malloc(CHUNK * n * sizeof *EH);
    double *row_loss = malloc((size_t)m_out * sizeof *row_loss);
    if (!E || !EH || !row_loss) {
        free(E);
        free(EH);
        free(row_loss);
        return NAN; // only reachable if malloc fails; NaN makes that impossible to miss
    }
    for (int r0 = 0; r0 < m_out; r0 += CHUNK) {
        int rows = m_out - r0 < CHUNK ? m_out - r0 : CHUNK;
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++)
            for (size_t j = 0; j < n; j++) {
                size_t i = (size_t)(r0 + r) * n + j;
                E[(size_t)r * n + j] = (double)W[i] - (W_hat ? (double)W_hat[i] : 0.0);
            }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n_in, n_in, 1.0, E, n_in, H, n_in,
                    0.0, EH, n_in);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (size_t j = 0; j < n; j++) s += E[(size_t)r * n + j] * EH[(size_t)r * n + j];
            row_loss[r0 + r] = s;
        }
    }
    // Summed in row order, so the result does not depend on the thread count.
    double loss = 0;
    for (int r = 0; r < m_out; r++) loss += row_loss[r];
    free(E);
    free(EH);
    free(row_loss);
    return loss;
}

void crvq_quant_result_free(crvq_quant_result *r) {
    if (!r) return;
    if (crvq_method_is_vector(r->method)) {
        crvq_vq_layer_free(&r->vq);
        crvq_vq_trace_free(&r->trace);
    } else
        crvq_scalar_layer_free(&r->scalar);
    free(r->w_hat);
    memset(r, 0, sizeof *r);
}
