// safetensors.h — the safetensors format: an 8-byte little-endian header
// length N, N bytes of JSON {"NAME": {"dtype", "shape", "data_offsets":
// [begin, end]}, "__metadata__": {...}}, then the tensor data, offsets
// relative to its start. Also the index of sharded checkpoints
// (model.safetensors.index.json: {"weight_map": {"NAME": "SHARD FILE"}}).
#ifndef CRVQ_SAFETENSORS_H
#define CRVQ_SAFETENSORS_H

#include "io/tensor.h"

typedef struct cJSON cJSON;

typedef struct crvq_safetensors {
    char *path;
    int n_tensors;
    crvq_tensor_view *tensors; // data points into the caller's buffer; names into `json`
    cJSON *json;               // the parsed header
} crvq_safetensors;

// Parses a file held in memory (data, size bytes; typically a mapped file
// that outlives the result). Every tensor is validated: known dtype, at most
// 4 dimensions, data_offsets inside the data section and matching
// shape x dtype size, no two tensors sharing a byte; no name twice and no
// NUL in the header (crvq_json_parse). Dtypes F32, F16, BF16 (and the integer/F64 types, so
// that checkpoints carrying integer buffers still open); others are
// CRVQ_ERR_UNSUPPORTED. Errors name `path`.
crvq_status crvq_safetensors_parse(const char *path, const uint8_t *data, size_t size, crvq_safetensors *out);
void crvq_safetensors_free(crvq_safetensors *st);
const crvq_tensor_view *crvq_safetensors_find(const crvq_safetensors *st, const char *name);

typedef struct crvq_safetensors_index {
    int n_shards;
    char **shards;   // distinct shard file names (relative to the index), first-seen order
    int n_entries;
    char **names;    // (n_entries) tensor names of the weight map
    int *shard_of;   // (n_entries) index into shards
} crvq_safetensors_index;

// Parses index JSON text (len bytes). Shard names must be plain file names
// (no '/', not "." or ".."). Errors name `path`.
crvq_status crvq_safetensors_index_parse(const char *path, const char *text, size_t len,
                                         crvq_safetensors_index *out);
void crvq_safetensors_index_free(crvq_safetensors_index *ix);

#endif
