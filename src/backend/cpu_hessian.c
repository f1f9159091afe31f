// cpu_hessian.c — the CPU's proxy Hessians (backend.h's hessian_* entries):
// each tap's rows widened to float64 and accumulated with dsyrk into the
// upper triangle, mirrored and divided by the row count at the end.
#include "backend/backend.h"
#include "util/error.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

typedef struct cpu_hessian {
    int n_taps;
    double *H[CRVQ_BACKEND_MAX_TAPS]; // the caller's (width, width), upper triangle accumulated
    int width[CRVQ_BACKEND_MAX_TAPS];
    double *buf; // (max_rows, max width) float64 copy of a tap
} cpu_hessian;

crvq_status crvq_cpu_hessian_begin(int n_taps, const int *width, int max_rows, double *const *H, void **ctx) {
    *ctx = NULL;
    if (n_taps < 1 || n_taps > CRVQ_BACKEND_MAX_TAPS || max_rows < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "proxy Hessians: %d taps, %d rows", n_taps, max_rows);
    cpu_hessian *h = calloc(1, sizeof *h);
    if (!h) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for proxy Hessians");
    int max_w = 0;
    h->n_taps = n_taps;
    for (int t = 0; t < n_taps; t++) {
        h->H[t] = H[t];
        h->width[t] = width[t];
        if (width[t] > max_w) max_w = width[t];
        memset(H[t], 0, (size_t)width[t] * width[t] * sizeof(double));
    }
    if (!(h->buf = malloc((size_t)max_rows * max_w * sizeof(double)))) {
        free(h);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for proxy Hessians");
    }
    *ctx = h;
    return CRVQ_OK;
}

crvq_status crvq_cpu_hessian_add(void *ctx, int tap, const float *x, int n) {
    cpu_hessian *h = ctx;
    int width = h->width[tap];
    size_t len = (size_t)n * width;
    for (size_t i = 0; i < len; i++) h->buf[i] = x[i];
    // H += xᵀx: x is (n, width) row-major
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, width, n, 1.0, h->buf, width, 1.0, h->H[tap], width);
    return CRVQ_OK;
}

// Mirror the upper triangle and divide by the number of rows: H = XᵀX / N.
static void finish(double *H, int n, long long rows) {
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double v = H[(size_t)i * n + j] / (double)rows;
            H[(size_t)i * n + j] = v;
            H[(size_t)j * n + i] = v;
        }
}

crvq_status crvq_cpu_hessian_end(void *ctx, long long rows) {
    cpu_hessian *h = ctx;
    if (!h) return CRVQ_OK;
    if (rows > 0)
        for (int t = 0; t < h->n_taps; t++) finish(h->H[t], h->width[t], rows);
    free(h->buf);
    free(h);
    return CRVQ_OK;
}
