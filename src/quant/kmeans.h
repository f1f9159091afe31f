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
#include "quant/rng.h"

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

// The quantizer's k-means (pre-quantization, initial codebooks) fits on a
// seeded sample of this many points per centroid (all points when there are
// fewer): 65536 of the 2M vectors of a 4096 x 4096 layer at e = 8. The
// initial codebooks only seed the alternating rounds, which refine them
// against H.
#define CRVQ_KMEANS_FIT_PER_CENTROID 256

// The steps of crvq_kmeans, for a device backend that runs the same
// algorithm (src/cuda/cuda_kmeans.c) and so starts from the same sample and
// seeds.

// k-means++ looks at the first this many points per centroid of the sample.
#define CRVQ_KMEANS_SEED_PER_CENTROID 16

// Points crvq_kmeans fits on: min(n, max(max_fit, K)), or n when max_fit is 0.
size_t crvq_kmeans_fit_count(size_t n, const crvq_kmeans_opts *o);
// The fitting sample: sample (nf) receives the indices a seeded partial
// Fisher-Yates shuffle of 0..n-1 puts first (nf < n).
crvq_status crvq_kmeans_sample(size_t n, size_t nf, crvq_rng *g, size_t *sample);
// k-means++ seeding of C (K, d) from X (n, d), n > K; D2 (n) scratch.
void crvq_kmeans_plusplus(const float *X, size_t n, int d, int K, crvq_rng *g, double *D2, float *C);
// Each empty cluster (count[j] == 0), in index order, moves to the point
// farthest from its centroid (dist (n), marked -1 once used).
void crvq_kmeans_reseed_empty(const float *X, size_t n, int d, int K, const size_t *count, float *dist, float *C);
// ct (d, K): C transposed, the scoring kernel's layout; qn (K) = ‖c_j‖².
void crvq_kmeans_tables(const float *C, int K, int d, float *ct, float *qn);

// Nearest centroid of each point of X (n, d) for the codebook C (K, d):
// assign (n), and, if dist is not NULL, the squared distance to it (n).
crvq_status crvq_kmeans_assign(const float *X, size_t n, int d, const float *C, int K, uint16_t *assign,
                               float *dist);

#endif
