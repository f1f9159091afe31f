// free_all.h — crvq_free_all(p, q, ...): free() each of a list of buffers.
// The destructors of structs that own many arrays (work spaces, tokenizer
// tables, decode state) are lists of free() calls, one a member; written as
// one call they read as the list of what the struct owns, and adding a member
// is adding a name, not a line in several places. NULL entries are fine, as
// for free().
#ifndef CRVQ_UTIL_FREE_ALL_H
#define CRVQ_UTIL_FREE_ALL_H

#include <stddef.h>
#include <stdlib.h>

static inline void crvq_free_array(void *const *ptrs, size_t n) {
    for (size_t i = 0; i < n; i++) free(ptrs[i]);
}

// The arguments are object pointers that free() accepts (pointers to const
// data need the cast they would need for free()).
#define crvq_free_all(...) \
    crvq_free_array((void *const[]){__VA_ARGS__}, sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

#endif
