// tensor.c — a stored tensor's element count; the finiteness check of stored numbers.
#include "io/tensor.h"

#include "util/error.h"
#include "util/finite.h"

#include <stdio.h>

int64_t crvq_tensor_numel(const crvq_tensor_view *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

crvq_status crvq_tensors_check_finite(const crvq_tensor_view *t, int n, const char *file) {
    for (int k = 0; k < n; k++) {
        int64_t i = crvq_first_nonfinite(t[k].dtype, t[k].data, crvq_tensor_numel(&t[k]));
        if (i < 0) continue;
        char where[64] = "";
        if (t[k].ndim == 2)
            snprintf(where, sizeof where, " (row %lld, column %lld)", (long long)(i / t[k].shape[1]),
                     (long long)(i % t[k].shape[1]));
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: tensor %s element %lld%s is %s: stored numbers must be finite", file,
                         t[k].name, (long long)i, where, crvq_nonfinite_name(t[k].dtype, t[k].data, i));
    }
    return CRVQ_OK;
}
