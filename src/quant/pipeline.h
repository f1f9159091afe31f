// pipeline.h — quantize a whole model block by block (docs/method.md,
// "The model pipeline"): calibration activations flow through the already
// quantized blocks, each block's linear layers are quantized against the
// proxy Hessians of their inputs, optionally fine-tuned, and a checkpoint is
// written after every block so an interrupted run can resume.
#ifndef CRVQ_QUANT_PIPELINE_H
#define CRVQ_QUANT_PIPELINE_H

#include "crvq.h"
#include "model/block_proj.h"
#include "train/block_ft.h"

typedef enum crvq_stage {
    CRVQ_STAGE_HESSIAN,   // running calibration data through a block
    CRVQ_STAGE_QUANTIZE,  // quantizing layer `layer` of a block
    CRVQ_STAGE_FINETUNE,  // block fine-tuning
    CRVQ_STAGE_PROPAGATE, // running the quantized block
    CRVQ_STAGE_BLOCK_DONE,
} crvq_stage;

typedef struct crvq_progress {
    crvq_stage stage;
    int block, n_blocks;
    int layer;            // crvq_proj for QUANTIZE, else -1
    double rel_loss;      // QUANTIZE when done: L(Ŵ)/L(0) of the layer;
                          // FINETUNE when done: validation MSE after / before tuning; else 0
    double bits;          // QUANTIZE when done: bits per weight of the layer
    double done_fraction; // of the whole run, by estimated work
    int resumed;          // BLOCK_DONE: the block came from the checkpoint
} crvq_progress;

typedef struct crvq_pipeline_opts {
    crvq_quant_params qp;
    const char *calib_path;
    int nsamples, nval, seqlen; // calibration windows (training, validation) of seqlen tokens
    int finetune;               // block fine-tuning after quantizing each block (vq, crvq)
    crvq_ft_params ft;          // its settings (seed: qp.seed)
    const char *checkpoint;     // path of the per-block checkpoint, or NULL for none
    int resume;                 // continue from `checkpoint` if it exists
    void (*progress)(void *ctx, const crvq_progress *p);
    void *progress_ctx;
} crvq_pipeline_opts;

typedef struct crvq_pipeline_report {
    int blocks_resumed;
    double seconds;
    double linear_bits;          // bits per weight over all linear layers
    double mean_rel_loss;        // mean L(Ŵ)/L(0) over the layers quantized in this run
    double ft_seconds;           // time spent in block fine-tuning
    double ft_mse_ratio;         // mean over tuned blocks of validation MSE after / before
    size_t n_calib_text_tokens;
} crvq_pipeline_report;

void crvq_pipeline_opts_default(crvq_pipeline_opts *o, crvq_method method);

// Quantize every linear layer of m in place: on success each is a
// compressed kind whose runtime weights the model's storage owns.
crvq_status crvq_quantize_model(crvq_model *m, const crvq_pipeline_opts *o, crvq_pipeline_report *rep);

#endif
