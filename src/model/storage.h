// storage.h — what a loaded model owns: mapped files and allocated buffers,
// released together by crvq_model_free(). Also the conversion of stored
// tensors (io/tensor.h) to float32.
#ifndef CRVQ_STORAGE_H
#define CRVQ_STORAGE_H

#include "crvq.h"
#include "io/mapfile.h"
#include "io/tensor.h"

// What a dense tensor the loader bound is to the model, for bit accounting.
typedef enum crvq_tensor_role {
    CRVQ_ROLE_EMBED = 0, // token embedding
    CRVQ_ROLE_HEAD,      // output head (untied only)
    CRVQ_ROLE_LINEAR,    // a dense projection weight of a block
    CRVQ_ROLE_OTHER,     // norms, biases
    CRVQ_ROLE_COUNT
} crvq_tensor_role;

typedef struct crvq_model_storage {
    // Bits the file spends on the dense tensors the loader bound, by role, as
    // stored (bf16 16, f32 32, q8_0 8.5 per element); compressed layers are not
    // in here (crvq_linear_bits counts them). All 0 for models built in memory.
    double dense_bits[CRVQ_ROLE_COUNT];
    crvq_mapfile *maps;
    int n_maps;
    void **bufs;
    int n_bufs, cap_bufs;
    struct crvq_owned { void *obj; void (*free_fn)(void *); } *objs;
    int n_objs;
} crvq_model_storage;

crvq_status crvq_storage_init(crvq_model_storage **out);
void crvq_storage_free(crvq_model_storage *s);
// Map a file and keep it mapped for the life of the storage.
crvq_status crvq_storage_map(crvq_model_storage *s, const char *path, const crvq_mapfile **out);
// A digest of the bytes of every file the storage maps, in mapping order
// (crvq_digest): what a model loaded from files was read from.
uint64_t crvq_storage_digest(const crvq_model_storage *s, uint64_t seed);
// The bytes [p, p + n) are no longer read: if they lie in a mapped file,
// its pages there leave the process's resident set (crvq_mapfile_release).
// Quantization calls it for each original matrix it replaced, so a 7B
// checkpoint's pages do not pile up in RSS block by block.
void crvq_storage_release(crvq_model_storage *s, const void *p, size_t n);
// Every mapped file's pages leave the resident set (crvq_mapfile_release
// of each whole mapping). Loading checks every weight for NaN/Inf and a
// checkpointed run digests every weight, which leaves the whole file
// resident (13.5 GB for a 7B bf16 model); quantization calls this before
// its first block so that only the block being quantized is read back in.
void crvq_storage_release_maps(crvq_model_storage *s);
// Allocate a 64-byte aligned buffer owned by the storage (zeroed).
crvq_status crvq_storage_alloc(crvq_model_storage *s, size_t bytes, void **out);

// Keep `obj` until the storage is freed, then release it with free_fn
// (compressed layers' runtime weights). On failure obj is released at once.
crvq_status crvq_storage_own(crvq_model_storage *s, void *obj, void (*free_fn)(void *));

// The tensor as float32: zero-copy for aligned F32 data, otherwise converted
// into a buffer owned by the storage (F16, BF16, Q8_0 are exact in float32).
// `what` names the tensor in errors.
crvq_status crvq_tensor_to_f32(crvq_model_storage *s, const crvq_tensor_view *t, const char *what,
                               const float **out);

// A BF16 or F16 tensor's elements as stored: zero-copy when 2-byte aligned,
// otherwise copied into a buffer owned by the storage.
crvq_status crvq_tensor_to_half(crvq_model_storage *s, const crvq_tensor_view *t, const uint16_t **out);

#endif
