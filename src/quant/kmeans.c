// kmeans.c — seeded k-means (see kmeans.h).
//
// Cost: one assignment pass is n·K·d fused multiply-adds in the SIMD scoring
// kernel (kernels/vq_score.h). Fitting on a sample of max_fit points keeps
// the Lloyd iterations cheap on the 2M vectors of a 4096 x 4096 layer; one
// last pass assigns every point.
#include "quant/kmeans.h"

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vq_score.h"
#include "quant/rng.h"
#include "util/error.h"
#include "util/free_all.h"

void crvq_kmeans_tables(const float *C, int K, int d, float *ct, float *qn) {
    for (int j = 0; j < K; j++) {
        double s = 0;
        for (int t = 0; t < d; t++) {
            float c = C[(size_t)j * d + t];
            ct[(size_t)t * K + j] = c;
            s += (double)c * c;
        }
        qn[j] = (float)s;
    }
}

// Nearest centroid by argmin_j ‖c_j‖² − 2 x·c_j. vbuf: omp_get_max_threads()·d.
static void assign_all(const float *X, size_t n, int d, const float *ct, const float *qn, int K,
                       float *vbuf, uint16_t *assign, float *dist) {
    crvq_vq_argmin_fn argmin = crvq_vq_argmin_active();
#pragma omp parallel
    {
        float *v = vbuf + (size_t)omp_get_thread_num() * d;
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            const float *x = X + i * d;
            float xx = 0;
            for (int t = 0; t < d; t++) {
                v[t] = -2.0f * x[t];
                xx += x[t] * x[t];
            }
            float best;
            assign[i] = (uint16_t)argmin(ct, qn, v, d, K, &best);
            if (dist) dist[i] = fmaxf(best + xx, 0.0f);
        }
    }
}

crvq_status crvq_kmeans_assign(const float *X, size_t n, int d, const float *C, int K, uint16_t *assign,
                               float *dist) {
    assert(X && C && assign && d > 0 && K >= 1 && K <= 65536);
    float *ct = malloc((size_t)K * d * sizeof *ct), *qn = malloc((size_t)K * sizeof *qn);
    float *vbuf = malloc((size_t)omp_get_max_threads() * d * sizeof *vbuf);
    if (!ct || !qn || !vbuf) {
        free(ct);
        free(qn);
        free(vbuf);
        return crvq_fail(CRVQ_ERR_NOMEM, "k-means: out of memory for %d centroids of dimension %d", K, d);
    }
    crvq_kmeans_tables(C, K, d, ct, qn);
    assign_all(X, n, d, ct, qn, K, vbuf, assign, dist);
    free(ct);
    free(qn);
    free(vbuf);
    return CRVQ_OK;
}

static double sqdist(const float *a, const float *b, int d) {
    double s = 0;
    for (int t = 0; t < d; t++) {
        double e = (double)a[t] - b[t];
        s += e * e;
    }
    return s;
}

// k-means++: each next centroid is a point drawn with probability
// proportional to its squared distance to the nearest centroid so far.
// Sequential on purpose: K rounds of parallel updates would mean K barriers,
// which cost more than the work (n·d per round) on a busy two-core machine.
void crvq_kmeans_plusplus(const float *X, size_t n, int d, int K, crvq_rng *g, double *D2, float *C) {
    size_t first = (size_t)crvq_rng_below(g, n);
    memcpy(C, X + first * d, (size_t)d * sizeof *C);
    double total = 0;
    for (size_t i = 0; i < n; i++) total += D2[i] = sqdist(X + i * d, C, d);
    for (int c = 1; c < K; c++) {
        size_t pick;
        if (!(total > 0)) {
            pick = (size_t)crvq_rng_below(g, n); // every point already is a centroid
        } else {
            double u = crvq_rng_uniform(g) * total, cum = 0;
            pick = n;
            for (size_t i = 0; i < n; i++) {
                if (D2[i] <= 0) continue;
                pick = i; // the last point with mass, in case rounding leaves cum <= u
                cum += D2[i];
                if (cum > u) break;
            }
        }
        float *cc = C + (size_t)c * d;
        memcpy(cc, X + pick * d, (size_t)d * sizeof *cc);
        // The running total is recomputed, not updated, so rounding never drifts.
        total = 0;
        for (size_t i = 0; i < n; i++) {
            double e = sqdist(X + i * d, cc, d);
            if (e < D2[i]) D2[i] = e;
            total += D2[i];
        }
    }
}

// Centroids = means of their points. Thread t owns centroids [K·t/T, K·(t+1)/T)
// and adds their points in point order: the sums do not depend on T.
// Returns the number of empty clusters (left unchanged, flagged in count).
static int update_means(const float *X, size_t n, int d, int K, const uint16_t *a, double *sum,
                        size_t *count, float *C) {
    int empty = 0;
#pragma omp parallel reduction(+ : empty)
    {
        int T = omp_get_num_threads(), th = omp_get_thread_num();
        int j0 = (int)((int64_t)K * th / T), j1 = (int)((int64_t)K * (th + 1) / T);
        memset(sum + (size_t)j0 * d, 0, (size_t)(j1 - j0) * d * sizeof *sum);
        memset(count + j0, 0, (size_t)(j1 - j0) * sizeof *count);
        for (size_t i = 0; i < n; i++) {
            int j = a[i];
            if (j < j0 || j >= j1) continue;
            count[j]++;
            for (int t = 0; t < d; t++) sum[(size_t)j * d + t] += X[i * d + t];
        }
        for (int j = j0; j < j1; j++) {
            if (!count[j]) {
                empty++;
                continue;
            }
            for (int t = 0; t < d; t++) C[(size_t)j * d + t] = (float)(sum[(size_t)j * d + t] / (double)count[j]);
        }
    }
    return empty;
}

// Each empty cluster, in index order, moves to the point farthest from its
// centroid (the first such point on ties); that point is then not reused.
void crvq_kmeans_reseed_empty(const float *X, size_t n, int d, int K, const size_t *count, float *dist, float *C) {
    for (int j = 0; j < K; j++) {
        if (count[j]) continue;
        size_t far = 0;
        for (size_t i = 1; i < n; i++)
            if (dist[i] > dist[far]) far = i;
        memcpy(C + (size_t)j * d, X + far * d, (size_t)d * sizeof *C);
        dist[far] = -1.0f;
    }
}

size_t crvq_kmeans_fit_count(size_t n, const crvq_kmeans_opts *o) {
    size_t max_fit = o->max_fit ? (o->max_fit < (size_t)o->K ? (size_t)o->K : o->max_fit) : n;
    return n < max_fit ? n : max_fit;
}

crvq_status crvq_kmeans_sample(size_t n, size_t nf, crvq_rng *g, size_t *sample) {
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) return crvq_fail(CRVQ_ERR_NOMEM, "k-means: out of memory for a sample of %zu of %zu points", nf, n);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 0; i < nf; i++) {
        size_t k = i + (size_t)crvq_rng_below(g, n - i);
        size_t tmp = idx[i];
        idx[i] = idx[k];
        idx[k] = tmp;
        sample[i] = idx[i];
    }
    free(idx);
    return CRVQ_OK;
}

crvq_status crvq_kmeans(const float *X, size_t n, int d, const crvq_kmeans_opts *o, float *C,
                        uint16_t *assign) {
    assert(X && o && C && n > 0 && d > 0 && o->K >= 1 && o->K <= 65536 && o->iters >= 0);
    int K = o->K;
    crvq_rng g;
    crvq_rng_init(&g, o->seed, o->stream);

    size_t nf = crvq_kmeans_fit_count(n, o);
    float *Xs = NULL;
    if (nf < n) {
        Xs = malloc(nf * d * sizeof *Xs);
        size_t *idx = malloc(nf * sizeof *idx);
        crvq_status st = Xs && idx ? crvq_kmeans_sample(n, nf, &g, idx)
                                   : crvq_fail(CRVQ_ERR_NOMEM, "k-means: out of memory for a sample of %zu points", nf);
        if (st != CRVQ_OK) {
            free(Xs);
            free(idx);
            return st;
        }
        for (size_t i = 0; i < nf; i++) memcpy(Xs + i * d, X + idx[i] * d, (size_t)d * sizeof *Xs);
        free(idx);
    }
    const float *F = Xs ? Xs : X;

    crvq_status st = CRVQ_OK;
    if (nf <= (size_t)K) {
        // Fewer points than centroids: the points themselves are optimal.
        for (int j = 0; j < K; j++) memcpy(C + (size_t)j * d, F + (j % nf) * d, (size_t)d * sizeof *C);
    } else {
        double *D2 = malloc(nf * sizeof *D2), *sum = malloc((size_t)K * d * sizeof *sum);
        size_t *count = malloc((size_t)K * sizeof *count);
        uint16_t *a = malloc(nf * sizeof *a), *prev = malloc(nf * sizeof *prev);
        float *dist = malloc(nf * sizeof *dist), *ct = malloc((size_t)K * d * sizeof *ct);
        float *qn = malloc((size_t)K * sizeof *qn);
        float *vbuf = malloc((size_t)omp_get_max_threads() * d * sizeof *vbuf);
        if (!D2 || !sum || !count || !a || !prev || !dist || !ct || !qn || !vbuf) {
            st = crvq_fail(CRVQ_ERR_NOMEM, "k-means: out of memory for %zu points, %d centroids", nf, K);
        } else {
            // Seeding looks at the first CRVQ_KMEANS_SEED_PER_CENTROID·K points of
            // the (random) sample only: its cost is sequential n·K·d, and Lloyd's
            // iterations on the whole sample correct what a smaller seed set misses.
            size_t ns = (size_t)CRVQ_KMEANS_SEED_PER_CENTROID * K;
            crvq_kmeans_plusplus(F, nf < ns ? nf : ns, d, K, &g, D2, C);
            for (int it = 0; it < o->iters; it++) {
                crvq_kmeans_tables(C, K, d, ct, qn);
                if (it > 0) memcpy(prev, a, nf * sizeof *a);
                assign_all(F, nf, d, ct, qn, K, vbuf, a, dist);
                if (it > 0 && !memcmp(prev, a, nf * sizeof *a)) break;
                if (update_means(F, nf, d, K, a, sum, count, C)) crvq_kmeans_reseed_empty(F, nf, d, K, count, dist, C);
            }
        }
        crvq_free_all(D2, sum, count, a, prev, dist, ct, qn, vbuf);
    }
    free(Xs);
    if (st == CRVQ_OK && assign) st = crvq_kmeans_assign(X, n, d, C, K, assign, NULL);
    return st;
}
