// cuda_ft.h — block fine-tuning on the GPU (backend.h's block_finetune):
// train/block_ft.h's crvq_block_finetune, the same algorithm, arguments and
// report, with the forward, backward, Adam, the fp16 rounding and the
// validation on the GPU.
#ifndef CRVQ_CUDA_FT_H
#define CRVQ_CUDA_FT_H

#include "crvq.h"
#include "train/block_ft.h"

crvq_status crvq_cuda_block_finetune(crvq_model *m, int l, const float *x_in, const float *y_ref, int n_train,
                                     int n_val, int seqlen, const crvq_ft_params *p, crvq_ft_report *rep);

#endif
