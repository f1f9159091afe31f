// util.c — helpers of the fuzz harnesses (fuzz.h).
#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

const char *fuzz_memfd(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("crvq-fuzz", 0);
        FUZZ_CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    for (size_t done = 0; done < size;) {
        ssize_t k = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(k > 0);
        done += (size_t)k;
    }
    return path;
}

void fuzz_put(fuzz_buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n) + 64;
        FUZZ_CHECK((b->p = realloc(b->p, b->cap)) != NULL);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

void fuzz_putf(fuzz_buf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    FUZZ_CHECK(n >= 0 && (size_t)n < sizeof tmp);
    fuzz_put(b, tmp, (size_t)n);
}

void fuzz_put_json(fuzz_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') fuzz_put(b, "\\", 1);
        fuzz_put(b, &s[i], 1);
    }
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

int fuzz_tokenizer_input(const uint8_t *data, size_t size, fuzz_tokenizer_parser parse, const char *path) {
    fuzz_init();
    crvq_tokenizer *t;
    if (parse(data, size, path, &t)) return 0;
    fuzz_tokenizer_exercise(t);
    crvq_tokenizer_free(t);
    return 0;
}

static int64_t macs_per_token(const crvq_model *m) {
    const crvq_config *c = &m->cfg;
    return crvq_model_n_params(m) + (int64_t)c->n_layers * c->n_heads * c->head_dim * 4; // + attention over 4 positions
}

// The forward pass either works or says the activations overflowed (huge
// but finite weights); every other failure is a bug for valid arguments.
static int forward_ok(crvq_status st) {
    return st == CRVQ_OK || (st == CRVQ_ERR_INVALID && strstr(crvq_last_error(), "logits are not finite"));
}

void fuzz_model_exercise(const crvq_model *m) {
    FUZZ_CHECK(m->cfg.vocab_size > 0 && (m->tok_embd || m->tok_embd16 || m->tok_embd_q) && m->out_norm && m->layers);
    FUZZ_CHECK(!m->tok || crvq_tokenizer_n_vocab(m->tok) <= m->cfg.vocab_size);
    if (macs_per_token(m) > FORWARD_MAX_MACS) return;
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
