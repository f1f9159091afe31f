// vq_work.c — set-up and bookkeeping of the VQ / CRVQ working state (see vq_work.h).
#include "quant/vq_work.h"

#include <assert.h>
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "quant/vq_fit.h"
#include "util/error.h"
#include "util/free_all.h"

// Groups per lazy V update: 128 columns make the update a GEMM with inner
// dimension 128 (efficient BLAS-3) while the in-block row updates of the
// search (d x block columns per accepted change) stay cheap.
#define CRVQ_VQ_BLOCK_COLUMNS 128

// Rows per GEMM panel: each panel call packs B again (k·n copies against
// 2·rows·k·n flops), a few percent of the work at 256 rows, while a
// 4096-row layer has 16 panels to share among the threads.
#define CRVQ_VQ_GEMM_PANEL 256

void crvq_vq_gemm(const crvq_vq_work *w, int m, int n, int k, const float *A, const float *B, float beta, float *C) {
    int saved = openblas_get_num_threads(), panels = (m + CRVQ_VQ_GEMM_PANEL - 1) / CRVQ_VQ_GEMM_PANEL;
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(dynamic, 1) num_threads(w->threads)
    for (int p = 0; p < panels; p++) {
        int r0 = p * CRVQ_VQ_GEMM_PANEL, rows = m - r0 < CRVQ_VQ_GEMM_PANEL ? m - r0 : CRVQ_VQ_GEMM_PANEL;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n, k, 1.0f, A + (size_t)r0 * k, k, B, n, beta,
                    C + (size_t)r0 * n, n);
    }
    openblas_set_num_threads(saved);
}

crvq_status crvq_vq_work_init(crvq_vq_work *w, crvq_vq_fit *L, const float *W, const float *H) {
    assert(w && L && W && H);
    memset(w, 0, sizeof *w);
    int m = L->m_out, n = L->n_in, d = L->d;
    size_t mn = (size_t)m * n;
    w->m = m;
    w->n = n;
    w->d = d;
    w->n_groups = L->n_groups;
    w->threads = omp_get_max_threads();
    w->L = L;
    w->W = W;
    w->H = H;
    w->block_groups = CRVQ_VQ_BLOCK_COLUMNS / d > 0 ? CRVQ_VQ_BLOCK_COLUMNS / d : 1;
    w->Hgg = malloc((size_t)w->n_groups * d * d * sizeof *w->Hgg);
    w->WH = malloc(mn * sizeof *w->WH);
    w->V = malloc(mn * sizeof *w->V);
    w->A = malloc(mn * sizeof *w->A);
    w->B = malloc(mn * sizeof *w->B);
    w->wHw = malloc((size_t)m * sizeof *w->wHw);
    w->row = malloc((size_t)m * sizeof *w->row);
    if (!w->Hgg || !w->WH || !w->V || !w->A || !w->B || !w->wHw || !w->row) {
        crvq_vq_work_free(w);
        return crvq_fail(CRVQ_ERR_NOMEM, "vq: out of memory for the working state of a %d x %d layer", m, n);
    }
    for (int g = 0; g < w->n_groups; g++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                w->Hgg[((size_t)g * d + a) * d + b] = H[((size_t)g * d + a) * n + (size_t)g * d + b];
    crvq_vq_gemm(w, m, n, n, W, H, 0.0f, w->WH);
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (int r = 0; r < m; r++) {
        double s = 0;
        for (size_t j = 0; j < (size_t)n; j++) s += (double)W[(size_t)r * n + j] * w->WH[(size_t)r * n + j];
        w->wHw[r] = s;
    }
    crvq_vq_work_refresh(w);
    return CRVQ_OK;
}

void crvq_vq_work_free(crvq_vq_work *w) {
    if (!w) return;
    crvq_free_all(w->Hgg, w->WH, w->V, w->A, w->B, w->wHw, w->row);
    memset(w, 0, sizeof *w);
}

void crvq_vq_work_gather(crvq_vq_work *w, float *const *cb) {
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (int r = 0; r < w->m; r++) crvq_vq_unscaled_rows(w->L, cb, r, r + 1, w->A + (size_t)r * w->n);
}

void crvq_vq_work_refresh(crvq_vq_work *w) {
    crvq_vq_work_gather(w, NULL);
    crvq_vq_gemm(w, w->m, w->n, w->n, w->A, w->H, 0.0f, w->V);
}

double crvq_vq_work_loss(crvq_vq_work *w, double *row_loss) {
    crvq_vq_work_gather(w, NULL);
    size_t n = (size_t)w->n;
    double *out = row_loss ? row_loss : w->row;
#pragma omp parallel for schedule(static) num_threads(w->threads)
    for (int r = 0; r < w->m; r++) {
        const float *u = w->A + r * n, *wh = w->WH + r * n, *v = w->V + r * n;
        double beta = 0, gamma = 0, s = w->L->scales[r];
        for (size_t j = 0; j < n; j++) {
            beta += (double)wh[j] * u[j];
            gamma += (double)v[j] * u[j];
        }
        out[r] = w->wHw[r] - 2 * s * beta + s * s * gamma;
    }
    double L = 0;
    for (int r = 0; r < w->m; r++) L += out[r]; // row order: independent of the thread count
    return L;
}
