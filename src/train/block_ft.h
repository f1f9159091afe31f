// block_ft.h — block fine-tuning (docs/method.md, "Block fine-tuning";
// step 3 of "The model pipeline"): after a block's seven projections are quantized, tune
// its continuous parameters with the codes frozen so that the quantized
// block's output matches the full-precision block's output (MSE) on the
// calibration inputs.
//
// Trained: the codebooks and row scales of every VQ / CRVQ projection of the
// block, and its two RMSNorm weight vectors. Frozen: codes, permutations,
// biases, dense projections and scalar (RTN / GPTQ) projections, whose
// scale/zero grids are left as quantized.
//
// Adam on float32 master copies; after every epoch the validation MSE is
// measured with codebooks and scales rounded to fp16 (what the container
// will store), the best rounded parameters are kept, and training stops
// after `patience` epochs without improvement. The epoch-0 parameters (as
// quantized) count as a candidate, so tuning never makes the validation MSE
// worse. Mini-batch order comes from a seeded RNG: the result is
// deterministic for a fixed seed and thread count.
#ifndef CRVQ_TRAIN_BLOCK_FT_H
#define CRVQ_TRAIN_BLOCK_FT_H

#include <stdint.h>

#include "crvq.h"
#include "quant/rng.h"

// crvq_ft_params and its defaults: crvq.h.

typedef struct crvq_ft_report {
    int epochs_run;       // epochs trained (early stop may end before max_epochs)
    int best_epoch;       // epoch whose parameters were kept (0: the quantized ones, unchanged)
    int n_params;         // parameters trained
    double train_mse0;    // MSE on the training sequences before tuning
    double val_mse0;      // ... on the validation sequences (training ones if n_val = 0)
    double val_mse_best;  // validation MSE of the kept, fp16-rounded parameters
    double seconds;
} crvq_ft_report;

// Tune block l of m in place. x_in: (n_train + n_val, seqlen, dim) inputs of
// the block (outputs of the already quantized previous blocks); y_ref: the
// full-precision block's outputs for the same inputs, same shape. The first
// n_train sequences train, the remaining n_val validate (n_val = 0: the
// training MSE decides instead). Every sequence starts at position 0.
//
// On success the kept codebooks and scales are written into the block's VQ
// runtime weights (fp16-rounded; crvq_vq_weights_set) and the norm weights
// into new buffers owned by m->storage, which layer->attn_norm / ffn_norm
// then point to (the old ones may be read-only mapped memory). m->storage
// must be set (crvq_model_load and the pipeline set it). On error the model
// is unchanged.
crvq_status crvq_block_finetune(crvq_model *m, int l, const float *x_in, const float *y_ref,
                                int n_train, int n_val, int seqlen, const crvq_ft_params *p,
                                crvq_ft_report *rep);

// What crvq_block_finetune and the devices' own block fine-tuning
// (backend.h's block_finetune) share, so that every device trains on the
// same mini-batches and refuses the same arguments:
// the arguments' check (block index, counts, hyperparameters, finite
// inputs and targets, m->storage set);
crvq_status crvq_ft_check_args(const crvq_model *m, int l, const float *x_in, const float *y_ref, int n_train,
                               int n_val, int seqlen, const crvq_ft_params *p);
// the mini-batch order's stream for block l, and each epoch's order: the
// training sequences' indices order (n) shuffled in place (Fisher-Yates).
void crvq_ft_rng_init(crvq_rng *rng, const crvq_ft_params *p, int l);
void crvq_ft_shuffle(crvq_rng *rng, int *order, int n);

#endif
