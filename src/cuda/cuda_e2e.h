// cuda_e2e.h — end-to-end distillation's loss and gradient on the GPU: the
// CUDA backend's e2e entry (backend.h; train/e2e.h's crvq_e2e_device).
#ifndef CRVQ_CUDA_E2E_H
#define CRVQ_CUDA_E2E_H

#include "train/e2e.h"

extern const crvq_e2e_device crvq_cuda_e2e;

#endif
