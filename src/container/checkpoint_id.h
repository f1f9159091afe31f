// checkpoint_id.h — what a quantization checkpoint's blocks depend on, so
// that `--resume` takes a checkpoint only from the same run: the model
// (digest of its configuration and every tensor), the calibration windows
// (digest of their token ids) and the settings (a "key=value ..." string).
// Kept apart, so that a refusal can say which of them differs. The
// checkpoint stores it (container.h); the pipeline makes it
// (pipeline/run_id.h).
#ifndef CRVQ_CONTAINER_CHECKPOINT_ID_H
#define CRVQ_CONTAINER_CHECKPOINT_ID_H

#include "crvq.h"

typedef struct crvq_run_id {
    uint64_t model;     // the model as loaded: configuration, then every tensor's float32 values
    uint64_t calib;     // the calibration windows' token ids and the text's token count
    char options[1024]; // every setting that changes the result, "key=value" separated by spaces
} crvq_run_id;

// One hash of all three (for a quick test; the checkpoint stores the parts).
uint64_t crvq_run_id_hash(const crvq_run_id *id);

// CRVQ_OK if a checkpoint of run `ckpt` may continue run `run`; otherwise
// CRVQ_ERR_INVALID with a message naming `path` and what differs: the
// settings (up to three, with both values), the model, or the calibration.
crvq_status crvq_run_id_compare(const crvq_run_id *ckpt, const crvq_run_id *run, const char *path);

#endif
