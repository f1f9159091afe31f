// container.h — crvq's compressed-model file: a GGUF v3 file that standard
// GGUF readers can parse (docs/format.md). Dense tensors keep llama.cpp's
// names and types; each compressed linear layer is stored as
// model/linear_bind.h says. The whole-model file's entries are public
// (crvq.h, "Compressed files"); this header adds the pipeline's per-block
// checkpoints.
#ifndef CRVQ_CONTAINER_H
#define CRVQ_CONTAINER_H

#include "crvq.h"
#include "model/storage.h"

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

#endif
