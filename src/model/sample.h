// sample.h — choosing the next token from logits: greedy, or temperature +
// nucleus (top-p) sampling driven by a small seeded PRNG.
#ifndef CRVQ_MODEL_SAMPLE_H
#define CRVQ_MODEL_SAMPLE_H

#include <stdint.h>

// xorshift64* (Vigna), seeded through splitmix64 so that any seed, 0
// included, gives a well-mixed non-zero state. Same seed, same sequence.
typedef struct crvq_rng {
    uint64_t s;
} crvq_rng;

void crvq_rng_seed(crvq_rng *r, uint64_t seed);
uint64_t crvq_rng_next(crvq_rng *r);
// uniform in [0, 1), 24 random bits
float crvq_rng_float(crvq_rng *r);

// Index of the largest logit (the first one on ties).
int crvq_argmax(const float *logits, int n);

// Sample from softmax(logits / temp) restricted to the nucleus: the fewest
// most probable tokens whose probability sum exceeds top_p (top_p >= 1: all
// tokens). temp > 0. logits (n) is overwritten with the probabilities;
// scratch has room for n entries.
typedef struct crvq_prob_index {
    float p;
    int i;
} crvq_prob_index;
int crvq_sample(float *logits, int n, float temp, float top_p, crvq_rng *r,
                crvq_prob_index *scratch);

#endif
