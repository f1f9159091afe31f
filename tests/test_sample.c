// test_sample.c — the sampler of `crvq generate`: argmax ties, the PRNG's
// reproducibility and range, and the frequencies of temperature + nucleus
// sampling against the distribution they should draw from.
#include "check.h"
#include "crvq.h"

#include <math.h>

#define DRAWS 40000

// frequencies of DRAWS samples from logits (n <= 8) at temp, top_p
static void frequencies(const float *logits, int n, float temp, float top_p, double *freq) {
    crvq_sample_rng r;
    crvq_sample_rng_seed(&r, 123);
    crvq_prob_index scratch[8];
    float buf[8];
    int in_range = 1;
    for (int i = 0; i < n; i++) freq[i] = 0;
    for (int d = 0; d < DRAWS; d++) {
        for (int i = 0; i < n; i++) buf[i] = logits[i];
        int k = crvq_sample(buf, n, temp, top_p, &r, scratch);
        in_range &= k >= 0 && k < n;
        if (in_range) freq[k] += 1.0 / DRAWS;
    }
    CHECK(in_range);
}

int main(void) {
    float tie[5] = {1, 3, 2, 3, 0};
    CHECK(crvq_argmax(tie, 5) == 1);

    crvq_sample_rng a, b;
    crvq_sample_rng_seed(&a, 0);
    crvq_sample_rng_seed(&b, 0);
    int same = 1, in_range = 1;
    for (int i = 0; i < 1000; i++) {
        float u = crvq_sample_rng_float(&a);
        same &= u == crvq_sample_rng_float(&b);
        in_range &= u >= 0.0f && u < 1.0f;
    }
    CHECK(same && in_range);
    crvq_sample_rng_seed(&b, 1);
    crvq_sample_rng_seed(&a, 0);
    CHECK(crvq_sample_rng_next(&a) != crvq_sample_rng_next(&b));

    // probabilities 0.5, 0.3, 0.15, 0.05
    float logits[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    double f[8];
    frequencies(logits, 4, 1.0f, 1.0f, f); // whole distribution
    CHECK_NEAR(f[0], 0.5, 0.02);
    CHECK_NEAR(f[1], 0.3, 0.02);
    CHECK_NEAR(f[2], 0.15, 0.02);
    CHECK_NEAR(f[3], 0.05, 0.02);
    frequencies(logits, 4, 1.0f, 0.75f, f); // nucleus {0, 1}: 0.5 < 0.75 < 0.8
    CHECK_NEAR(f[0], 0.5 / 0.8, 0.02);
    CHECK_NEAR(f[1], 0.3 / 0.8, 0.02);
    CHECK(f[2] == 0 && f[3] == 0);
    frequencies(logits, 4, 0.5f, 1.0f, f); // temperature 1/2 squares the probabilities
    double z = 0.25 + 0.09 + 0.0225 + 0.0025;
    CHECK_NEAR(f[0], 0.25 / z, 0.02);
    CHECK_NEAR(f[1], 0.09 / z, 0.02);
    frequencies(logits, 4, 1.0f, 1e-6f, f); // tiny nucleus: greedy
    CHECK(f[0] > 0.999999);
    // a flat distribution with a nucleus below one token's mass: the first
    // token (ties keep index order)
    float flat[8] = {0};
    frequencies(flat, 8, 1.0f, 0.01f, f);
    CHECK(f[0] > 0.999999);
    return check_done();
}
