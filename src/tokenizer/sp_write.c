// sp_write.c — a SentencePiece vocabulary written back as a `tokenizer.model`
// (protobuf ModelProto, the fields sp_model.c reads), for `crvq export` of a
// model whose tokenizer lives only in a container's tokenizer.ggml.* keys.
//
// What is written is everything crvq encodes with: each piece's bytes, score
// and type; TrainerSpec model_type, byte_fallback, unk/bos/eos ids (pad -1),
// treat_whitespace_as_suffix, unk_surface; NormalizerSpec "identity" (no
// charsmap: crvq applies none, so none is claimed) with add_dummy_prefix,
// remove_extra_whitespaces and escape_whitespaces. Reading the file back
// with crvq_sp_model_parse builds the same tokenizer, so the ids are equal.
#include "tokenizer/tok_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} pbw;

// Appends n bytes; a failed allocation marks w and drops the rest, so the
// callers check once at the end.
static void put(pbw *w, const void *s, size_t n) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->n + n) cap *= 2;
    uint8_t *p = w->oom || cap == w->cap ? w->p : realloc(w->p, cap);
    w->oom = w->oom || !p;
    if (w->oom) return;
    w->p = p, w->cap = cap;
    memcpy(p + w->n, s, n);
    w->n += n;
}

static void put_varint(pbw *w, uint64_t v) {
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    put(w, b, n);
}

// int32 fields: a negative value is sign-extended to 64 bits (10 bytes), as
// protobuf encodes it and sp_model.c's pb_int32 reads it.
static void put_int(pbw *w, uint32_t field, int v) {
    put_varint(w, (uint64_t)field << 3);
    put_varint(w, (uint64_t)(int64_t)v);
}

static void put_bytes(pbw *w, uint32_t field, const void *s, size_t n) {
    put_varint(w, (uint64_t)field << 3 | 2);
    put_varint(w, n);
    put(w, s, n);
}

static void put_float(pbw *w, uint32_t field, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    put_varint(w, (uint64_t)field << 3 | 5);
    put(w, b, 4);
}

// A sub-message: m's bytes as field `field` of w (m is emptied for reuse).
static void put_message(pbw *w, uint32_t field, pbw *m) {
    if (m->oom) w->oom = 1;
    put_bytes(w, field, m->p, m->n);
    m->n = 0;
}

crvq_status crvq_tokenizer_to_sp_model(const crvq_tokenizer *t, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    if (t->bbpe)
        return crvq_fail(CRVQ_ERR_INVALID, "a byte-level BPE vocabulary has no SentencePiece tokenizer.model form");
    int unk = -1; // SentencePiece's unk is the piece typed UNKNOWN, and it must have one
    for (int i = 0; i < t->n && unk < 0; i++)
        if (t->type[i] == CRVQ_PIECE_UNKNOWN) unk = i;
    if (unk < 0)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "the vocabulary has no piece of type UNKNOWN (<unk>), which a "
                         "SentencePiece model needs");
    pbw w = {0}, m = {0};
    for (int i = 0; i < t->n; i++) {
        put_bytes(&m, 1, t->blob + t->off[i], t->len[i]);
        put_float(&m, 2, t->score[i]);
        put_int(&m, 3, t->type[i]);
        put_message(&w, 1, &m);
    }
    put_int(&m, 3, (int)t->opt.model);
    if (t->opt.treat_whitespace_as_suffix) put_int(&m, 24, 1);
    put_int(&m, 35, t->byte_fallback != 0);
    put_int(&m, 40, unk);
    put_int(&m, 41, t->bos);
    put_int(&m, 42, t->eos);
    put_int(&m, 43, -1); // pad: crvq has none
    if (t->unk_surface) put_bytes(&m, 44, t->unk_surface, t->opt.unk_surface_len);
    put_message(&w, 2, &m);
    put_bytes(&m, 1, "identity", 8);
    put_int(&m, 3, t->add_dummy_prefix != 0);
    put_int(&m, 4, t->opt.remove_extra_whitespaces != 0);
    put_int(&m, 5, t->opt.escape_whitespaces != 0);
    put_message(&w, 3, &m);
    free(m.p);
    if (w.oom) {
        free(w.p);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory for the tokenizer.model of %d pieces", t->n);
    }
    *data = w.p;
    *size = w.n;
    return CRVQ_OK;
}
