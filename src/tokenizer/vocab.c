// vocab.c — the tokenizer's tables: pieces, scores, types, a hash from piece
// bytes to id, byte-fallback ids, and what the encoders precompute from them.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"
#include "util/free_all.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

crvq_tok_options crvq_tok_options_default(void) {
    // GGUF and llama2.c vocabularies come from SentencePiece BPE models with
    // identity normalization that keeps whitespace as is (LLaMA's setup).
    crvq_tok_options o = {.model = CRVQ_TOK_BPE, .escape_whitespaces = 1};
    return o;
}

void crvq_tokenizer_free(crvq_tokenizer *t) {
    if (!t) return;
    crvq_free_all(t->blob, t->off, t->len, t->score, t->type, t->table, t->unk_surface, t->joinable, t->prefixes);
    crvq_bbpe_free(t->bbpe);
    free(t);
}

int crvq_tokenizer_n_vocab(const crvq_tokenizer *t) { return t->n; }
int crvq_tokenizer_bos(const crvq_tokenizer *t) { return t->bos; }
int crvq_tokenizer_eos(const crvq_tokenizer *t) { return t->eos; }

// SentencePiece writes byte pieces as "<0x%02X>". (Pieces are not
// NUL-terminated, so no sscanf.)
static int is_hex_upper(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// Type of piece i when the caller gave none: what SentencePiece exports for
// LLaMA-style vocabularies (<unk>, <s>, </s>, <0xXX>), everything else normal.
static int infer_type(const crvq_vocab_spec *spec, int i, const char *p, size_t n) {
    if (i == spec->unk_id) return CRVQ_PIECE_UNKNOWN;
    if (i == spec->bos_id || i == spec->eos_id) return CRVQ_PIECE_CONTROL;
    if (n == 5 && memcmp(p, "<unk>", 5) == 0) return CRVQ_PIECE_UNKNOWN;
    if ((n == 3 && memcmp(p, "<s>", 3) == 0) || (n == 4 && memcmp(p, "</s>", 4) == 0)) return CRVQ_PIECE_CONTROL;
    if (n == 6 && memcmp(p, "<0x", 3) == 0 && is_hex_upper(p[3]) && is_hex_upper(p[4]) && p[5] == '>')
        return CRVQ_PIECE_BYTE;
    return CRVQ_PIECE_NORMAL;
}

static void set_joinable(uint8_t *bits, const char *p, size_t n) {
    uint32_t cp;
    size_t k, chars = 0;
    for (size_t i = 0; i < n; i += k, chars++)
        if ((k = crvq_utf8_decode((const uint8_t *)p + i, n - i, &cp)) == 0) return; // never matches valid text
    if (chars < 2) return;
    for (size_t i = 0; i < n; i += k) {
        k = crvq_utf8_decode((const uint8_t *)p + i, n - i, &cp);
        bits[cp >> 3] |= (uint8_t)(1u << (cp & 7));
    }
}

static crvq_status build_fail(crvq_tokenizer *t, crvq_status st) {
    crvq_tokenizer_free(t);
    return st;
}

// The spec's counts, model and special ids, and *total, the bytes of all
// its pieces (they must fit the uint32 offsets).
static crvq_status check_spec(const crvq_vocab_spec *spec, const crvq_tok_options *opt, const char *what,
                              size_t *total) {
    int n = spec->n;
    if (n <= 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: tokenizer has no pieces", what);
    if (n > (1 << 24)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: tokenizer has %d pieces (too many)", what, n);
    if (opt->model != CRVQ_TOK_BPE && opt->model != CRVQ_TOK_UNIGRAM && opt->model != CRVQ_TOK_BYTE_BPE)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: tokenizer model type %d is not supported (BPE or unigram only)",
                         what, (int)opt->model);
    const int *ids[3] = {&spec->bos_id, &spec->eos_id, &spec->unk_id};
    const char *names[3] = {"BOS", "EOS", "unk"};
    for (int k = 0; k < 3; k++)
        if (*ids[k] < -1 || *ids[k] >= n)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: %s id %d is outside the vocabulary (%d pieces)", what, names[k],
                             *ids[k], n);
    *total = 0;
    for (int i = 0; i < n; i++) {
        if (spec->piece_lens[i] > UINT32_MAX - *total)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: tokenizer pieces are too long", what);
        *total += spec->piece_lens[i];
    }
    return CRVQ_OK;
}

// Piece i of the spec into t: its bytes at blob offset *pos, score, type,
// hash slot, and what the encoders precompute from it.
static crvq_status add_piece(crvq_tokenizer *t, const crvq_vocab_spec *spec, int i, size_t *pos, const char *what) {
    const char *p = spec->pieces[i];
    size_t len = spec->piece_lens[i];
    if (len == 0) return crvq_fail(CRVQ_ERR_FORMAT, "%s: piece %d is empty", what, i);
    memcpy(t->blob + *pos, p, len);
    t->off[i] = (uint32_t)*pos;
    t->len[i] = (uint32_t)len;
    *pos += len;
    float s = spec->scores ? spec->scores[i] : 0.0f;
    if (!isfinite(s)) return crvq_fail(CRVQ_ERR_FORMAT, "%s: piece %d has a non-finite score", what, i);
    t->score[i] = s;
    int ty = spec->types ? spec->types[i] : infer_type(spec, i, p, len);
    if (ty < CRVQ_PIECE_NORMAL || ty > CRVQ_PIECE_BYTE)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: piece %d has unknown type %d", what, i, ty);
    t->type[i] = (uint8_t)ty;

    // Like SentencePiece, reject a vocabulary that defines a piece twice:
    // which of the two ids encoding should produce would be arbitrary.
    uint32_t h = (uint32_t)crvq_tok_hash64(p, len) & t->table_mask;
    for (; t->table[h] >= 0; h = (h + 1) & t->table_mask) {
        int j = t->table[h];
        if (t->len[j] == len && memcmp(t->blob + t->off[j], p, len) == 0)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: piece %d '%.*s' repeats piece %d", what, i,
                             (int)(len < 64 ? len : 64), p, j);
    }
    t->table[h] = i;

    if (ty == CRVQ_PIECE_UNKNOWN && t->unk < 0) t->unk = i;
    if (ty == CRVQ_PIECE_UNUSED) t->has_unused = 1;
    if (ty == CRVQ_PIECE_USER_DEFINED) {
        t->n_user++;
        if (len > t->user_max_len) t->user_max_len = len;
        t->user_first[(uint8_t)p[0] >> 3] |= (uint8_t)(1u << ((uint8_t)p[0] & 7));
    }
    if (t->joinable && crvq_tok_mergeable(ty)) set_joinable(t->joinable, p, len);
    return CRVQ_OK;
}

crvq_status crvq_tokenizer_build(const crvq_vocab_spec *spec, const crvq_tok_options *opt, const char *what,
                                 crvq_tokenizer **out) {
    *out = NULL;
    size_t total = 0;
    crvq_status st = check_spec(spec, opt, what, &total);
    if (st) return st;
    const int n = spec->n;
    crvq_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for the tokenizer", what);
    uint32_t cap = 1;
    while (cap < 2u * (uint32_t)n) cap <<= 1;
    t->n = n;
    t->blob = malloc(total ? total : 1);
    t->off = malloc(n * sizeof *t->off);
    t->len = malloc(n * sizeof *t->len);
    t->score = malloc(n * sizeof *t->score);
    t->type = malloc(n);
    t->table = malloc(cap * sizeof *t->table);
    if (opt->model == CRVQ_TOK_BPE) t->joinable = calloc(0x110000 / 8, 1);
    if (!t->blob || !t->off || !t->len || !t->score || !t->type || !t->table ||
        (opt->model == CRVQ_TOK_BPE && !t->joinable))
        return build_fail(t, crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for %d pieces", what, n));
    t->table_mask = cap - 1;
    memset(t->table, 0xff, cap * sizeof *t->table);
    t->opt = *opt;
    t->bos = spec->bos_id;
    t->eos = spec->eos_id;
    t->unk = spec->unk_id;
    t->add_dummy_prefix = spec->add_dummy_prefix;

    size_t pos = 0;
    for (int i = 0; i < n; i++)
        if ((st = add_piece(t, spec, i, &pos, what))) return build_fail(t, st);

    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int id = crvq_tok_lookup(t, name, 6);
        t->byte_id[b] = id >= 0 && t->type[id] == CRVQ_PIECE_BYTE ? id : -1;
    }
    t->byte_fallback = spec->byte_fallback;

    const char *us = opt->unk_surface ? opt->unk_surface : " \xe2\x81\x87 ";
    size_t usn = opt->unk_surface ? opt->unk_surface_len : 5;
    t->unk_surface = malloc(usn + 1);
    if (!t->unk_surface) return build_fail(t, crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", what));
    memcpy(t->unk_surface, us, usn);
    t->unk_surface[usn] = 0;
    t->opt.unk_surface = t->unk_surface;
    t->opt.unk_surface_len = usn;
    if (opt->model == CRVQ_TOK_UNIGRAM && (st = crvq_unigram_prepare(t, what))) return build_fail(t, st);
    *out = t;
    return CRVQ_OK;
}

crvq_status crvq_tokenizer_from_vocab(const crvq_vocab_spec *spec, const char *what, crvq_tokenizer **out) {
    crvq_tok_options opt = crvq_tok_options_default();
    return crvq_tokenizer_build(spec, &opt, what, out);
}
