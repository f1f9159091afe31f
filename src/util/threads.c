// threads.c — one thread count for both thread pools of the library.
#include "crvq.h"
#include "util/threads.h"

#include <cblas.h>
#include <omp.h>

void crvq_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    // OpenBLAS (pthreads build) keeps its own pool and ignores OpenMP's count
    openblas_set_num_threads(n);
}

int crvq_get_threads(void) { return omp_get_max_threads(); }

int crvq_blas_threads_swap(int n) {
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(n);
    return prev;
}
