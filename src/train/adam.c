// adam.c — Adam with bias correction (see adam.h).
#include "train/adam.h"

#include <math.h>
#include <stdlib.h>

#include "util/error.h"
#include "util/threads.h"

crvq_status crvq_adam_init(crvq_adam *a, size_t n, double lr, double beta1, double beta2, double eps) {
    *a = (crvq_adam){.n = n, .lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps};
    a->m = calloc(n ? n : 1, sizeof *a->m);
    a->v = calloc(n ? n : 1, sizeof *a->v);
    if (!a->m || !a->v) {
        crvq_adam_free(a);
        return crvq_fail(CRVQ_ERR_NOMEM, "adam: no memory for %zu parameters", n);
    }
    return CRVQ_OK;
}

void crvq_adam_free(crvq_adam *a) {
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

void crvq_adam_next(crvq_adam *a, float *step, float *inv_sqrt_bc2) {
    a->t++;
    const double bc1 = 1.0 - pow(a->beta1, (double)a->t), bc2 = 1.0 - pow(a->beta2, (double)a->t);
    *step = (float)(a->lr / bc1);
    *inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
}

void crvq_adam_step(crvq_adam *a, float *p, const float *g) {
    float step, inv_sqrt_bc2;
    crvq_adam_next(a, &step, &inv_sqrt_bc2);
    const float b1 = (float)a->beta1, b2 = (float)a->beta2, eps = (float)a->eps;
    float *m = a->m, *v = a->v;
    const size_t n = a->n;
#pragma omp parallel for schedule(static) if (n >= CRVQ_PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}
