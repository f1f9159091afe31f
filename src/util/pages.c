// pages.c — crvq_pages_release (pages.h).
#include "util/pages.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

void crvq_pages_release(const void *p, size_t n) {
    if (!p || !n) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t a = (uintptr_t)p, b = a + n;
    const uintptr_t lo = (a + page - 1) & ~(page - 1), hi = b & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}
