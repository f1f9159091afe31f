// file_util.h — scratch files for tests that damage copies of models:
// a temporary directory, whole files, in-place byte patches, and where a
// GGUF file keeps a tensor's data or a u32 value. Include after check.h.
#ifndef CRVQ_TEST_FILE_UTIL_H
#define CRVQ_TEST_FILE_UTIL_H

#include "io/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

// mkdtemp under $TMPDIR (or /tmp) named crvq-NAME-XXXXXX into dir; exits on failure.
static inline void test_tmpdir(char *dir, size_t cap, const char *name) {
    snprintf(dir, cap, "%s/crvq-%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
    if (!mkdtemp(dir)) {
        perror(dir);
        exit(1);
    }
}

static inline void test_copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) {
        fprintf(stderr, "cannot copy %s to %s\n", from, to);
        exit(1);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    if (fclose(out)) exit(1);
}

// The resume tests' model: a fresh scratch directory (test_tmpdir NAME) with
// a copy of the shared stories260K.bin as dir/FILE, whose path goes to copy
// (the checkpoint tests change that copy, or need it at a path of their
// own). Returns the shared file's path; skips the test when it is missing.
static inline const char *test_stories_copy(char *dir, size_t dir_cap, const char *name, const char *file, char *copy,
                                            size_t copy_cap) {
    const char *shared = check_shared("models/stories260K/stories260K.bin");
    test_tmpdir(dir, dir_cap, name);
    snprintf(copy, copy_cap, "%s/%s", dir, file);
    test_copy_file(shared, copy);
    return shared;
}

static inline void test_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

// Overwrite bytes [at, at + n) of a file in place.
static inline void test_poke(const char *path, long at, const void *bytes, size_t n) {
    FILE *f = fopen(path, "r+b");
    if (!f || fseek(f, at, SEEK_SET) || fwrite(bytes, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "cannot patch %s at %ld\n", path, at);
        exit(1);
    }
}

// File offset of a GGUF file's tensor data, or of the value of a u32 key; -1 if absent.
static inline long test_gguf_tensor_at(const char *path, const char *name) {
    crvq_gguf *g;
    if (crvq_gguf_open(path, &g)) return -1;
    const crvq_tensor_view *t = crvq_gguf_find_tensor(g, name);
    long at = t ? (long)((const uint8_t *)t->data - g->data) : -1;
    crvq_gguf_close(g);
    return at;
}

static inline long test_gguf_u32_at(const char *path, const char *key) {
    crvq_gguf *g;
    if (crvq_gguf_open(path, &g)) return -1;
    int64_t i = crvq_gguf_find_key(g, key);
    long at = i >= 0 && g->kv[i].type == CRVQ_GGUF_U32 ? (long)(g->kv[i].raw - g->data) : -1;
    crvq_gguf_close(g);
    return at;
}

#endif
