// no_cuda.c — a build without nvcc (CMake compiles this file instead of
// src/cuda/) has no CUDA table; crvq_backend_available says why.
#include "backend/backend.h"

const crvq_backend *const crvq_backend_cuda_table = NULL;
