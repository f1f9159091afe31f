// rng.h — the seeded random streams of the VQ / CRVQ quantizer.
//
// xoshiro256** seeded through splitmix64. Every stage of the quantizer draws
// from its own stream (seed, stream id), so that skipping a stage (no
// pre-quantization when the channel relaxation is moot) never shifts the
// numbers another stage sees: λ = 0 CRVQ and 1-codebook VQ then produce the
// same codebooks bit for bit. Streams are only ever used by one thread.
#ifndef CRVQ_QUANT_RNG_H
#define CRVQ_QUANT_RNG_H

#include <stdint.h>

// The streams of the quantizer's stages.
enum {
    CRVQ_STREAM_PREQUANT = 1,    // k-means of the pre-quantization (importance "hessian")
    CRVQ_STREAM_RANDOM_PERM = 2, // importance "random"
    CRVQ_STREAM_CODEBOOK = 16,   // + k: k-means initialisation of codebook k
};

typedef struct crvq_rng {
    uint64_t s[4];
} crvq_rng;

static inline uint64_t crvq_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void crvq_rng_init(crvq_rng *g, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
    for (int i = 0; i < 4; i++) g->s[i] = crvq_splitmix64(&x);
}

static inline uint64_t crvq_rng_next(crvq_rng *g) {
    uint64_t *s = g->s;
    uint64_t r = s[1] * 5;
    r = ((r << 7) | (r >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return r;
}

// Uniform in [0, 1) with 53 random bits.
static inline double crvq_rng_uniform(crvq_rng *g) { return (double)(crvq_rng_next(g) >> 11) * 0x1p-53; }

// Uniform integer in [0, n), n >= 1, without modulo bias (rejection).
static inline uint64_t crvq_rng_below(crvq_rng *g, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; // largest multiple of n, exclusive
    for (;;) {
        uint64_t x = crvq_rng_next(g);
        if (x < limit) return x % n;
    }
}

#endif
