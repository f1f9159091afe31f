// util.c — helpers of the fuzz harnesses (fuzz.h).
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_init(void) {
    static int done;
    if (done) return;
    done = 1;
    crvq_set_threads(1);
}

void fuzz_fail(const char *file, int line, const char *cond) {
    fprintf(stderr, "%s:%d: fuzz check failed: %s (last error: %s)\n", file, line, cond, crvq_last_error());
    abort();
}

int fuzz_inside(const void *p, size_t n, const uint8_t *data, size_t size) {
    const uint8_t *q = p;
    if (n == 0) return 1; // an empty view may point anywhere
    return q >= data && (size_t)(q - data) <= size && n <= size - (size_t)(q - data);
}

static const char *const texts[] = {
    "",
    "Hello world",
    "  leading,  double  and trailing spaces  ",
    "Once upon a time, there was a little girl named Lily.\n\nShe liked to play.",
    "\xc3\xbcn\xc3\xaf\x63\xc3\xb6\x64\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x99\x82",
    "invalid \xff\xfe utf-8 \xc3 and a lone \x80 continuation, truncated \xe2\x96",
    "<s> </s> <unk> <|endoftext|> <0x41> \xe2\x96\x81",
    "digits 1234567890 and\ttabs\r\nnewlines",
};

void fuzz_tokenizer_exercise(const crvq_tokenizer *t) {
    int n_vocab = crvq_tokenizer_n_vocab(t);
    FUZZ_CHECK(n_vocab > 0);
    int bos = crvq_tokenizer_bos(t), eos = crvq_tokenizer_eos(t);
    FUZZ_CHECK(bos >= -1 && bos < n_vocab && eos >= -1 && eos < n_vocab);
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        int *ids = NULL;
        size_t n = 0;
        if (crvq_tokenize(t, texts[k], strlen(texts[k]), 1, &ids, &n)) continue;
        int prev = -1;
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab);
            char buf[16];
            FUZZ_CHECK(crvq_detokenize(t, prev, ids[i], buf, sizeof buf) <= sizeof buf);
            prev = ids[i];
        }
        free(ids);
    }
    // every id decodes, also into a buffer too small for it
    for (int id = 0; id < n_vocab && id < 4096; id++) {
        char buf[4];
        FUZZ_CHECK(crvq_detokenize(t, id > 0 ? id - 1 : -1, id, buf, sizeof buf) <= sizeof buf);
    }
}
