// fuzz_npy.c — the NumPy .npy reader (io/npy.h) that `crvq quantize-matrix`
// reads a weight and its Hessian with, converted to both float types.
#include "fuzz.h"

#include "io/npy.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    const char *path = fuzz_memfd(data, size);
    crvq_dtype want[2] = {CRVQ_F32, CRVQ_F64};
    for (int k = 0; k < 2; k++) {
        void *a;
        int64_t rows, cols;
        if (crvq_npy_read(path, want[k], &a, &rows, &cols)) continue;
        FUZZ_CHECK(rows >= 0 && cols >= 0);
        size_t es = k ? 8 : 4;
        FUZZ_CHECK((uint64_t)rows * (uint64_t)cols * 4 <= size); // the data came from the file
        if (rows * cols > 0) {
            volatile uint8_t sink = ((uint8_t *)a)[(size_t)(rows * cols) * es - 1]; // all of it is there
            (void)sink;
        }
        free(a);
    }
    return 0;
}
