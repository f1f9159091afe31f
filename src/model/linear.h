// linear.h — every linear layer of the forward pass goes through
// crvq_linear_forward, whatever its kind (dense now; compressed kinds later).
#ifndef CRVQ_MODEL_LINEAR_H
#define CRVQ_MODEL_LINEAR_H

#include "crvq.h"

// y = x Wᵀ (+ b) for n rows: x (n, n_in), y (n, n_out). Must not be called
// from inside an OpenMP parallel region: the dense kind calls BLAS, which
// runs its own threads.
void crvq_linear_forward(const crvq_linear *L, const float *x, int n, float *y);

#endif
