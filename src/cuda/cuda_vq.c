// cuda_vq.c — VQ and CRVQ of one layer on the GPU (see cuda_vq.h,
// docs/cuda.md): the steps of src/quant/vq.c with the working state
// (W, H, W·H, V = U·H, codes, codebooks) in GPU memory.
//
//   importance   pre-quantization k-means (cuda_kmeans.c) and the column
//                sums on the GPU; the sort of 4096..11008 importances and
//                the permutation on the host (importance.c)
//   init         row scales, residual k-means on the GPU
//   continuous   exact scales (row sums on the GPU, the O(m) update on the
//                host), preconditioned CG on the codebooks: gradient and
//                preconditioner by sorted segments, one cuBLAS SGEMM per
//                iteration; the CG scalars on the host
//   discrete     the greedy code search (cu_search.cu) in blocks of 128
//                columns, each followed by the lazy V update (one SGEMM)
//
// The host sums per-row results in row order, as the CPU does. FP32 GEMMs
// round differently from OpenBLAS's, so results match the CPU's to rounding
// at first and drift apart slowly as a few codes fall the other way; the
// losses agree within 1% (tests/test_cuda_quant.c).
#include "cuda/cuda_vq.h"

#include <cuda_runtime_api.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_kmeans.h"
#include "cuda/cuda_segments.h"
#include "quant/importance.h"
#include "quant/quant_internal.h"
#include "quant/vq.h"
#include "quant/vq_fit.h"
#include "quant/vq_update.h"
#include "util/error.h"

// As vq_work.c: groups per lazy V update cover 128 columns.
#define CRVQ_CU_BLOCK_COLUMNS 128

typedef struct gpu {
    crvq_cu cu;
    crvq_vq_fit *L;             // host: the result being built (scales are the master copy)
    crvq_cu_layer dl;             // device codes and shapes
    int m, n, d;
    size_t np, mn, nn;            // codebook entries, m·n, n·n
    float *cb;                    // (np) codebooks, codebook k at dl.off[k]
    float *W, *H, *WH, *V, *A, *B;
    double *Hgg, *rx, *ry, *drow, *dot;
    float *scales, *dU, *Df;
    float *ct[CRVQ_MAX_CODEBOOKS], *q[CRVQ_MAX_CODEBOOKS];
    double *P, *g, *z, *D, *g1, *z1;
    unsigned char *kind;
    crvq_cu_segs segs[CRVQ_MAX_CODEBOOKS];
    double *hx, *hy, *wHw;        // host (m)
} gpu;

static void gpu_free(gpu *G) {
    void *dev[] = {G->cb, G->W, G->H, G->WH, G->V, G->A, G->B, G->Hgg, G->rx, G->ry, G->drow, G->dot, G->scales,
                   G->dU, G->Df, G->P, G->g, G->z, G->D, G->g1, G->z1, G->kind, G->dl.codes, G->dl.codes_ext};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) crvq_cu_free(dev[i]);
    for (int k = 0; k < CRVQ_MAX_CODEBOOKS; k++) {
        crvq_cu_free(G->ct[k]);
        crvq_cu_free(G->q[k]);
        crvq_cu_segs_free(&G->segs[k]);
    }
    free(G->hx);
    free(G->hy);
    free(G->wHw);
    crvq_cu_close(&G->cu);
}

static int groups_of(const crvq_vq_fit *L, int k) { return k == 0 ? L->n_groups : L->n_crit; }

static crvq_status gpu_alloc(gpu *G) {
    crvq_vq_fit *L = G->L;
    int m = G->m, M = L->M;
    size_t nb = G->np / G->d, wb = (size_t)(CRVQ_CU_BLOCK_COLUMNS / G->d > 0 ? CRVQ_CU_BLOCK_COLUMNS / G->d : 1) * G->d;
    crvq_status st = CRVQ_OK;
#define ALLOC(p, count, what) \
    if (st == CRVQ_OK) st = crvq_cu_alloc(&(p), (size_t)(count) * sizeof *(p), what)
    ALLOC(G->cb, G->np, "codebooks");
    ALLOC(G->W, G->mn, "W");
    ALLOC(G->H, G->nn, "H");
    ALLOC(G->WH, G->mn, "W·H");
    ALLOC(G->V, G->mn, "U·H");
    ALLOC(G->A, G->mn, "scratch");
    ALLOC(G->B, G->mn, "scratch");
    ALLOC(G->Hgg, (size_t)L->n_groups * G->d * G->d, "H's diagonal blocks");
    ALLOC(G->rx, m, "row sums");
    ALLOC(G->ry, m, "row sums");
    ALLOC(G->drow, m, "row sums");
    ALLOC(G->dot, 1, "a scalar");
    ALLOC(G->scales, m, "scales");
    ALLOC(G->dU, (size_t)m * wb, "the search's moves");
    ALLOC(G->Df, G->np, "the CG direction");
    ALLOC(G->P, G->np * G->d, "the preconditioner");
    ALLOC(G->g, G->np, "CG vectors");
    ALLOC(G->z, G->np, "CG vectors");
    ALLOC(G->D, G->np, "CG vectors");
    ALLOC(G->g1, G->np, "CG vectors");
    ALLOC(G->z1, G->np, "CG vectors");
    ALLOC(G->kind, nb, "the preconditioner");
    ALLOC(G->dl.codes, (size_t)m * L->n_groups, "codes");
    if (M > 1 && L->n_crit > 0) ALLOC(G->dl.codes_ext, (size_t)m * L->n_crit * (M - 1), "codes");
    for (int k = 0; k < M; k++) {
        ALLOC(G->ct[k], (size_t)G->dl.K[k] * G->d, "search tables");
        ALLOC(G->q[k], (size_t)groups_of(L, k) * G->dl.K[k], "search tables");
        if (st == CRVQ_OK) st = crvq_cu_segs_alloc(&G->segs[k], (size_t)m * groups_of(L, k), G->dl.K[k]);
    }
#undef ALLOC
    G->hx = malloc((size_t)m * sizeof *G->hx);
    G->hy = malloc((size_t)m * sizeof *G->hy);
    G->wHw = malloc((size_t)m * sizeof *G->wHw);
    if (st == CRVQ_OK && (!G->hx || !G->hy || !G->wHw))
        st = crvq_fail(CRVQ_ERR_NOMEM, "cuda: out of host memory for row sums");
    return st;
}

#define TRY(expr)                         \
    do {                                  \
        crvq_status st_ = (expr);         \
        if (st_ != CRVQ_OK) return st_;   \
    } while (0)
#define TRY_CU(err, what) TRY(crvq_cu_check((err), (what)))

// ------------------------------------------------------------ step 2 ---

// The channel permutation (CRVQ with a relaxation): importances from the
// original W, on the GPU; dW holds W in original order.
static crvq_status channel_perm(gpu *G, const float *W, const double *H, const crvq_quant_params *p,
                                const float *dW) {
    crvq_vq_fit *L = G->L;
    int m = G->m, n = G->n, d = G->d, nc = L->n_crit * d;
    if (p->importance == CRVQ_IMPORTANCE_RANDOM) return crvq_channel_perm(W, m, n, H, p, nc, L->perm);
    double *imp = malloc((size_t)n * sizeof *imp), *dimp = NULL;
    float *C = NULL, *dC = NULL;
    uint16_t *da = NULL;
    crvq_status st = imp ? crvq_cu_alloc(&dimp, (size_t)n * sizeof *dimp, "importances")
                         : crvq_fail(CRVQ_ERR_NOMEM, "crvq: out of memory for %d channel importances", n);
    if (st == CRVQ_OK && p->importance == CRVQ_IMPORTANCE_HESSIAN) {
        // Pre-quantize every d-vector of W (original order), as importance.c.
        int K = 1 << p->e[0];
        size_t nvec = G->mn / d;
        crvq_kmeans_opts ko = {.K = K, .iters = p->kmeans_iters, .seed = p->seed, .stream = CRVQ_STREAM_PREQUANT,
                               .max_fit = (size_t)CRVQ_KMEANS_FIT_PER_CENTROID * K};
        C = malloc((size_t)K * d * sizeof *C);
        if (!C) st = crvq_fail(CRVQ_ERR_NOMEM, "crvq: out of memory for the pre-quantization");
        if (st == CRVQ_OK) st = crvq_cu_alloc(&dC, (size_t)K * d * sizeof *dC, "the pre-quantization");
        if (st == CRVQ_OK) st = crvq_cu_alloc(&da, nvec * sizeof *da, "the pre-quantization");
        if (st == CRVQ_OK) st = crvq_cu_kmeans(dW, nvec, d, &ko, C, da);
        if (st == CRVQ_OK) st = crvq_cu_upload(dC, C, (size_t)K * d * sizeof *dC);
    }
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_column_means(dW, m, n, d, dC, da, dimp), "channel importance");
    if (st == CRVQ_OK) st = crvq_cu_download(imp, dimp, (size_t)n * sizeof *imp);
    if (st == CRVQ_OK) {
        if (p->importance == CRVQ_IMPORTANCE_HESSIAN)
            for (int j = 0; j < n; j++) imp[j] *= H[(size_t)j * n + j];
        st = crvq_channel_perm_from_importance(imp, n, p, nc, L->perm);
    }
    free(imp);
    free(C);
    crvq_cu_free(dimp);
    crvq_cu_free(dC);
    crvq_cu_free(da);
    return st;
}

// W (permuted when L->perm) into G->W and H (float32, permuted) into G->H,
// with H's diagonal blocks.
static crvq_status upload_layer(gpu *G, const float *W, const double *H, const crvq_quant_params *p, double *t_imp) {
    crvq_vq_fit *L = G->L;
    double t0 = crvq_cu_seconds();
    int32_t *dperm = NULL;
    if (L->perm) {
        // G->B holds the original W until it is permuted into G->W.
        TRY(crvq_cu_upload(G->B, W, G->mn * sizeof *W));
        crvq_status st = channel_perm(G, W, H, p, G->B);
        if (st == CRVQ_OK) st = crvq_cu_alloc(&dperm, (size_t)G->n * sizeof *dperm, "the permutation");
        if (st == CRVQ_OK) st = crvq_cu_upload(dperm, L->perm, (size_t)G->n * sizeof *dperm);
        if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_permute_cols(G->B, G->m, G->n, dperm, G->W), "permute W");
        if (st != CRVQ_OK) {
            crvq_cu_free(dperm);
            return st;
        }
    } else {
        TRY(crvq_cu_upload(G->W, W, G->mn * sizeof *W));
    }
    *t_imp = crvq_cu_seconds() - t0;
    double *dH = NULL;
    crvq_status st = crvq_cu_alloc(&dH, G->nn * sizeof *dH, "H (float64)");
    if (st == CRVQ_OK) st = crvq_cu_upload(dH, H, G->nn * sizeof *dH);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_h_to_f32(dH, G->n, dperm, G->H), "H to float32");
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_hgg(G->H, G->n, G->d, G->Hgg), "H's diagonal blocks");
    if (st == CRVQ_OK) st = crvq_cu_sync();
    crvq_cu_free(dH);
    crvq_cu_free(dperm);
    return st;
}

// ------------------------------------------------------------ step 3, 4 ---

// Scales and the initial codebooks and codes (vq.c init_codebooks).
static crvq_status init_codebooks(gpu *G, const crvq_quant_params *p) {
    crvq_vq_fit *L = G->L;
    int m = G->m, n = G->n, d = G->d, nc = L->n_crit, M = L->M;
    float *X = G->A, *R = G->B; // scaled vectors (m, n); residuals (m, nc, d)
    TRY_CU(crvq_cu_scale_rows(G->W, m, n, G->scales, X), "row scales");
    TRY(crvq_cu_download(L->scales, G->scales, (size_t)m * sizeof *L->scales));
    crvq_kmeans_opts ko = {.iters = p->kmeans_iters, .seed = p->seed};
    ko.K = 1 << L->e[0];
    ko.stream = CRVQ_STREAM_CODEBOOK;
    ko.max_fit = (size_t)CRVQ_KMEANS_FIT_PER_CENTROID * ko.K;
    TRY(crvq_cu_kmeans(X, (size_t)m * L->n_groups, d, &ko, L->codebooks[0], G->dl.codes));
    TRY(crvq_cu_upload(G->cb + G->dl.off[0], L->codebooks[0], ((size_t)d << L->e[0]) * sizeof(float)));
    if (M == 1) return CRVQ_OK;
    TRY_CU(crvq_cu_residual_init(X, m, n, d, nc, G->cb, G->dl.codes, R), "residuals");
    // The scratch of the search tables holds each step's assignment.
    uint16_t *a = NULL;
    crvq_status st = crvq_cu_alloc(&a, (size_t)m * nc * sizeof *a, "assignments");
    for (int k = 1; k < M && st == CRVQ_OK; k++) {
        ko.K = 1 << L->e[k];
        ko.stream = CRVQ_STREAM_CODEBOOK + (uint64_t)k;
        ko.max_fit = (size_t)CRVQ_KMEANS_FIT_PER_CENTROID * ko.K;
        st = crvq_cu_kmeans(R, (size_t)m * nc, d, &ko, L->codebooks[k], a);
        if (st == CRVQ_OK)
            st = crvq_cu_upload(G->cb + G->dl.off[k], L->codebooks[k], ((size_t)d << L->e[k]) * sizeof(float));
        if (st == CRVQ_OK)
            st = crvq_cu_check(crvq_cu_residual_step(R, (size_t)m * nc, d, G->cb + G->dl.off[k], a, G->dl.codes_ext,
                                                     M, k),
                               "residuals");
    }
    crvq_cu_free(a);
    return st;
}

// ------------------------------------------------------------ state ---

// L = Σ_r wHw_r − 2 s_r (WH)_r·u_r + s_r² V_r·u_r, the rows' β = (WH)_r·u_r
// and γ = V_r·u_r left in G->hx, G->hy (vq_work.c crvq_vq_work_loss).
static crvq_status loss(gpu *G, double *out) {
    TRY_CU(crvq_cu_gather(&G->dl, G->cb, G->A), "reconstruction");
    TRY_CU(crvq_cu_row_dots(G->m, G->n, G->A, G->WH, G->V, G->rx, G->ry), "row sums");
    TRY(crvq_cu_download(G->hx, G->rx, (size_t)G->m * sizeof *G->hx));
    TRY(crvq_cu_download(G->hy, G->ry, (size_t)G->m * sizeof *G->hy));
    double L = 0;
    for (int r = 0; r < G->m; r++) {
        double s = G->L->scales[r];
        L += G->wHw[r] - 2 * s * G->hx[r] + s * s * G->hy[r];
    }
    *out = L;
    return CRVQ_OK;
}

// WH, wHw and V (vq_work.c crvq_vq_work_init).
static crvq_status work_init(gpu *G) {
    TRY(crvq_cu_sgemm(&G->cu, G->m, G->n, G->n, G->W, G->H, 0.0f, G->WH));
    TRY_CU(crvq_cu_row_dots(G->m, G->n, G->W, G->WH, NULL, G->rx, NULL), "row sums");
    TRY(crvq_cu_download(G->wHw, G->rx, (size_t)G->m * sizeof *G->wHw));
    TRY_CU(crvq_cu_gather(&G->dl, G->cb, G->A), "reconstruction");
    TRY(crvq_cu_sgemm(&G->cu, G->m, G->n, G->n, G->A, G->H, 0.0f, G->V));
    return crvq_cu_sync();
}

// ------------------------------------------------------------ step 5 ---

// Exact row scales (vq_update.c crvq_vq_update_scales); β and γ on the GPU.
static crvq_status update_scales(gpu *G) {
    TRY_CU(crvq_cu_gather(&G->dl, G->cb, G->A), "reconstruction");
    TRY_CU(crvq_cu_row_dots(G->m, G->n, G->A, G->WH, G->V, G->rx, G->ry), "row sums");
    TRY(crvq_cu_download(G->hx, G->rx, (size_t)G->m * sizeof *G->hx));
    TRY(crvq_cu_download(G->hy, G->ry, (size_t)G->m * sizeof *G->hy));
    float *scales = G->L->scales;
    for (int r = 0; r < G->m; r++) {
        double beta = G->hx[r], gamma = G->hy[r];
        if (!(gamma > 0)) continue;
        double s0 = scales[r], s1 = (float)(beta / gamma);
        double dl = -2.0 * (s1 - s0) * beta + (s1 * s1 - s0 * s0) * gamma;
        if (dl < 0) scales[r] = (float)s1;
    }
    return crvq_cu_upload(G->scales, scales, (size_t)G->m * sizeof *scales);
}

static crvq_status gradient(gpu *G, double *grad) {
    const crvq_vq_fit *L = G->L;
    for (int k = 0; k < L->M; k++)
        TRY_CU(crvq_cu_segment_gradient(G->segs[k].start, G->segs[k].end, G->segs[k].items, G->dl.K[k],
                                        groups_of(L, k), G->d, G->n, G->scales, G->WH, G->V, grad + G->dl.off[k]),
               "codebook gradient");
    return CRVQ_OK;
}

static crvq_status dot(gpu *G, const double *a, const double *b, double *out) {
    return crvq_cu_check(crvq_cu_dot(G->np, a, b, G->dot, out), "dot product");
}

// `iters` iterations of preconditioned CG on the codebooks (vq_update.c
// crvq_vq_update_codebooks, step for step).
static crvq_status update_codebooks(gpu *G, int iters) {
    const crvq_vq_fit *L = G->L;
    int d = G->d, M = L->M;
    size_t np = G->np, nb = np / d;
    // Codes are fixed for the whole step: group every codebook's vectors once.
    for (int k = 0; k < M; k++) {
        const uint16_t *codes = k == 0 ? G->dl.codes : G->dl.codes_ext;
        TRY(crvq_cu_segs_build(&G->segs[k], codes, (size_t)G->m * groups_of(L, k), k == 0 ? 1 : M - 1,
                               k == 0 ? 0 : k - 1, L->e[k]));
        TRY_CU(crvq_cu_segment_precond(G->segs[k].start, G->segs[k].end, G->segs[k].items, G->dl.K[k],
                                       groups_of(L, k), d, G->scales, G->Hgg, G->P + G->dl.off[k] * d),
               "preconditioner");
    }
    TRY_CU(crvq_cu_precond_factor(nb, d, G->P, G->kind), "preconditioner");
    TRY(gradient(G, G->g));
    TRY_CU(crvq_cu_precond_apply(nb, d, G->P, G->kind, G->g, G->z), "preconditioner");
    TRY_CU(cudaMemset(G->D, 0, np * sizeof *G->D), "CG direction");
    TRY_CU(crvq_cu_cg_direction(np, G->z, 0.0, G->D), "CG direction");
    double gz;
    TRY(dot(G, G->g, G->z, &gz));
    for (int it = 0; it < iters; it++) {
        double gD;
        TRY(dot(G, G->g, G->D, &gD));
        if (!(gD < 0)) break; // converged (g = 0) or lost to rounding
        TRY_CU(crvq_cu_codebook_step(np, 0.0, G->D, NULL, G->Df), "CG direction");
        TRY_CU(crvq_cu_gather(&G->dl, G->Df, G->A), "ΔU(D)");
        TRY(crvq_cu_sgemm(&G->cu, G->m, G->n, G->n, G->A, G->H, 0.0f, G->B));
        TRY_CU(crvq_cu_row_dots(G->m, G->n, G->A, G->B, NULL, G->rx, NULL), "row sums");
        TRY(crvq_cu_download(G->hx, G->rx, (size_t)G->m * sizeof *G->hx));
        double curv = 0; // DᵀAD
        for (int r = 0; r < G->m; r++) {
            double s2 = 2.0 * (double)L->scales[r] * L->scales[r];
            curv += s2 * G->hx[r];
        }
        if (!(curv > 0)) break; // H not PSD along D: no minimum on this line
        double alpha = -gD / curv;
        TRY_CU(crvq_cu_codebook_step(np, alpha, G->D, G->cb, NULL), "codebook step");
        TRY_CU(crvq_cu_axpy(G->mn, (float)alpha, G->B, G->V), "V update");
        if (it + 1 == iters) break;
        // Polak-Ribière (clipped at 0).
        TRY(gradient(G, G->g1));
        TRY_CU(crvq_cu_precond_apply(nb, d, G->P, G->kind, G->g1, G->z1), "preconditioner");
        double g1z1, g1z;
        TRY(dot(G, G->g1, G->z1, &g1z1));
        TRY(dot(G, G->g1, G->z, &g1z));
        double beta = (g1z1 - g1z) / gz;
        if (!(beta > 0)) beta = 0;
        TRY_CU(crvq_cu_cg_direction(np, G->z1, beta, G->D), "CG direction");
        double *t = G->g;
        G->g = G->g1;
        G->g1 = t;
        t = G->z;
        G->z = G->z1;
        G->z1 = t;
        gz = g1z1;
        if (!(gz > 0)) break;
    }
    return CRVQ_OK;
}

// One pass of the greedy code search (vq_search.c crvq_vq_search, beam 1).
static crvq_status search(gpu *G) {
    const crvq_vq_fit *L = G->L;
    int d = G->d, bg = CRVQ_CU_BLOCK_COLUMNS / d > 0 ? CRVQ_CU_BLOCK_COLUMNS / d : 1;
    crvq_cu_search_args a = {.L = G->dl, .cb = G->cb, .WH = G->WH, .V = G->V, .H = G->H, .scales = G->scales,
                             .Hgg = G->Hgg, .dU = G->dU, .drow = G->drow};
    for (int k = 0; k < L->M; k++) {
        const float *C = G->cb + G->dl.off[k];
        TRY_CU(crvq_cu_transpose(C, G->dl.K[k], d, G->ct[k]), "search tables");
        TRY_CU(crvq_cu_qtable(C, G->dl.K[k], d, G->Hgg, groups_of(L, k), G->q[k]), "search tables");
        a.ct[k] = G->ct[k];
        a.q[k] = G->q[k];
    }
    TRY_CU(cudaMemset(G->drow, 0, (size_t)G->m * sizeof *G->drow), "row sums");
    for (int g0 = 0; g0 < L->n_groups; g0 += bg) {
        a.g0 = g0;
        a.g1 = g0 + bg < L->n_groups ? g0 + bg : L->n_groups;
        TRY_CU(crvq_cu_search_block(&a), "code search");
        // V += ΔU·H[block, :]; a block without moves adds exact zeros.
        TRY(crvq_cu_sgemm(&G->cu, G->m, G->n, (a.g1 - g0) * d, G->dU, G->H + (size_t)g0 * d * G->n, 1.0f, G->V));
    }
    return crvq_cu_sync();
}

// The alternating rounds (vq.c run_rounds).
static crvq_status run_rounds(gpu *G, const crvq_quant_params *p, int *rounds, crvq_vq_trace *tr) {
    int cg = p->cg_iters > 0 ? p->cg_iters : CRVQ_VQ_CG_ITERS;
    double L;
    TRY(loss(G, &L));
    if (tr) tr->loss[0] = L;
    *rounds = 0;
    for (int it = 0; it < p->max_rounds && L > 0; it++) {
        double t0 = crvq_cu_seconds();
        TRY(update_scales(G));
        TRY(update_codebooks(G, cg));
        TRY(update_scales(G));
        TRY(crvq_cu_sync());
        double t1 = crvq_cu_seconds();
        TRY(search(G));
        double L1;
        TRY(loss(G, &L1));
        ++*rounds;
        if (tr) {
            tr->loss[*rounds] = L1;
            tr->seconds_continuous[*rounds - 1] = t1 - t0;
            tr->seconds_discrete[*rounds - 1] = crvq_cu_seconds() - t1;
        }
        int done = !(L - L1 > p->tol * L);
        L = L1;
        if (done) break;
    }
    return CRVQ_OK;
}

// Codes and codebooks back into the host layer.
static crvq_status download_layer(gpu *G) {
    crvq_vq_fit *L = G->L;
    TRY(crvq_cu_download(L->codes, G->dl.codes, (size_t)G->m * L->n_groups * sizeof *L->codes));
    if (G->dl.codes_ext)
        TRY(crvq_cu_download(L->codes_ext, G->dl.codes_ext,
                             (size_t)G->m * L->n_crit * (L->M - 1) * sizeof *L->codes_ext));
    for (int k = 0; k < L->M; k++)
        TRY(crvq_cu_download(L->codebooks[k], G->cb + G->dl.off[k], ((size_t)G->d << L->e[k]) * sizeof(float)));
    return CRVQ_OK;
}

static crvq_status quantize(gpu *G, const float *W, const double *H, const crvq_quant_params *p, int *rounds,
                            crvq_vq_trace *tr) {
    double t0 = crvq_cu_seconds(), t_imp = 0;
    TRY(crvq_cu_open(&G->cu));
    TRY(gpu_alloc(G));
    TRY(upload_layer(G, W, H, p, &t_imp));
    double t1 = crvq_cu_seconds();
    TRY(init_codebooks(G, p));
    TRY(crvq_cu_sync());
    double t2 = crvq_cu_seconds();
    TRY(work_init(G));
    if (tr) {
        tr->seconds_importance = t_imp;
        tr->seconds_prepare = t1 - t0 - t_imp;
        tr->seconds_kmeans = t2 - t1;
        tr->seconds_setup = crvq_cu_seconds() - t2;
    }
    TRY(run_rounds(G, p, rounds, tr));
    return download_layer(G);
}

crvq_status crvq_cuda_vq_quantize(const float *W, int m_out, int n_in, const double *H,
                                  const crvq_quant_params *p, crvq_vq_layer *out, int *rounds,
                                  crvq_vq_trace *trace) {
    memset(out, 0, sizeof *out);
    *rounds = 0;
    if (p->d > CRVQ_CUDA_MAX_D)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: vector dimension d = %d; the GPU code search "
                         "handles d <= %d (use the cpu)", p->d, CRVQ_CUDA_MAX_D);
    if (p->beam > 1)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: beam width %d; the GPU code search is greedy "
                         "(beam 1; use the cpu for wider beams)", p->beam);
    if ((size_t)m_out * (n_in / p->d) > INT_MAX)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device cuda: a %d x %d layer has more vectors than the GPU "
                         "code supports (2^31)", m_out, n_in);
    int M, n_crit, relax;
    crvq_vq_layout(p, n_in, &M, &n_crit, &relax);
    crvq_vq_fit L;
    crvq_status st = crvq_vq_fit_alloc(&L, m_out, n_in, p->d, M, p->e, n_crit, relax);
    if (st != CRVQ_OK) return st;
    if (trace && (st = crvq_vq_trace_alloc(trace, p->max_rounds)) != CRVQ_OK) {
        crvq_vq_fit_free(&L);
        return st;
    }
    gpu G;
    memset(&G, 0, sizeof G);
    G.L = &L;
    G.m = m_out;
    G.n = n_in;
    G.d = p->d;
    G.mn = (size_t)m_out * n_in;
    G.nn = (size_t)n_in * n_in;
    G.np = crvq_vq_param_count(&L);
    G.dl = (crvq_cu_layer){.m = m_out, .n = n_in, .d = p->d, .ng = L.n_groups, .nc = n_crit, .M = M};
    for (int k = 0; k < M; k++) {
        G.dl.K[k] = 1 << L.e[k];
        G.dl.off[k] = crvq_vq_param_offset(&L, k);
    }
    st = quantize(&G, W, H, p, rounds, trace);
    gpu_free(&G);
    if (st == CRVQ_OK) st = crvq_vq_emit(&L, out);
    crvq_vq_fit_free(&L);
    if (st != CRVQ_OK) {
        crvq_vq_trace_free(trace);
        *rounds = 0;
    }
    return st;
}
