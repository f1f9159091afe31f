// cuda_linalg.c — the float64 checks of crvq_quantize_matrix on the GPU
// (see cuda_linalg.h): the positive-definiteness test of H and the two loss
// evaluations. On the CPU they cost more than the whole GPU quantization of
// a 4096 x 11008 layer (a Cholesky of H and 2·2·m·n² flops of DGEMM).
#include "cuda/cuda_linalg.h"

#include <stdlib.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_device.h"
#include "util/error.h"

crvq_status crvq_cuda_cholesky_ok(const double *H, int n, double shift, int *ok) {
    *ok = 0;
    crvq_cu cu;
    crvq_status st = crvq_cu_open(&cu);
    if (st != CRVQ_OK) return st;
    double *A = NULL;
    st = crvq_cu_alloc(&A, (size_t)n * n * sizeof *A, "H (float64)");
    if (st == CRVQ_OK) st = crvq_cu_upload(A, H, (size_t)n * n * sizeof *A);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_add_diagonal(n, shift, A), "H + shift I");
    if (st == CRVQ_OK) st = crvq_cu_potrf_ok(A, n, ok);
    crvq_cu_free(A);
    crvq_cu_close(&cu);
    return st;
}

// Rows per E·H product: bounds the scratch to 2 x 1024 x n doubles.
#define CRVQ_CU_LOSS_ROWS 1024

// Σ_r e_r H e_rᵀ with e = W − W_hat (W_hat NULL: e = W); rows summed in order.
static crvq_status loss_of(crvq_cu *cu, const float *dW, const float *dWh, int m, int n, const double *dH, double *E,
                           double *EH, double *drow, double *hrow, double *out) {
    for (int r0 = 0; r0 < m; r0 += CRVQ_CU_LOSS_ROWS) {
        int rows = m - r0 < CRVQ_CU_LOSS_ROWS ? m - r0 : CRVQ_CU_LOSS_ROWS;
        size_t off = (size_t)r0 * n;
        crvq_status st =
            crvq_cu_check(crvq_cu_difference((size_t)rows * n, dW + off, dWh ? dWh + off : NULL, E), "W − Ŵ");
        if (st == CRVQ_OK) st = crvq_cu_dgemm(cu, rows, n, n, E, dH, EH);
        if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_row_dots_f64(rows, n, E, EH, drow + r0), "row sums");
        if (st != CRVQ_OK) return st;
    }
    crvq_status st = crvq_cu_download(hrow, drow, (size_t)m * sizeof *hrow);
    if (st != CRVQ_OK) return st;
    double L = 0;
    for (int r = 0; r < m; r++) L += hrow[r];
    *out = L;
    return CRVQ_OK;
}

crvq_status crvq_cuda_layer_losses(const float *W, const float *W_hat, int m_out, int n_in, const double *H,
                                   double *loss, double *loss0) {
    crvq_cu cu;
    crvq_status st = crvq_cu_open(&cu);
    if (st != CRVQ_OK) return st;
    size_t mn = (size_t)m_out * n_in, nn = (size_t)n_in * n_in, chunk = (size_t)CRVQ_CU_LOSS_ROWS * n_in;
    if (chunk > mn) chunk = mn;
    double *dH = NULL, *E = NULL, *EH = NULL, *drow = NULL, *hrow = malloc((size_t)m_out * sizeof *hrow);
    float *dW = NULL, *dWh = NULL;
    if (!hrow) st = crvq_fail(CRVQ_ERR_NOMEM, "cuda: out of memory for row sums");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&dH, nn * sizeof *dH, "H (float64)");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&dW, mn * sizeof *dW, "W");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&dWh, mn * sizeof *dWh, "Ŵ");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&E, chunk * sizeof *E, "W − Ŵ");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&EH, chunk * sizeof *EH, "(W − Ŵ)·H");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&drow, (size_t)m_out * sizeof *drow, "row sums");
    if (st == CRVQ_OK) st = crvq_cu_upload(dH, H, nn * sizeof *dH);
    if (st == CRVQ_OK) st = crvq_cu_upload(dW, W, mn * sizeof *dW);
    if (st == CRVQ_OK) st = crvq_cu_upload(dWh, W_hat, mn * sizeof *dWh);
    if (st == CRVQ_OK) st = loss_of(&cu, dW, dWh, m_out, n_in, dH, E, EH, drow, hrow, loss);
    if (st == CRVQ_OK) st = loss_of(&cu, dW, NULL, m_out, n_in, dH, E, EH, drow, hrow, loss0);
    crvq_cu_free(dH);
    crvq_cu_free(E);
    crvq_cu_free(EH);
    crvq_cu_free(drow);
    crvq_cu_free(dW);
    crvq_cu_free(dWh);
    free(hrow);
    crvq_cu_close(&cu);
    return st;
}
