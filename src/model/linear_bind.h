// linear_bind.h — a compressed linear layer as a file stores it (crvq's
// container, docs/format.md): layer PREFIX ("blk.3.attn_q") has, instead of
// PREFIX.weight,
//   VQ/CRVQ: PREFIX.codes (I8|I16), PREFIX.codes_ext (I8|I16, critical groups),
//            PREFIX.cb0 .. PREFIX.cb{M-1} (F16), PREFIX.scales (F16), PREFIX.perm (I16|I32)
//   RTN/GPTQ: PREFIX.qweight (I8, bit-packed), PREFIX.qscale (F16), PREFIX.qzero (F16)
// The loader (model/load.c) and the checkpoint reader (container/) bind such
// layers; container/container.c writes them.
#ifndef CRVQ_MODEL_LINEAR_BIND_H
#define CRVQ_MODEL_LINEAR_BIND_H

#include "crvq.h"
#include "model/storage.h"

// The layout of compressed layers above (crvq.format_version): a file of
// another version is refused.
#define CRVQ_FORMAT_VERSION 1

// Looks a tensor up by name in the file being loaded (NULL if absent).
typedef const crvq_tensor_view *(*crvq_tensor_lookup)(void *ctx, const char *name);

// If the file holds a compressed layer under `prefix`, bind it to *lin (its
// runtime weights owned by `s`) and set *found; shapes are validated against
// (n_out, n_in). `file` names the file in errors.
crvq_status crvq_linear_bind(crvq_tensor_lookup lookup, void *ctx, crvq_model_storage *s, const char *file,
                             const char *prefix, int n_out, int n_in, crvq_linear *lin, int *found);

// Give lin the compressed weights W of `kind` (a crvq_vq_weights for
// CRVQ_LINEAR_VQ, a crvq_scalar_weights for CRVQ_LINEAR_SCALAR), which `s`
// owns from now on: released with the model, or at once on failure. The
// loader, the checkpoint reader and the pipeline all attach through here.
crvq_status crvq_linear_attach(crvq_model_storage *s, crvq_linear *lin, crvq_linear_kind kind, void *W);

#endif
