// cuda_kmeans.c — k-means with the data on the GPU (see cuda_kmeans.h).
//
// Per Lloyd iteration the host holds the K centroids (K·d floats) and the
// sample's assignment (to detect convergence, as the CPU does); the points
// stay on the device. Means are sums in point order per centroid (the
// sorted segments), as kmeans.c update_means adds them.
#include "cuda/cuda_kmeans.h"

#include <stdlib.h>
#include <string.h>

#include "cuda/cu_kernels.h"
#include "cuda/cuda_device.h"
#include "cuda/cuda_segments.h"
#include "util/error.h"
#include "util/free_all.h"

typedef struct kmeans_buf {
    float *Xs, *ct, *qn, *dist;       // device
    uint16_t *a;
    uint32_t *idx;
    double *sum;
    crvq_cu_segs segs;
    float *hct, *hqn, *hpts, *hdist;  // host
    uint16_t *ha, *hprev;
    double *hsum, *D2;
    int *hstart, *hend;
    size_t *hcount, *hidx;
    uint32_t *hidx32;
} kmeans_buf;

static void buf_free(kmeans_buf *b) {
    crvq_cu_free(b->Xs);
    crvq_cu_free(b->ct);
    crvq_cu_free(b->qn);
    crvq_cu_free(b->dist);
    crvq_cu_free(b->a);
    crvq_cu_free(b->idx);
    crvq_cu_free(b->sum);
    crvq_cu_segs_free(&b->segs);
    crvq_free_all(b->hct, b->hqn, b->hpts, b->hdist, b->ha, b->hprev, b->hsum, b->D2, b->hstart, b->hend, b->hcount,
                  b->hidx, b->hidx32);
}

// Upload the scoring tables of C.
static crvq_status tables(kmeans_buf *b, const float *C, int K, int d) {
    crvq_kmeans_tables(C, K, d, b->hct, b->hqn);
    crvq_status st = crvq_cu_upload(b->ct, b->hct, (size_t)K * d * sizeof(float));
    return st == CRVQ_OK ? crvq_cu_upload(b->qn, b->hqn, (size_t)K * sizeof(float)) : st;
}

// One Lloyd update: C = means of the assigned points; empty clusters
// re-seeded on the host from the farthest points (rare: the sample comes back).
static crvq_status update_means(kmeans_buf *b, const float *F, size_t nf, int d, int K, int bits, float *C) {
    crvq_status st = crvq_cu_segs_build(&b->segs, b->a, nf, 1, 0, bits);
    if (st == CRVQ_OK)
        st = crvq_cu_check(crvq_cu_segment_point_sums(b->segs.start, b->segs.end, b->segs.items, K, d, F, b->sum),
                           "k-means sums");
    if (st == CRVQ_OK) st = crvq_cu_download(b->hsum, b->sum, (size_t)K * d * sizeof(double));
    if (st == CRVQ_OK) st = crvq_cu_download(b->hstart, b->segs.start, (size_t)K * sizeof(int));
    if (st == CRVQ_OK) st = crvq_cu_download(b->hend, b->segs.end, (size_t)K * sizeof(int));
    if (st != CRVQ_OK) return st;
    int empty = 0;
    for (int j = 0; j < K; j++) {
        b->hcount[j] = (size_t)(b->hend[j] - b->hstart[j]);
        if (!b->hcount[j]) {
            empty++;
            continue;
        }
        for (int t = 0; t < d; t++)
            C[(size_t)j * d + t] = (float)(b->hsum[(size_t)j * d + t] / (double)b->hcount[j]);
    }
    if (!empty) return CRVQ_OK;
    st = crvq_cu_download(b->hdist, b->dist, nf * sizeof(float));
    if (st == CRVQ_OK) st = crvq_cu_download(b->hpts, F, nf * d * sizeof(float));
    if (st == CRVQ_OK) crvq_kmeans_reseed_empty(b->hpts, nf, d, K, b->hcount, b->hdist, C);
    return st;
}

// A random sample of nf of the n points of dX (as the CPU draws it),
// gathered on the device into b->Xs.
static crvq_status gather_sample(kmeans_buf *b, const float *dX, size_t n, size_t nf, int d, crvq_rng *g) {
    b->hidx = malloc(nf * sizeof *b->hidx);
    b->hidx32 = malloc(nf * sizeof *b->hidx32);
    if (!b->hidx || !b->hidx32)
        return crvq_fail(CRVQ_ERR_NOMEM, "k-means: out of memory for a sample of %zu points", nf);
    crvq_status st = crvq_kmeans_sample(n, nf, g, b->hidx);
    if (st != CRVQ_OK) return st;
    for (size_t i = 0; i < nf; i++) b->hidx32[i] = (uint32_t)b->hidx[i];
    st = crvq_cu_alloc(&b->idx, nf * sizeof *b->idx, "the k-means sample");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&b->Xs, nf * d * sizeof *b->Xs, "the k-means sample");
    if (st == CRVQ_OK) st = crvq_cu_upload(b->idx, b->hidx32, nf * sizeof *b->idx);
    if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_gather_points(dX, b->idx, nf, d, b->Xs), "k-means sample");
    return st;
}

// k-means++ seeds from the first points of F, then Lloyd iterations until
// the assignment stops changing or o->iters are done.
static crvq_status lloyd(kmeans_buf *b, const float *F, size_t nf, int d, int K, int bits, const crvq_kmeans_opts *o,
                         crvq_rng *g, float *C) {
    const size_t Kd = (size_t)K * d;
    b->ha = malloc(nf * sizeof *b->ha);
    b->hprev = malloc(nf * sizeof *b->hprev);
    b->hdist = malloc(nf * sizeof *b->hdist);
    // k-means++ seeds from the first ns points
    size_t ns = (size_t)CRVQ_KMEANS_SEED_PER_CENTROID * K;
    if (ns > nf) ns = nf;
    b->D2 = malloc(ns * sizeof *b->D2);
    b->hsum = malloc(Kd * sizeof *b->hsum);
    b->hstart = malloc((size_t)K * sizeof *b->hstart);
    b->hend = malloc((size_t)K * sizeof *b->hend);
    b->hcount = malloc((size_t)K * sizeof *b->hcount);
    if (!b->D2 || !b->ha || !b->hprev || !b->hdist || !b->hsum || !b->hstart || !b->hend || !b->hcount)
        return crvq_fail(CRVQ_ERR_NOMEM, "k-means: out of memory for %zu points, %d centroids", nf, K);
    crvq_status st = crvq_cu_alloc(&b->a, nf * sizeof *b->a, "k-means assignments");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&b->dist, nf * sizeof *b->dist, "k-means distances");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&b->sum, Kd * sizeof *b->sum, "k-means sums");
    if (st == CRVQ_OK) st = crvq_cu_segs_alloc(&b->segs, nf, 1 << bits);
    if (st == CRVQ_OK) st = crvq_cu_download(b->hpts, F, ns * d * sizeof(float));
    if (st != CRVQ_OK) return st;
    crvq_kmeans_plusplus(b->hpts, ns, d, K, g, b->D2, C);
    for (int it = 0; it < o->iters; it++) {
        if ((st = tables(b, C, K, d)) != CRVQ_OK) return st;
        uint16_t *sw = b->hprev;
        b->hprev = b->ha;
        b->ha = sw;
        st = crvq_cu_check(crvq_cu_assign(F, nf, d, b->ct, b->qn, K, b->a, b->dist), "k-means assignment");
        if (st == CRVQ_OK) st = crvq_cu_download(b->ha, b->a, nf * sizeof *b->ha);
        if (st != CRVQ_OK) return st;
        if (it > 0 && !memcmp(b->hprev, b->ha, nf * sizeof *b->ha)) break;
        if ((st = update_means(b, F, nf, d, K, bits, C)) != CRVQ_OK) return st;
    }
    return CRVQ_OK;
}

crvq_status crvq_cu_kmeans(const float *dX, size_t n, int d, const crvq_kmeans_opts *o, float *C,
                           uint16_t *d_assign) {
    int K = o->K, bits = 0;
    while ((1 << bits) < K) bits++;
    crvq_rng g;
    crvq_rng_init(&g, o->seed, o->stream);
    size_t nf = crvq_kmeans_fit_count(n, o), Kd = (size_t)K * d;
    kmeans_buf b;
    memset(&b, 0, sizeof b);
    crvq_status st = CRVQ_OK;
    const float *F = dX;
    b.hpts = malloc(nf * d * sizeof *b.hpts);
    b.hct = malloc(Kd * sizeof *b.hct);
    b.hqn = malloc((size_t)K * sizeof *b.hqn);
    if (!b.hpts || !b.hct || !b.hqn) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "k-means: out of memory for %zu points, %d centroids", nf, K);
        goto done;
    }
    if (nf < n) {
        if ((st = gather_sample(&b, dX, n, nf, d, &g)) != CRVQ_OK) goto done;
        F = b.Xs;
    }
    st = crvq_cu_alloc(&b.ct, Kd * sizeof *b.ct, "k-means tables");
    if (st == CRVQ_OK) st = crvq_cu_alloc(&b.qn, (size_t)K * sizeof *b.qn, "k-means tables");
    if (st != CRVQ_OK) goto done;
    if (nf <= (size_t)K) {
        // Fewer points than centroids: the points themselves are optimal.
        if ((st = crvq_cu_download(b.hpts, F, nf * d * sizeof(float))) != CRVQ_OK) goto done;
        for (int j = 0; j < K; j++) memcpy(C + (size_t)j * d, b.hpts + (j % nf) * d, (size_t)d * sizeof *C);
    } else if ((st = lloyd(&b, F, nf, d, K, bits, o, &g, C)) != CRVQ_OK) {
        goto done;
    }
    if (d_assign) {
        st = tables(&b, C, K, d);
        if (st == CRVQ_OK) st = crvq_cu_check(crvq_cu_assign(dX, n, d, b.ct, b.qn, K, d_assign, NULL), "assignment");
    }
done:
    buf_free(&b);
    return st;
}

crvq_status crvq_cuda_kmeans(const float *X, size_t n, int d, const crvq_kmeans_opts *o, float *C,
                             uint16_t *assign) {
    crvq_cu cu;
    crvq_status st = crvq_cu_open(&cu);
    if (st != CRVQ_OK) return st;
    float *dX = NULL;
    uint16_t *da = NULL;
    st = crvq_cu_alloc(&dX, n * d * sizeof *dX, "k-means points");
    if (st == CRVQ_OK && assign) st = crvq_cu_alloc(&da, n * sizeof *da, "k-means assignments");
    if (st == CRVQ_OK) st = crvq_cu_upload(dX, X, n * d * sizeof *dX);
    if (st == CRVQ_OK) st = crvq_cu_kmeans(dX, n, d, o, C, da);
    if (st == CRVQ_OK && assign) st = crvq_cu_download(assign, da, n * sizeof *assign);
    crvq_cu_free(dX);
    crvq_cu_free(da);
    crvq_cu_close(&cu);
    return st;
}
