// cuda_profile.h — where the GPU's time goes, by the label of each checked
// call (CRVQ_CUDA_PROFILE=1 in the environment; off, it costs one branch).
//
// Every kernel launch and cuBLAS call of the backend passes through
// crvq_cu_check or the GEMM status check with a label ("attention softmax",
// "sgemm 4096x512x512 b1"). With profiling on, each such check waits for the
// device and charges the wall time since the previous check to its label, so
// a label's total is the time of its calls plus whatever host work came just
// before them; at exit the labels are printed to stderr, largest first.
// Waiting after every call removes the overlap of launches with kernels, so
// the totals add up to more than an unprofiled run takes: they rank the
// kernels, they do not time the run (bench/ does that).
#ifndef CRVQ_CUDA_PROFILE_H
#define CRVQ_CUDA_PROFILE_H

// 1 if profiling is on (read from the environment on the first call).
int crvq_cu_profile_on(void);
// The call labelled `what` has been issued.
void crvq_cu_profile_mark(const char *what);

#endif
