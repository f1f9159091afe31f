// sample.c — greedy and nucleus sampling (crvq.h, "Sampling").
#include "crvq.h"

#include "kernels/ops.h"

#include <stdlib.h>

void crvq_sample_rng_seed(crvq_sample_rng *r, uint64_t seed) {
    // one splitmix64 step: nearby seeds give unrelated states. Its mixing is
    // a bijection, so exactly one seed maps to 0, which xorshift cannot use.
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    r->s = z ? z : 0x9e3779b97f4a7c15ull;
}

uint64_t crvq_sample_rng_next(crvq_sample_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

float crvq_sample_rng_float(crvq_sample_rng *r) { return (float)(crvq_sample_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

int crvq_argmax(const float *logits, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

// qsort order: probability descending, then index ascending (deterministic)
static int by_prob_desc(const void *a, const void *b) {
    const crvq_prob_index *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int crvq_sample(float *logits, int n, float temp, float top_p, crvq_sample_rng *r,
                crvq_prob_index *scratch) {
    float *p = logits;
    for (int i = 0; i < n; i++) p[i] /= temp;
    crvq_softmax(p, n);
    float u = crvq_sample_rng_float(r);
    if (top_p >= 1.0f || n == 1) {
        // inverse CDF over the whole distribution
        float cdf = 0.0f;
        for (int i = 0; i < n; i++) {
            cdf += p[i];
            if (u < cdf) return i;
        }
        return n - 1; // u above a cdf that rounding left short of 1
    }
    // Tokens below (1 - top_p) / (n - 1) cannot be in the nucleus: all of
    // them together weigh less than 1 - top_p. Sorting only the rest is much
    // cheaper for large vocabularies.
    float cutoff = (1.0f - top_p) / (float)(n - 1);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (p[i] >= cutoff) scratch[m++] = (crvq_prob_index){p[i], i};
    // none above the cutoff only for a near-uniform distribution and a tiny
    // top_p: the nucleus is then the single most probable token
    if (m == 0) return crvq_argmax(p, n);
    qsort(scratch, (size_t)m, sizeof *scratch, by_prob_desc);
    float mass = 0.0f;
    int last = m - 1;
    for (int k = 0; k < m; k++) {
        mass += scratch[k].p;
        if (mass > top_p) {
            last = k;
            break;
        }
    }
    // sample within the nucleus, renormalised to its mass
    float target = u * mass, cdf = 0.0f;
    for (int k = 0; k <= last; k++) {
        cdf += scratch[k].p;
        if (target < cdf) return scratch[k].i;
    }
    return scratch[last].i;
}
