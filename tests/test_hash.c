// test_hash.c — XXH64 against reference values (from xxhsum), and the
// chunked digest: thread-count independent, equal to XXH64 up to one chunk,
// changed by a flip of any one bit, chunk boundaries included.
#include "check.h"
#include "util/hash.h"

#include <omp.h>
#include <stdint.h>

static void pattern(uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 131 + (i >> 8));
}

int main(void) {
    // xxhsum -H1 of the pattern: every tail length class (< 32, stripes, 8/4/1-byte tails)
    const struct { size_t n; uint64_t h; } ref[] = {
        {0, 0xef46db3751d8e999ull},  {1, 0xe934a84adb052768ull},   {3, 0xa83378d1eb86ec62ull},
        {4, 0x9882e57ed36c4cfcull},  {7, 0xf0aef407b44730f8ull},   {8, 0xa5bc8d8944331fe7ull},
        {31, 0x1add2d10328c4897ull}, {32, 0x333288d992cf3b16ull},  {33, 0x379b60150f2cfc7full},
        {63, 0x230f593878fe3703ull}, {100, 0xacd07a6400e07defull}, {4099, 0xb54de306a4f7fd39ull},
    };
    uint8_t small[4099];
    pattern(small, sizeof small);
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++)
        CHECK_MSG(crvq_xxh64(small, ref[i].n, 0) == ref[i].h, "xxh64 of %zu bytes: %016llx", ref[i].n,
                  (unsigned long long)crvq_xxh64(small, ref[i].n, 0));
    CHECK(crvq_xxh64("abc", 3, 0) == 0x44bc2cf5ad770999ull);
    CHECK(crvq_xxh64(small, 100, 1) != crvq_xxh64(small, 100, 0));
    CHECK(crvq_digest(small, sizeof small, 5) == crvq_xxh64(small, sizeof small, 5));

    // 2.5 chunks and a bit: the digest is the same at any thread count and
    // changes with any single bit, at a chunk's first and last byte too.
    const size_t n = 2 * CRVQ_DIGEST_CHUNK + CRVQ_DIGEST_CHUNK / 2 + 3;
    uint8_t *b = malloc(n);
    uint64_t x = 88172645463325252ull; // xorshift64: chunks unlike each other
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t)x;
    }
    omp_set_num_threads(1);
    const uint64_t d1 = crvq_digest(b, n, 0);
    omp_set_num_threads(3);
    CHECK(crvq_digest(b, n, 0) == d1);
    CHECK(crvq_digest(b, n - 1, 0) != d1 && crvq_digest(b, n, 1) != d1);
    const size_t at[] = {0, CRVQ_DIGEST_CHUNK - 1, CRVQ_DIGEST_CHUNK, 2 * CRVQ_DIGEST_CHUNK + 17, n - 1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (int bit = 0; bit < 8; bit += 7) {
            b[at[i]] ^= (uint8_t)(1u << bit);
            CHECK_MSG(crvq_digest(b, n, 0) != d1, "flip of bit %d at %zu unnoticed", bit, at[i]);
            b[at[i]] ^= (uint8_t)(1u << bit);
        }
    // swapping two whole chunks changes it (chunk order counts)
    uint8_t *c = malloc(n);
    memcpy(c, b + CRVQ_DIGEST_CHUNK, CRVQ_DIGEST_CHUNK);
    memcpy(c + CRVQ_DIGEST_CHUNK, b, CRVQ_DIGEST_CHUNK);
    memcpy(c + 2 * CRVQ_DIGEST_CHUNK, b + 2 * CRVQ_DIGEST_CHUNK, n - 2 * CRVQ_DIGEST_CHUNK);
    CHECK(crvq_digest(c, n, 0) != d1);
    free(c);
    free(b);
    return check_done();
}
