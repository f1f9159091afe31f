// importance.c — channel importance and the CRVQ permutation (see importance.h).
#include "quant/importance.h"

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "quant/kmeans.h"
#include "quant/rng.h"
#include "util/error.h"

// Column sums in row order, thread t owning columns [n·t/T, n·(t+1)/T):
// independent of the thread count. kind 0: (W − Q0)² (Q0 from C, assign);
// kind 1: |W|.
static void column_means(const float *W, int m, int n, int d, const float *C, const uint16_t *assign, double *imp) {
#pragma omp parallel
    {
        int T = omp_get_num_threads(), th = omp_get_thread_num();
        int j0 = (int)((int64_t)n * th / T), j1 = (int)((int64_t)n * (th + 1) / T);
        for (int j = j0; j < j1; j++) imp[j] = 0;
        for (int r = 0; r < m; r++) {
            const float *w = W + (size_t)r * n;
            for (int j = j0; j < j1; j++) {
                if (C) {
                    size_t vec = ((size_t)r * n + j) / d;
                    double e = (double)w[j] - C[(size_t)assign[vec] * d + j % d];
                    imp[j] += e * e;
                } else {
                    imp[j] += fabs((double)w[j]);
                }
            }
        }
        for (int j = j0; j < j1; j++) imp[j] /= m;
    }
}

crvq_status crvq_channel_importance(const float *W, int m_out, int n_in, const double *H,
                                    const crvq_quant_params *p, double *imp) {
    assert(W && H && p && imp && p->importance != CRVQ_IMPORTANCE_RANDOM);
    if (p->importance == CRVQ_IMPORTANCE_MAGNITUDE) {
        column_means(W, m_out, n_in, p->d, NULL, NULL, imp);
        return CRVQ_OK;
    }
    int d = p->d, K = 1 << p->e[0];
    size_t nvec = (size_t)m_out * n_in / d;
    float *C = malloc((size_t)K * d * sizeof *C);
    uint16_t *assign = malloc(nvec * sizeof *assign);
    if (!C || !assign) {
        free(C);
        free(assign);
        return crvq_fail(CRVQ_ERR_NOMEM, "crvq: out of memory for the pre-quantization of a %d x %d layer",
                         m_out, n_in);
    }
    crvq_kmeans_opts ko = {.K = K, .iters = p->kmeans_iters, .seed = p->seed, .stream = CRVQ_STREAM_PREQUANT,
                           .max_fit = (size_t)CRVQ_KMEANS_FIT_PER_CENTROID * K};
    crvq_status st = crvq_kmeans(W, nvec, d, &ko, C, assign);
    if (st == CRVQ_OK) {
        column_means(W, m_out, n_in, d, C, assign, imp);
        for (int j = 0; j < n_in; j++) imp[j] *= H[(size_t)j * n_in + j];
    }
    free(C);
    free(assign);
    return st;
}

typedef struct keyed {
    double key;
    int32_t index;
} keyed;

// Importance descending, then index ascending: a total order, so the
// unstable qsort gives one defined result.
static int by_importance(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

// Keep perm[0, nc) and put the other channels after them in original order.
static crvq_status partition(int n, int nc, int32_t *perm) {
    unsigned char *first = calloc((size_t)n, 1);
    if (!first) return crvq_fail(CRVQ_ERR_NOMEM, "crvq: out of memory for a %d-channel permutation", n);
    for (int j = 0; j < nc; j++) first[perm[j]] = 1;
    for (int j = 0, q = nc; j < n; j++)
        if (!first[j]) perm[q++] = j;
    free(first);
    return CRVQ_OK;
}

crvq_status crvq_channel_perm_from_importance(const double *imp, int n_in, const crvq_quant_params *p,
                                              int n_crit_channels, int32_t *perm) {
    assert(imp && p && perm && n_crit_channels >= 0 && n_crit_channels <= n_in);
    keyed *ks = malloc((size_t)n_in * sizeof *ks);
    if (!ks) return crvq_fail(CRVQ_ERR_NOMEM, "crvq: out of memory for %d channel importances", n_in);
    for (int j = 0; j < n_in; j++) ks[j] = (keyed){imp[j], j};
    qsort(ks, (size_t)n_in, sizeof *ks, by_importance);
    for (int j = 0; j < n_in; j++) perm[j] = ks[j].index;
    free(ks);
    return p->order == CRVQ_ORDER_PARTITION ? partition(n_in, n_crit_channels, perm) : CRVQ_OK;
}

crvq_status crvq_channel_perm(const float *W, int m_out, int n_in, const double *H,
                              const crvq_quant_params *p, int n_crit_channels, int32_t *perm) {
    assert(W && H && p && perm && n_crit_channels >= 0 && n_crit_channels <= n_in);
    if (p->importance != CRVQ_IMPORTANCE_RANDOM) {
        double *imp = malloc((size_t)n_in * sizeof *imp);
        if (!imp) return crvq_fail(CRVQ_ERR_NOMEM, "crvq: out of memory for %d channel importances", n_in);
        crvq_status st = crvq_channel_importance(W, m_out, n_in, H, p, imp);
        if (st == CRVQ_OK) st = crvq_channel_perm_from_importance(imp, n_in, p, n_crit_channels, perm);
        free(imp);
        return st;
    }
    for (int j = 0; j < n_in; j++) perm[j] = j;
    crvq_rng g;
    crvq_rng_init(&g, p->seed, CRVQ_STREAM_RANDOM_PERM);
    for (int j = n_in - 1; j > 0; j--) { // Fisher-Yates
        int k = (int)crvq_rng_below(&g, (uint64_t)j + 1);
        int32_t t = perm[j];
        perm[j] = perm[k];
        perm[k] = t;
    }
    return p->order == CRVQ_ORDER_PARTITION ? partition(n_in, n_crit_channels, perm) : CRVQ_OK;
}
