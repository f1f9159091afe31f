// fuzz_model.c — a whole model file through crvq_model_load, as the CLI
// loads it: GGUF (dense, or crvq's container with VQ/CRVQ and RTN/GPTQ
// layers bound by io/container.c) or a llama2.c checkpoint, detected from
// the content; then the forward pass on a few tokens, as a prompt (several
// tokens at once) and as decoding (one at a time), which reads every weight
// the loader bound.
//
// The loader takes a path, so the input is written to a memfd and loaded as
// /proc/self/fd/N: the file is mapped and read exactly as a real one.
// Models whose forward pass costs more than FORWARD_MAX_MACS per token are
// loaded but not run, so one input stays fast (a compressed layer's codes
// can stand for far more weights than the file has bytes).
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FORWARD_MAX_MACS (1 << 20)

static int64_t macs_per_token(const crvq_model *m) {
    const crvq_config *c = &m->cfg;
    return crvq_model_n_params(m) + (int64_t)c->n_layers * c->n_heads * c->head_dim * 4; // + attention over 4 positions
}

// The forward pass either works or says the activations overflowed (huge
// but finite weights); every other failure is a bug for valid arguments.
static int forward_ok(crvq_status st) {
    return st == CRVQ_OK || (st == CRVQ_ERR_INVALID && strstr(crvq_last_error(), "logits are not finite"));
}

static void run_forward(const crvq_model *m) {
    int vocab = m->cfg.vocab_size;
    crvq_state *s;
    if (crvq_state_init(m, 4, 3, &s)) return;
    float *logits = malloc((size_t)3 * vocab * sizeof *logits);
    FUZZ_CHECK(logits != NULL);
    int bos = m->cfg.bos_id >= 0 ? m->cfg.bos_id : 0;
    int prompt[3] = {bos, 1 % vocab, vocab - 1};
    FUZZ_CHECK(forward_ok(crvq_forward(m, s, prompt, 3, 0, 1, logits)));
    int next = 2 % vocab;
    FUZZ_CHECK(forward_ok(crvq_forward(m, s, &next, 1, 3, 0, logits)));
    free(logits);
    crvq_state_free(s);
}

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
    FUZZ_CHECK(m->cfg.vocab_size > 0 && m->tok_embd && m->out_norm && m->layers);
    FUZZ_CHECK(!m->tok || crvq_tokenizer_n_vocab(m->tok) <= m->cfg.vocab_size);
    if (macs_per_token(m) <= FORWARD_MAX_MACS) run_forward(m);
    crvq_model_free(m);
    return 0;
}
