// run_id.h — the identity of a quantization run (container/checkpoint_id.h
// says what it holds and why), made from the model as loaded, the
// pipeline's settings and the calibration windows.
#ifndef CRVQ_PIPELINE_RUN_ID_H
#define CRVQ_PIPELINE_RUN_ID_H

#include "container/checkpoint_id.h"
#include "crvq.h"

// The identity of quantizing m (dense, as loaded) with o on cal. The model
// digest reads every weight once (crvq_digest, in parallel): on a 7B model
// about 27 GB of float32, a few seconds against hours of quantization.
crvq_status crvq_run_id_make(const crvq_model *m, const crvq_pipeline_opts *o, const crvq_calib *cal,
                             crvq_run_id *id);

#endif
