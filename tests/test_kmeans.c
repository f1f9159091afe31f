// test_kmeans.c — seeded k-means (quant/kmeans.h): recovers separated
// clusters, assignments are the nearest centroids, fewer points than
// centroids, duplicate points (empty clusters), and the same result at 1
// and 2 threads with sampling.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quant/kmeans.h"
#include "quant/rng.h"

static float uni(crvq_rng *g) { return (float)(2 * crvq_rng_uniform(g) - 1); }

static int nearest(const float *x, const float *C, int K, int d) {
    int best = 0;
    double bd = INFINITY;
    for (int j = 0; j < K; j++) {
        double s = 0;
        for (int t = 0; t < d; t++) s += ((double)x[t] - C[j * d + t]) * ((double)x[t] - C[j * d + t]);
        if (s < bd) {
            bd = s;
            best = j;
        }
    }
    return best;
}

static void test_clusters(void) {
    // Four tight clusters in 3-D around distant centres.
    int n = 400, d = 3, K = 4;
    const float centre[4][3] = {{10, 0, 0}, {0, 10, 0}, {0, 0, 10}, {-10, -10, -10}};
    float *X = malloc(sizeof(float) * n * d), C[12];
    uint16_t *a = malloc(sizeof(uint16_t) * n);
    crvq_rng g;
    crvq_rng_init(&g, 3, 0);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < d; t++) X[i * d + t] = centre[i % 4][t] + 0.1f * uni(&g);
    crvq_kmeans_opts o = {.K = K, .iters = 10, .seed = 1, .stream = 0, .max_fit = 0};
    CHECK(crvq_kmeans(X, n, d, &o, C, a) == CRVQ_OK);
    for (int c = 0; c < 4; c++) {
        int j = nearest(centre[c], C, K, d);
        for (int t = 0; t < d; t++) CHECK(fabsf(C[j * d + t] - centre[c][t]) < 0.05f);
        for (int i = c; i < n; i += 4) CHECK(a[i] == j);
    }
    free(X);
    free(a);
}

static void test_assign_and_threads(void) {
    int n = 3000, d = 8, K = 32, saved = omp_get_max_threads();
    float *X = malloc(sizeof(float) * n * d), *C1 = malloc(sizeof(float) * K * d), *C2 = malloc(sizeof(float) * K * d);
    uint16_t *a1 = malloc(sizeof(uint16_t) * n), *a2 = malloc(sizeof(uint16_t) * n);
    crvq_rng g;
    crvq_rng_init(&g, 4, 0);
    for (int i = 0; i < n * d; i++) X[i] = uni(&g) * (1 + (i % d == 2) * 5);
    crvq_kmeans_opts o = {.K = K, .iters = 6, .seed = 7, .stream = 1, .max_fit = 1000}; // sampled fit
    omp_set_num_threads(1);
    CHECK(crvq_kmeans(X, n, d, &o, C1, a1) == CRVQ_OK);
    omp_set_num_threads(2);
    CHECK(crvq_kmeans(X, n, d, &o, C2, a2) == CRVQ_OK);
    omp_set_num_threads(saved);
    CHECK(!memcmp(C1, C2, sizeof(float) * K * d) && !memcmp(a1, a2, sizeof(uint16_t) * n));
    int wrong = 0;
    for (int i = 0; i < n; i++) wrong += a1[i] != nearest(X + i * d, C1, K, d);
    CHECK_MSG(wrong == 0, "%d points not at their nearest centroid", wrong);
    o.seed = 8;
    CHECK(crvq_kmeans(X, n, d, &o, C2, a2) == CRVQ_OK);
    CHECK(memcmp(C1, C2, sizeof(float) * K * d) != 0);
    free(X);
    free(C1);
    free(C2);
    free(a1);
    free(a2);
}

static void test_degenerate(void) {
    // Fewer points than centroids: every point is a centroid, the rest repeat.
    float X[5 * 2] = {0, 0, 1, 0, 0, 1, 1, 1, 2, 2}, C[8 * 2];
    uint16_t a[5];
    crvq_kmeans_opts o = {.K = 8, .iters = 5, .seed = 0};
    CHECK(crvq_kmeans(X, 5, 2, &o, C, a) == CRVQ_OK);
    for (int i = 0; i < 5; i++) CHECK(C[a[i] * 2] == X[i * 2] && C[a[i] * 2 + 1] == X[i * 2 + 1]);
    for (int j = 0; j < 8; j++) CHECK(C[j * 2] == X[(j % 5) * 2]);

    // Mostly duplicates: empty clusters are re-seeded, nothing is NaN.
    int n = 200;
    float *Y = calloc((size_t)n * 2, sizeof *Y), D[4 * 2];
    uint16_t *b = malloc(sizeof(uint16_t) * n);
    Y[2 * 17] = 5;
    Y[2 * 90 + 1] = -3;
    o.K = 4;
    CHECK(crvq_kmeans(Y, n, 2, &o, D, b) == CRVQ_OK);
    for (int j = 0; j < 8; j++) CHECK(isfinite(D[j]));
    CHECK(D[b[17] * 2] == 5 && D[b[90] * 2 + 1] == -3 && D[b[0] * 2] == 0);
    free(Y);
    free(b);
}

int main(void) {
    test_clusters();
    test_assign_and_threads();
    test_degenerate();
    return check_done();
}
