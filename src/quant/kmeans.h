// kmeans.h — seeded, deterministic k-means on d-dimensional float vectors.
//
// k-means++ seeding, then Lloyd iterations; large inputs are fitted on a
// seeded sample (kmeans.c). The result depends only on the input and
// (seed, stream), never on the thread count: every sum has one owner thread
// that adds in point order.
#ifndef CRVQ_QUANT_KMEANS_H
#define CRVQ_QUANT_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

typedef struct crvq_kmeans_opts {
    int K;           // centroids, 1..65536
    int iters;       // at most this many Lloyd iterations; stops early once no point moves
    uint64_t seed;   // (seed, stream): the random stream of sampling and initialisation
    uint64_t stream;
    size_t max_fit;  // fit on a seeded sample of at most this many points (at least K); 0: all
} crvq_kmeans_opts;

// Cluster X (n, d) into C (K, d). assign (n), if not NULL, receives the
// nearest centroid of every point (the first one on ties), also of points
// left out of the fitting sample. With n <= K every point becomes a centroid
// and the remaining centroids repeat them in order.
// Empty clusters are re-seeded at the points farthest from their centroid.
crvq_status crvq_kmeans(const float *X, size_t n, int d, const crvq_kmeans_opts *o, float *C,
                        uint16_t *assign);

// Nearest centroid of each point of X (n, d) for the codebook C (K, d):
// assign (n), and, if dist is not NULL, the squared distance to it (n).
crvq_status crvq_kmeans_assign(const float *X, size_t n, int d, const float *C, int K, uint16_t *assign,
                               float *dist);

#endif
