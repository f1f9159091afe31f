// gptq.c — GPTQ (Frantar et al., 2022): quantize the columns of W one at a
// time and push each column's rounding error onto the columns not yet
// quantized, weighted by the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU).
// Columns go in blocks of block_size: inside a block the updates are
// applied column by column (per row, rows are independent); the rest of the
// matrix receives the block's accumulated errors in one BLAS-3 product.
//
// Groups: without act-order, a group's grid is computed when its first
// column comes up, from the weights as updated so far (GPTQ's convention).
// With act-order the columns go by descending diag(H) and a group's columns
// are scattered; the grids are then computed up front from the original
// weights, one per original group ("static groups"), so the stored layout
// is the same as RTN's: (m_out, n_in / group_size) grids in column order.
#include "quant/quant_internal.h"
#include "quant/scalar.h"
#include "util/error.h"
#include "util/free_all.h"

#include <assert.h>
#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int j;
    double h;
} diag_entry;

// Descending diag(H); ties by column index so the order is deterministic.
static int by_diag_desc(const void *a, const void *b) {
    const diag_entry *x = a, *y = b;
    if (x->h != y->h) return x->h < y->h ? 1 : -1;
    return x->j - y->j;
}

// U (n, n) upper with H⁻¹ = UᵀU, in the upper triangle of A (row-major);
// A holds H on entry, the strict lower triangle is scratch on return.
// With J the exchange matrix, the Cholesky J H J = L Lᵀ gives
// H⁻¹ = (J L⁻¹ J)ᵀ (J L⁻¹ J) and J L⁻¹ J is upper: one Cholesky and one
// triangular inverse (2n³/3 flops) instead of factor, invert, factor again.
static int inverse_cholesky_upper(double *A, int n) {
    size_t nn = (size_t)n * n;
    // Reversing the array of a symmetric matrix gives J H J (in either order).
    for (size_t i = 0; i < nn / 2; i++) {
        double t = A[i];
        A[i] = A[nn - 1 - i];
        A[nn - 1 - i] = t;
    }
    // The row-major array of a symmetric matrix is also its column-major one.
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, A, n) != 0) return 0;
    if (LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'L', 'N', n, A, n) != 0) return 0;
    // Column-major L⁻¹(i, j) sits at A[i + j·n], so U(a, b) = L⁻¹(n−1−a, n−1−b)
    // is row-major A[n−1−b][n−1−a]: transpose across the anti-diagonal.
    for (size_t a = 0; a < (size_t)n; a++)
        for (size_t b = 0; a + b + 1 < (size_t)n; b++) {
            double *x = &A[a * n + b], *y = &A[(n - 1 - b) * n + (n - 1 - a)];
            double t = *x;
            *x = *y;
            *y = t;
        }
    return 1;
}

// The processing order (descending diag(H) with act-order, else column
// order) into perm, U = P H Pᵀ with the dead fix and damping, and Wd = W Pᵀ
// with dead columns zeroed. Dead inputs (H[j,j] = 0: the channel is always
// zero) carry no loss; their weights become 0 and their diagonal 1 so H
// stays invertible.
static void permute_and_damp(const float *W, int m, int n, const double *H, const crvq_quant_params *p,
                             diag_entry *order, int *perm, double *U, double *Wd) {
    double mean_diag = 0;
    for (int j = 0; j < n; j++) mean_diag += H[(size_t)j * n + j];
    mean_diag /= n;
    for (int j = 0; j < n; j++) order[j] = (diag_entry){j, H[(size_t)j * n + j]};
    if (p->act_order) qsort(order, (size_t)n, sizeof *order, by_diag_desc);
    for (int j = 0; j < n; j++) perm[j] = order[j].j;
#pragma omp parallel for schedule(static)
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) U[(size_t)a * n + b] = H[(size_t)perm[a] * n + perm[b]];
    for (int a = 0; a < n; a++) {
        double *d = &U[(size_t)a * n + a];
        if (*d == 0) *d = 1;
        *d += p->damp * mean_diag;
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m; r++)
        for (int a = 0; a < n; a++)
            Wd[(size_t)r * n + a] = H[(size_t)perm[a] * n + perm[a]] == 0 ? 0.0 : W[(size_t)r * n + perm[a]];
}

// Act-order's static groups: every grid from the original (dead-zeroed)
// weights, before any column is quantized.
static void static_group_grids(const float *W, int m, int n, const double *H, int gs, int bits,
                               crvq_scalar_fit *out) {
    const int n_groups = n / gs;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m; r++)
        for (int g = 0; g < n_groups; g++) {
            double lo = 0, hi = 0; // the grid contains 0 anyway
            for (int c = g * gs; c < (g + 1) * gs; c++) {
                double w = H[(size_t)c * n + c] == 0 ? 0.0 : W[(size_t)r * n + c];
                lo = w < lo ? w : lo;
                hi = w > hi ? w : hi;
            }
            size_t gi = (size_t)r * n_groups + g;
            crvq_scalar_grid(lo, hi, bits, &out->scale[gi], &out->zero[gi]);
        }
}

// The end of the block that starts at column i1. Without act-order a grid is
// computed from the current weights when its group starts; a group that
// starts inside the block must also end in it, since columns past the block
// lack the block's updates.
static int block_end(int i1, int n, const crvq_quant_params *p) {
    const int gs = p->group_size;
    int i2 = i1 + p->block_size < n ? i1 + p->block_size : n;
    if (!p->act_order)
        for (int c = (i1 / gs + 1) * gs; c < i2; c += gs)
            if (c + gs > i2) {
                i2 = c;
                break;
            }
    return i2;
}

// The grid of the group that starts at w[j] (no act-order), from the weights
// as updated so far.
static void dynamic_group_grid(const double *w, int j, int gs, int bits, float *scale, float *zero) {
    double lo = w[j], hi = w[j];
    for (int t = j + 1; t < j + gs; t++) {
        lo = w[t] < lo ? w[t] : lo;
        hi = w[t] > hi ? w[t] : hi;
    }
    crvq_scalar_grid(lo, hi, bits, scale, zero);
}

crvq_status crvq_gptq_quantize(const float *W, int m_out, int n_in, const double *H,
                               const crvq_quant_params *p, crvq_scalar_fit *out) {
    assert(W && H && p && out);
    const int n = n_in, m = m_out, gs = p->group_size, bits = p->bits, n_groups = n_in / gs;
    const size_t nn = (size_t)n * n;
    crvq_status st = crvq_scalar_fit_alloc(out, m, n, bits, gs);
    if (st != CRVQ_OK) return st;
    double *U = malloc(nn * sizeof *U);                    // (n, n): H, then the factor U
    double *Wd = malloc((size_t)m * n * sizeof *Wd);       // (m, n): working weights, processing order
    double *E = malloc((size_t)m * p->block_size * sizeof *E); // (m, block): scaled errors of a block
    int *perm = malloc((size_t)n * sizeof *perm);          // processing position -> original column
    diag_entry *order = malloc((size_t)n * sizeof *order);
    if (!U || !Wd || !E || !perm || !order) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "gptq: out of memory for a %d x %d layer", m, n);
        goto done;
    }

    permute_and_damp(W, m, n, H, p, order, perm, U, Wd);
    if (!inverse_cholesky_upper(U, n)) {
        st = crvq_fail(CRVQ_ERR_INVALID, "gptq: H + %g x mean diag(H) is not positive definite "
                       "(H is singular; use a damping > 0)", p->damp);
        goto done;
    }

    if (p->act_order) static_group_grids(W, m, n, H, gs, bits, out);

    for (int i1 = 0; i1 < n;) {
        const int i2 = block_end(i1, n, p);
        const int count = i2 - i1;
#pragma omp parallel for schedule(static)
        for (int r = 0; r < m; r++) {
            double *w = Wd + (size_t)r * n; // (n) this row, processing order
            double *e = E + (size_t)r * count;
            for (int c = 0; c < count; c++) {
                int j = i1 + c, col = perm[j];
                size_t gi = (size_t)r * n_groups + col / gs;
                if (!p->act_order && j % gs == 0) dynamic_group_grid(w, j, gs, bits, &out->scale[gi], &out->zero[gi]);
                const float s = out->scale[gi], z = out->zero[gi];
                int q = crvq_scalar_code(w[j], s, z, bits);
                out->q[(size_t)r * n + col] = (uint8_t)q;
                const double *u = U + (size_t)j * n; // row j of U
                double err = (w[j] - (double)crvq_scalar_value(q, s, z)) / u[j];
                e[c] = err;
                for (int t = j + 1; t < i2; t++) w[t] -= err * u[t];
            }
        }
        // Wd[:, i2:] (m, n−i2) −= E (m, count) · U[i1:i2, i2:] (count, n−i2)
        if (i2 < n)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n - i2, count, -1.0, E, count,
                        U + (size_t)i1 * n + i2, n, 1.0, Wd + i2, n);
        i1 = i2;
    }

done:
    if (st != CRVQ_OK) crvq_scalar_fit_free(out);
    crvq_free_all(U, Wd, E, perm, order);
    return st;
}
