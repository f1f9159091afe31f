// adam.h — Adam with bias correction over one flat float32 parameter vector
// (the update PyTorch's torch.optim.Adam makes, without weight decay).
#ifndef CRVQ_TRAIN_ADAM_H
#define CRVQ_TRAIN_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "crvq.h"

typedef struct crvq_adam {
    size_t n;
    double lr, beta1, beta2, eps;
    int64_t t;  // steps taken
    float *m;   // (n) first moment
    float *v;   // (n) second moment
} crvq_adam;

// Moments zeroed, t = 0. Fails only for lack of memory.
crvq_status crvq_adam_init(crvq_adam *a, size_t n, double lr, double beta1, double beta2, double eps);
void crvq_adam_free(crvq_adam *a);

// One step: with t incremented, m = β1 m + (1-β1) g, v = β2 v + (1-β2) g²,
//   p -= lr / (1-β1^t) · m / (sqrt(v / (1-β2^t)) + eps)      p, g (n)
void crvq_adam_step(crvq_adam *a, float *p, const float *g);

// The step's scalars (t incremented): step = lr / (1-β1^t), inv_sqrt_bc2 =
// 1 / sqrt(1-β2^t), as float; for a device that runs the element update
// itself (a->m, a->v unused).
void crvq_adam_next(crvq_adam *a, float *step, float *inv_sqrt_bc2);

#endif
