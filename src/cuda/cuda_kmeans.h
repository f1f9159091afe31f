// cuda_kmeans.h — crvq_kmeans (quant/kmeans.h) on points in GPU memory:
// the same sample, the same k-means++ seeds (host, shared code), Lloyd
// iterations and the final assignment on the GPU. Each step gives the CPU's
// bits (cu_kernels.h), so the centroids equal crvq_kmeans's.
#ifndef CRVQ_CUDA_KMEANS_H
#define CRVQ_CUDA_KMEANS_H

#include "quant/kmeans.h"

// Cluster dX (n, d) on the device into C (K, d, host); d_assign (n,
// device), if not NULL, receives every point's nearest centroid.
crvq_status crvq_cu_kmeans(const float *dX, size_t n, int d, const crvq_kmeans_opts *o, float *C,
                           uint16_t *d_assign);

// The same on host points X (n, d): centroids C (K, d) and, if assign is
// not NULL, assignments (n); the CUDA backend's kmeans (the tests compare
// it with the CPU's).
crvq_status crvq_cuda_kmeans(const float *X, size_t n, int d, const crvq_kmeans_opts *o, float *C,
                             uint16_t *assign);

#endif
