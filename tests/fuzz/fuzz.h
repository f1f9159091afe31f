// fuzz.h — what the libFuzzer harnesses of tests/fuzz share (docs/fuzzing.md).
//
// Each fuzz_NAME.c defines LLVMFuzzerTestOneInput: it feeds one input to one
// reader and checks, beyond "no crash, no sanitizer report", the promises the
// reader's header makes about what it accepted (views inside the buffer,
// ids inside the vocabulary, a configuration that validates). The same file
// links with libFuzzer (CRVQ_FUZZ=ON) or with replay.c, which runs saved
// inputs through it in the normal test suite.
#ifndef CRVQ_FUZZ_H
#define CRVQ_FUZZ_H

#include "crvq.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Once per process: one thread (a fuzzer's throughput comes from running
// inputs, not from threads).
void fuzz_init(void);

// A broken promise is a crash for the fuzzer: print it and abort.
_Noreturn void fuzz_fail(const char *file, int line, const char *cond);
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))

// p[0..n) lies inside data[0..size).
int fuzz_inside(const void *p, size_t n, const uint8_t *data, size_t size);

// The input as a file for readers that take a path: written to this
// process's memfd, returned as "/proc/self/fd/N" (valid until the next call).
const char *fuzz_memfd(const uint8_t *data, size_t size);

// Encodes a fixed set of texts (ASCII, spaces, multi-byte and invalid UTF-8,
// special-token lookalikes) and decodes every id it got: ids must lie in the
// vocabulary and decoding must stay inside its buffer.
void fuzz_tokenizer_exercise(const crvq_tokenizer *t);

// The whole harness of a tokenizer file reader: parse the input (path names
// it in errors); a tokenizer it accepted goes through fuzz_tokenizer_exercise.
// Returns 0, as LLVMFuzzerTestOneInput does.
typedef crvq_status (*fuzz_tokenizer_parser)(const uint8_t *data, size_t size, const char *path,
                                             crvq_tokenizer **out);
int fuzz_tokenizer_input(const uint8_t *data, size_t size, fuzz_tokenizer_parser parse, const char *path);

// A growable byte buffer, for code that builds inputs (seeds.c and the
// harnesses that build their own tokenizers). Aborts when out of memory.
typedef struct fuzz_buf {
    uint8_t *p;
    size_t n, cap;
} fuzz_buf;
void fuzz_put(fuzz_buf *b, const void *data, size_t n);
void fuzz_putf(fuzz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// s as the body of a JSON string: quotes and backslashes escaped.
void fuzz_put_json(fuzz_buf *b, const char *s, size_t n);

// A model that loaded: its parts are there, its tokenizer fits its
// vocabulary, and unless one token costs more than FORWARD_MAX_MACS
// multiply-adds (a compressed layer's codes can stand for far more weights
// than the file has bytes) the forward pass runs a 3-token prompt and one
// decoding step, which reads every weight the loader bound.
#define FORWARD_MAX_MACS (1 << 20)
void fuzz_model_exercise(const crvq_model *m);

#endif
