// importance.h — the channel permutation of CRVQ: which input channels are
// critical (docs/method.md, "Quantizing one layer", steps 1-3).
#ifndef CRVQ_QUANT_IMPORTANCE_H
#define CRVQ_QUANT_IMPORTANCE_H

#include "crvq.h"

// Importance imp (n_in) of every input channel, original order:
//   hessian:   pre-quantize W with k-means (2^e[0] centroids, every d-vector
//              of every row, original order) to R = W − Q0(W);
//              I_j = mean_r R[r,j]² H[j,j]
//   magnitude: I_j = mean_r |W[r,j]|
// Not defined for CRVQ_IMPORTANCE_RANDOM (asserted).
crvq_status crvq_channel_importance(const float *W, int m_out, int n_in, const double *H,
                                    const crvq_quant_params *p, double *imp);

// perm (n_in): position j of the permuted order holds original channel
// perm[j]. Channels sorted by importance, descending, ties by index; for
// CRVQ_IMPORTANCE_RANDOM a seeded uniformly random permutation. With
// p->order == CRVQ_ORDER_PARTITION only the first n_crit_channels positions
// follow that order; the other channels keep their original order.
crvq_status crvq_channel_perm(const float *W, int m_out, int n_in, const double *H,
                              const crvq_quant_params *p, int n_crit_channels, int32_t *perm);

// The permutation from importances imp (n_in) that crvq_channel_perm
// computes (not for CRVQ_IMPORTANCE_RANDOM): for a backend that computes
// the importances elsewhere.
crvq_status crvq_channel_perm_from_importance(const double *imp, int n_in, const crvq_quant_params *p,
                                              int n_crit_channels, int32_t *perm);

#endif
