// threads.h — internal: when small work runs on one thread.
#ifndef CRVQ_UTIL_THREADS_H
#define CRVQ_UTIL_THREADS_H

// Loops that touch fewer floats than this run serially (an `if` clause on
// their OpenMP pragma). Each OpenMP region ends in a barrier, and on a busy
// machine a barrier can wait a whole scheduler time slice for a descheduled
// thread: for small models (and decode) that costs far more than the loop.
#define CRVQ_PAR_MIN_WORK (1 << 18)

// Set BLAS's thread count to n and return the previous one (to restore it
// with a second call).
int crvq_blas_threads_swap(int n);

#endif
