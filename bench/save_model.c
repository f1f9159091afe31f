// save_model.c — a model of any format crvq reads (Hugging Face directory,
// GGUF, llama2.c) written as crvq's container with nothing quantized: a
// GGUF v3 file that llama.cpp's tools read, each dense tensor in the type
// it was loaded as (a bf16 checkpoint stays bf16, exactly). The llama.cpp
// frontier (bench/llamacpp_frontier.sh) gives pg-dev to llama-imatrix and
// llama-quantize this way.
//
//   save_model MODEL OUT.gguf
#include <stdio.h>

#include "crvq.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: save_model MODEL OUT.gguf\n");
        return 2;
    }
    crvq_model *m = NULL;
    crvq_save_info info = {0};
    if (crvq_model_load(argv[1], NULL, &m) != CRVQ_OK || crvq_model_save(m, &info, argv[2]) != CRVQ_OK) {
        fprintf(stderr, "save_model: %s\n", crvq_last_error());
        crvq_model_free(m);
        return 1;
    }
    crvq_model_free(m);
    return 0;
}
