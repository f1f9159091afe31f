// hash.c — XXH64 and the chunked parallel digest (see hash.h).
#include "util/hash.h"

#include <string.h>

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull
#define P4 0x85ebca77c2b2ae63ull
#define P5 0x27d4eb2f165667c5ull

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8); // little-endian host, as everywhere in crvq
    return v;
}

static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t round64(uint64_t acc, uint64_t input) { return rotl(acc + input * P2, 31) * P1; }

static uint64_t merge(uint64_t acc, uint64_t v) { return (acc ^ round64(0, v)) * P1 + P4; }

uint64_t crvq_xxh64(const void *data, size_t n, uint64_t seed) {
    const uint8_t *p = data, *end = p + n;
    uint64_t h;
    if (n >= 32) {
        // four independent lanes over 32-byte stripes: the multiplies overlap
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        for (; end - p >= 32; p += 32) {
            v1 = round64(v1, rd64(p));
            v2 = round64(v2, rd64(p + 8));
            v3 = round64(v3, rd64(p + 16));
            v4 = round64(v4, rd64(p + 24));
        }
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge(h, v1);
        h = merge(h, v2);
        h = merge(h, v3);
        h = merge(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)n;
    for (; end - p >= 8; p += 8) h = rotl(h ^ round64(0, rd64(p)), 27) * P1 + P4;
    if (end - p >= 4) {
        h = rotl(h ^ (uint64_t)rd32(p) * P1, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) h = rotl(h ^ (uint64_t)*p * P5, 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t crvq_digest(const void *data, size_t n, uint64_t seed) {
    if (n <= CRVQ_DIGEST_CHUNK) return crvq_xxh64(data, n, seed);
    const uint8_t *p = data;
    const size_t n_chunks = (n + CRVQ_DIGEST_CHUNK - 1) / CRVQ_DIGEST_CHUNK;
    // chunk hashes in batches that fit on the stack, each batch hashed into the running value
    enum { BATCH = 256 };
    uint64_t part[BATCH], h = seed;
    for (size_t b0 = 0; b0 < n_chunks; b0 += BATCH) {
        const size_t nb = n_chunks - b0 < BATCH ? n_chunks - b0 : BATCH;
#pragma omp parallel for schedule(static)
        for (size_t k = 0; k < nb; k++) {
            const size_t c = b0 + k, len = c + 1 < n_chunks ? CRVQ_DIGEST_CHUNK : n - c * CRVQ_DIGEST_CHUNK;
            part[k] = crvq_xxh64(p + c * CRVQ_DIGEST_CHUNK, len, seed + c);
        }
        h = crvq_xxh64(part, nb * sizeof *part, h);
    }
    return h;
}
