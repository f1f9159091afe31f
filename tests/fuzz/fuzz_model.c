// fuzz_model.c — a whole model file through crvq_model_load, as the CLI
// loads it: GGUF (dense, or crvq's container with VQ/CRVQ and RTN/GPTQ
// layers bound by io/container.c) or a llama2.c checkpoint, detected from
// the content; then the forward pass on a few tokens, as a prompt (several
// tokens at once) and as decoding (one at a time), which reads every weight
// the loader bound.
//
// The loader takes a path, so the input is written to a memfd and loaded as
// /proc/self/fd/N: the file is mapped and read exactly as a real one.
#include "fuzz.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_init();
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("crvq-fuzz-model", 0);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    for (size_t done = 0; done < size;) {
        ssize_t k = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(k > 0);
        done += (size_t)k;
    }
    crvq_model *m;
    if (crvq_model_load(path, NULL, &m)) return 0;
    fuzz_model_exercise(m);
    crvq_model_free(m);
    return 0;
}
