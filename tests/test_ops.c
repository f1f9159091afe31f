// test_ops.c — the per-row kernels against float64 formulas: softmax (its
// vectorized exp over the whole float range that matters, ties, huge
// spreads, NaN and Inf that must not vanish), rmsnorm, SwiGLU, and RoPE's
// two pairings.
#include "check.h"
#include "kernels/ops.h"

#include <math.h>

static void check_softmax(const float *in, int n) {
    float x[1024];
    double ref[1024], mx = -INFINITY, sum = 0, err = 0;
    for (int i = 0; i < n; i++) mx = fmax(mx, in[i]);
    for (int i = 0; i < n; i++) sum += (ref[i] = exp((double)in[i] - mx));
    for (int i = 0; i < n; i++) x[i] = in[i];
    crvq_softmax(x, n);
    // relative to each probability, down to those too small to matter
    for (int i = 0; i < n; i++)
        err = fmax(err, fabs(x[i] - ref[i] / sum) / fmax(ref[i] / sum, 1e-30));
    CHECK_MSG(err < 1e-6, "softmax of %d values: max rel err %.3g", n, err);
}

int main(void) {
    // a ramp from 0 down to -87: every exponent the exp polynomial meets
    float x[1024];
    for (int i = 0; i < 1024; i++) x[i] = -87.0f * i / 1023;
    check_softmax(x, 1024);
    for (int i = 0; i < 1024; i++) x[i] = -0.01f * i + 3.0f;
    check_softmax(x, 1024);
    for (int i = 0; i < 7; i++) x[i] = 2.5f; // ties, odd length
    check_softmax(x, 7);
    x[0] = 5.0f;
    check_softmax(x, 1);
    // a spread beyond float's exp range: the tail is ~0, not NaN or garbage
    for (int i = 0; i < 100; i++) x[i] = i == 50 ? 10.0f : -1000.0f + i;
    crvq_softmax(x, 100);
    int ok = 1;
    for (int i = 0; i < 100; i++) ok &= i == 50 ? fabsf(x[i] - 1.0f) < 1e-6f : x[i] >= 0 && x[i] < 1e-30f;
    CHECK(ok);
    // A NaN score, or +Inf (Inf - Inf is NaN), anywhere in a row makes every
    // probability NaN: an overflow upstream must show in the logits, not turn
    // into uniform or one-hot attention. -Inf alone is a zero probability.
    for (int bad = 0; bad < 3; bad++)
        for (int at = 0; at < 37; at += 12) {
            for (int i = 0; i < 37; i++) x[i] = 0.1f * i;
            x[at] = bad == 0 ? NAN : bad == 1 ? -NAN : INFINITY;
            crvq_softmax(x, 37);
            int all_nan = 1;
            for (int i = 0; i < 37; i++) all_nan &= isnan(x[i]);
            CHECK_MSG(all_nan, "softmax with %s at %d: x[%d] = %g", bad == 2 ? "+Inf" : "NaN", at, (at + 1) % 37,
                      x[(at + 1) % 37]);
        }
    for (int i = 0; i < 37; i++) x[i] = i == 5 ? -INFINITY : 0.0f;
    crvq_softmax(x, 37);
    CHECK(x[5] >= 0 && x[5] < 1e-30f && fabsf(x[0] - 1.0f / 36) < 1e-6f);

    float w[8], y[8], g[8], u[8];
    double ss = 0;
    for (int i = 0; i < 8; i++) {
        x[i] = (float)(i - 3.5) * 0.7f;
        w[i] = 1.0f + 0.1f * i;
        ss += (double)x[i] * x[i];
    }
    crvq_rmsnorm(y, x, w, 8, 1e-5f);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], x[i] / sqrt(ss / 8 + 1e-5) * w[i], 1e-6);
    for (int i = 0; i < 8; i++) {
        g[i] = (float)(i - 4) * 3.0f;
        u[i] = 0.5f + i;
    }
    crvq_swiglu(g, u, 8);
    for (int i = 0; i < 8; i++) {
        double gi = (i - 4) * 3.0;
        CHECK_NEAR(g[i], gi / (1 + exp(-gi)) * (0.5 + i), 1e-6);
    }

    // RoPE on one head of 4: pairs (0,1),(2,3) interleaved, (0,2),(1,3) half
    float c[2] = {cosf(0.3f), cosf(0.02f)}, s[2] = {sinf(0.3f), sinf(0.02f)};
    float v[4] = {1, 2, 3, 4}, h[4] = {1, 2, 3, 4};
    crvq_rope(v, 1, 4, c, s, 1);
    CHECK_NEAR(v[0], 1 * c[0] - 2 * s[0], 1e-6);
    CHECK_NEAR(v[1], 1 * s[0] + 2 * c[0], 1e-6);
    CHECK_NEAR(v[2], 3 * c[1] - 4 * s[1], 1e-6);
    CHECK_NEAR(v[3], 3 * s[1] + 4 * c[1], 1e-6);
    crvq_rope(h, 1, 4, c, s, 0);
    CHECK_NEAR(h[0], 1 * c[0] - 3 * s[0], 1e-6);
    CHECK_NEAR(h[2], 1 * s[0] + 3 * c[0], 1e-6);
    CHECK_NEAR(h[1], 2 * c[1] - 4 * s[1], 1e-6);
    CHECK_NEAR(h[3], 2 * s[1] + 4 * c[1], 1e-6);
    return check_done();
}
