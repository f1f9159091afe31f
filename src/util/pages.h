// pages.h — giving whole pages of a buffer back to the kernel.
#ifndef CRVQ_UTIL_PAGES_H
#define CRVQ_UTIL_PAGES_H

#include <stddef.h>

// madvise(MADV_DONTNEED) on the whole pages inside [p, p + n) (the partial
// pages at either end are left alone, so neighbouring data is untouched):
// they leave the process's resident set at once. What a later read sees
// depends on the memory: a read-only mapping of a file reads the file again
// (nothing is lost); private anonymous memory (malloc, calloc) reads as
// zeros, so only call it on buffers whose contents are no longer needed.
// Advice only: a failure changes nothing.
void crvq_pages_release(const void *p, size_t n);

#endif
