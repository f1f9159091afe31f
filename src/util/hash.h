// hash.h — a fast 64-bit hash for telling data apart (not for security):
// checkpoint run identities digest whole models with it.
#ifndef CRVQ_HASH_H
#define CRVQ_HASH_H

#include <stddef.h>
#include <stdint.h>

// XXH64 of n bytes (the xxHash64 algorithm, written here from its
// specification; crvq_xxh64("abc", 3, 0) == 0x44bc2cf5ad770999).
uint64_t crvq_xxh64(const void *data, size_t n, uint64_t seed);

// A digest of n bytes for large buffers: the bytes are cut into chunks of
// CRVQ_DIGEST_CHUNK, hashed in parallel (chunk i with seed + i), and the
// chunk hashes, 256 at a time, hashed in order into the running value. The value depends only on the bytes and the
// seed, never on the thread count; buffers of one chunk or less digest to
// crvq_xxh64(data, n, seed).
#define CRVQ_DIGEST_CHUNK ((size_t)1 << 22)
uint64_t crvq_digest(const void *data, size_t n, uint64_t seed);

#endif
