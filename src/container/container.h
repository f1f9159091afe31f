// container.h — crvq's compressed-model file: a GGUF v3 file that standard
// GGUF readers can parse (docs/format.md). Dense tensors keep llama.cpp's
// names and types; each compressed linear layer is stored as
// model/linear_bind.h says. Also the pipeline's per-block checkpoints.
#ifndef CRVQ_CONTAINER_H
#define CRVQ_CONTAINER_H

#include "crvq.h"
#include "model/storage.h"

// What the file records about how it was made (crvq.* keys). Nothing that
// varies between identical runs (times, dates) goes in: a resumed run must
// write the same bytes as an uninterrupted one.
typedef struct crvq_container_info {
    const crvq_quant_params *params; // NULL: nothing quantized
    const char *calib_file;          // may be NULL
    int calib_nsamples, calib_seqlen;
    int finetuned;                   // block fine-tuning ran
} crvq_container_info;

// Write model `m` (any mix of dense and compressed linear layers) to `path`
// atomically. HF-style (rotate-half) q/k rows are permuted into GGUF's
// interleaved order, so the file means what llama.cpp's llama files mean.
crvq_status crvq_container_write(const crvq_model *m, const crvq_container_info *info, const char *path);

// The pipeline's per-block checkpoint: the linear layers and norms of blocks
// 0..blocks_done-1 (model row order, no q/k interleaving) and the run's
// identity (container/checkpoint_id.h: model and calibration digests, settings; also
// one hash of them, crvq.ckpt.run_hash). Written atomically.
#define CRVQ_CKPT_VERSION 2 // 1: one run hash of settings, calibration token count and a sample of the weights
typedef struct crvq_run_id crvq_run_id;
crvq_status crvq_checkpoint_write(const crvq_model *m, int blocks_done, const crvq_run_id *id, const char *path);
// Bind the checkpoint's blocks into m (which must be the same model, dense).
// Refused, saying what differs: another checkpoint version, a checkpoint of
// another run (settings, model, calibration), non-finite numbers.
crvq_status crvq_checkpoint_load(crvq_model *m, const crvq_run_id *run, const char *path, int *blocks_done);

// Whether the file at `path` is a checkpoint crvq_checkpoint_write made
// (a GGUF file with the crvq.ckpt.run_hash key), of whatever run.
int crvq_checkpoint_probe(const char *path);

#endif
