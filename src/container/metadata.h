// metadata.h — the crvq.* keys of a crvq file read back (docs/format.md,
// "Metadata"): how the file was made (method, settings, calibration,
// fine-tuning, bits). `crvq info` shows them.
#ifndef CRVQ_CONTAINER_METADATA_H
#define CRVQ_CONTAINER_METADATA_H

#include "crvq.h"

#include <cjson/cJSON.h>

// The crvq.* keys of the GGUF file at `path` as one JSON object, each under
// its name without "crvq." and in file order: strings, numbers (f32 ones as
// the decimal they were written as), booleans, arrays of them. The per-layer
// arrays (crvq.layer_names, crvq.layer_bits) are left out: the loaded
// model's layers say the same. *out is NULL when the file has no crvq.* key;
// the caller frees it with cJSON_Delete.
crvq_status crvq_container_metadata(const char *path, cJSON **out);

// A float setting as the decimal it was written as (1e-05, not
// 9.99999974737875e-06): the shortest "%.7g" text, read back.
double crvq_metadata_decimal(float f);

#endif
