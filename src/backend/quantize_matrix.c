// quantize_matrix.c — crvq_quantize_matrix(): validate one layer's W and H,
// make H usable (positive semi-definite), run the chosen method on the
// chosen device, reconstruct Ŵ and measure it (loss, bits, time) the same
// way for every method and device, so the baselines and CRVQ are compared
// on identical terms. The methods are src/quant/'s; this is the caller
// above them that picks the device's table (backend.h).
#include "backend/backend.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"
#include "quant/vq.h"
#include "util/error.h"

// Which device the parameters ask for, and whether the method runs there.
static crvq_status check_device(const crvq_quant_params *p) {
    const char *name = crvq_method_name(p->method);
    if (p->device != CRVQ_DEVICE_CPU && p->device != CRVQ_DEVICE_CUDA)
        return crvq_fail(CRVQ_ERR_INVALID, "%s: unknown device %d", name, (int)p->device);
    if (p->device != CRVQ_DEVICE_CPU && !crvq_method_is_vector(p->method))
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: runs on the cpu only (--device %s runs vq and crvq)", name,
                         crvq_device_name(p->device));
    return CRVQ_OK;
}

// Make H positive semi-definite. Every method minimises the quadratic
// L(Ŵ) = Σ_r e_r H e_rᵀ, which has no minimum when H is indefinite, so an H
// whose Cholesky fails even with a rounding-level jitter gets damp·mean(diag)
// added to its diagonal, ten times more until it passes. *H_used is H
// itself or a damped copy that the caller frees (*owned set).
static crvq_status make_psd(const crvq_backend *b, const double *H, int n_in, double damp, const double **H_used,
                            double **owned, double *damp_added) {
    size_t n = (size_t)n_in;
    double mean_diag = 0, max_diag = 0;
    for (size_t j = 0; j < n; j++) {
        mean_diag += H[j * n + j];
        max_diag = fmax(max_diag, H[j * n + j]);
    }
    mean_diag /= (double)n;
    if (!(mean_diag > 0))
        return crvq_fail(CRVQ_ERR_INVALID, "H has no positive diagonal (mean diag(H) = %g): "
                         "the layer's inputs are all zero or H is not a second-moment matrix", mean_diag);
    *H_used = H;
    *owned = NULL;
    *damp_added = 0;
    double *work = malloc(n * n * sizeof *work);
    if (!work) return crvq_fail(CRVQ_ERR_NOMEM, "H: out of memory for a %zu x %zu Cholesky", n, n);
    // Backward error of Cholesky is about n·eps·max|H|: a PSD matrix that is
    // singular or has rounding-level negative eigenvalues passes with this.
    double jitter = 16.0 * (double)n * DBL_EPSILON * max_diag;
    int ok;
    crvq_status st = b->cholesky_ok(H, n_in, jitter, work, &ok);
    if (st != CRVQ_OK || ok) {
        free(work);
        return st;
    }
    double step = damp > 0 ? damp : 0.01;
    for (int tries = 0; tries < 12; tries++, step *= 10) {
        if ((st = b->cholesky_ok(H, n_in, step * mean_diag + jitter, work, &ok)) != CRVQ_OK) {
            free(work);
            return st;
        }
        if (ok) {
            // The Cholesky work buffer becomes the damped copy.
            memcpy(work, H, n * n * sizeof *work);
            for (size_t j = 0; j < n; j++) work[j * n + j] += step * mean_diag;
            *H_used = work;
            *owned = work;
            *damp_added = step;
            return CRVQ_OK;
        }
    }
    free(work);
    return crvq_fail(CRVQ_ERR_INVALID, "H is far from positive semi-definite: still indefinite after "
                     "adding %g x mean diag(H) to its diagonal", step / 10);
}

crvq_status crvq_quantize_matrix(const float *W, int m_out, int n_in, const double *H,
                                 const crvq_quant_params *p, crvq_quant_result *out) {
    assert(W && H && p && out);
    memset(out, 0, sizeof *out);
    if (m_out < 1 || n_in < 1)
        return crvq_fail(CRVQ_ERR_INVALID, "W has shape (%d, %d); both dimensions must be positive", m_out,
                         n_in);
    double t_checks = omp_get_wtime();
    crvq_status st = check_device(p);
    if (st == CRVQ_OK) st = crvq_quant_check_params(p, n_in);
    char why[256];
    if (st == CRVQ_OK && !crvq_backend_available(p->device, why, sizeof why))
        st = crvq_fail(CRVQ_ERR_UNSUPPORTED, "--device %s: %s", crvq_device_name(p->device), why);
    // Available: the device has a table.
    const crvq_backend *b = st == CRVQ_OK ? crvq_backend_get(p->device) : NULL;
    if (st == CRVQ_OK) st = crvq_quant_check_inputs(W, m_out, n_in, H);
    const double *H_used = NULL;
    double *H_owned = NULL;
    if (st == CRVQ_OK) st = make_psd(b, H, n_in, p->damp, &H_used, &H_owned, &out->damp_added);
    if (st != CRVQ_OK) return st;

    crvq_quant_result r = {.method = p->method, .damp_added = out->damp_added,
                           .seconds_checks = omp_get_wtime() - t_checks};
    size_t P = (size_t)m_out * n_in;
    r.w_hat = malloc(P * sizeof *r.w_hat);
    if (!r.w_hat) {
        free(H_owned);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for a %d x %d reconstruction", m_out, n_in);
    }
    double t0 = omp_get_wtime();
    if (crvq_method_is_vector(p->method))
        st = b->vq_quantize(W, m_out, n_in, H_used, p, &r.vq, &r.rounds, &r.trace);
    else
        st = b->scalar_quantize(W, m_out, n_in, H_used, p, &r.scalar);
    if (st != CRVQ_OK) {
        free(r.w_hat);
        free(H_owned);
        return st;
    }
    if (crvq_method_is_vector(p->method)) {
        crvq_vq_dequantize(&r.vq, r.w_hat);
        r.bits = crvq_vq_bits(&r.vq);
    } else {
        crvq_scalar_dequantize(&r.scalar, r.w_hat);
        r.bits = crvq_scalar_bits(&r.scalar);
    }
    r.seconds = omp_get_wtime() - t0;
    double t_loss = omp_get_wtime();
    // The scalar methods run on the cpu only (check_device), so b is the
    // device that quantized the layer.
    st = b->layer_losses(W, r.w_hat, m_out, n_in, H_used, &r.loss, &r.loss0);
    r.seconds_loss = omp_get_wtime() - t_loss;
    free(H_owned);
    if (st == CRVQ_OK && (isnan(r.loss) || isnan(r.loss0)))
        st = crvq_fail(CRVQ_ERR_NOMEM, "cannot evaluate the layer loss: out of memory, or W and H so "
                       "large that it overflows");
    if (st != CRVQ_OK) {
        crvq_quant_result_free(&r);
        return st;
    }
    *out = r;
    return CRVQ_OK;
}
