// merge_heap.h — the binary heap of candidate merges that both BPE encoders
// use (bpe.c: SentencePiece's scores; bbpe.c: merge ranks). Each encoder has
// its own candidate type and order, so the heap is written once here as a
// macro that defines, for element type T and `int before(const T *a, const T *b)`
// (a leaves the heap first):
//
//   static crvq_status NAME_push(T **heap, size_t *n, size_t *cap, T c);
//   static T NAME_pop(T *heap, size_t *n);   // *n > 0
#ifndef CRVQ_MERGE_HEAP_H
#define CRVQ_MERGE_HEAP_H

#include "crvq.h"
#include "util/error.h"

#include <stdlib.h>

#define CRVQ_MERGE_HEAP(NAME, T, before)                                                           \
    static crvq_status NAME##_push(T **heap, size_t *n, size_t *cap, T c) {                       \
        if (*n == *cap) {                                                                          \
            size_t new_cap = *cap ? 2 * *cap : 256;                                                \
            T *h = realloc(*heap, new_cap * sizeof *h);                                            \
            if (!h) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory for the merge queue"); \
            *heap = h;                                                                             \
            *cap = new_cap;                                                                        \
        }                                                                                          \
        size_t i = (*n)++;                                                                         \
        while (i > 0) {                                                                            \
            size_t p = (i - 1) / 2;                                                                \
            if (!before(&c, &(*heap)[p])) break;                                                   \
            (*heap)[i] = (*heap)[p];                                                               \
            i = p;                                                                                 \
        }                                                                                          \
        (*heap)[i] = c;                                                                            \
        return CRVQ_OK;                                                                            \
    }                                                                                              \
    static T NAME##_pop(T *heap, size_t *n) {                                                      \
        T top = heap[0], last = heap[--*n];                                                        \
        size_t i = 0, m = *n;                                                                      \
        for (;;) {                                                                                 \
            size_t c = 2 * i + 1;                                                                  \
            if (c >= m) break;                                                                     \
            if (c + 1 < m && before(&heap[c + 1], &heap[c])) c++;                                  \
            if (!before(&heap[c], &last)) break;                                                   \
            heap[i] = heap[c];                                                                     \
            i = c;                                                                                 \
        }                                                                                          \
        if (m) heap[i] = last;                                                                     \
        return top;                                                                                \
    }

#endif
