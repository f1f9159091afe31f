// bbpe_build.c — a byte-level BPE tokenizer from the vocabulary its readers
// hand over (crvq_bbpe_spec): the pieces through crvq_tokenizer_build, then
// the merge table (pair of ids -> rank and merged id) and the added-token
// matchers.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"
#include "util/free_all.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_pair(uint32_t a, uint32_t b) {
    uint64_t k = ((uint64_t)a << 32 | b) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32);
}

const crvq_bpe_merge *crvq_bbpe_find_merge(const crvq_bbpe *b, uint32_t left, uint32_t right) {
    for (uint32_t h = hash_pair(left, right) & b->merge_mask;; h = (h + 1) & b->merge_mask) {
        const crvq_bpe_merge *m = &b->merges[h];
        if (m->left == UINT32_MAX) return NULL;
        if (m->left == left && m->right == right) return m;
    }
}

static void added_set_free(crvq_added_set *s) {
    crvq_free_all(s->blob, s->off, s->len, s->id, s->table, s->lens);
}

void crvq_bbpe_free(crvq_bbpe *b) {
    if (!b) return;
    free(b->merge_pairs);
    free(b->merges);
    free(b->added_flags);
    added_set_free(&b->raw);
    added_set_free(&b->norm);
    free(b);
}

// Whether piece i belongs to the added tokens matched on the text
// (normalized 0) or on normalized sections (1). Without a normalizer both
// are the text, so every added token is matched on it.
static int in_set(const crvq_tokenizer *t, const crvq_bbpe *b, int i, int normalized) {
    int ty = t->type[i];
    if (ty != CRVQ_PIECE_CONTROL && ty != CRVQ_PIECE_USER_DEFINED) return 0;
    int norm = (b->added_flags[i] & CRVQ_ADDED_NORMALIZED) && b->nfc;
    return norm == normalized;
}

// The added tokens whose flag CRVQ_ADDED_NORMALIZED equals `normalized`
// (NFC'd when the tokenizer normalizes: they are matched on normalized text).
static crvq_status added_set_build(const crvq_tokenizer *t, const crvq_bbpe *b, int normalized,
                                   crvq_added_set *s, const char *what) {
    size_t total = 0;
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        if (!in_set(t, b, i, normalized)) continue;
        n++;
        total += 3 * (size_t)t->len[i];
    }
    if (n == 0) return CRVQ_OK;
    uint32_t cap = 4;
    while (cap < 2u * (uint32_t)n) cap <<= 1;
    s->blob = malloc(total);
    s->off = malloc((size_t)n * sizeof *s->off);
    s->len = malloc((size_t)n * sizeof *s->len);
    s->id = malloc((size_t)n * sizeof *s->id);
    s->lens = malloc((size_t)n * sizeof *s->lens);
    s->table = malloc(cap * sizeof *s->table);
    if (!s->blob || !s->off || !s->len || !s->id || !s->lens || !s->table)
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for the added tokens", what);
    memset(s->table, 0xff, cap * sizeof *s->table);
    s->mask = cap - 1;
    size_t pos = 0;
    for (int i = 0; i < t->n; i++) {
        if (!in_set(t, b, i, normalized)) continue;
        const char *p = t->blob + t->off[i];
        size_t len = t->len[i];
        char *nfc = NULL;
        if (normalized && b->nfc) {
            crvq_status st = crvq_nfc(p, len, &nfc, &len);
            if (st) return st;
            p = nfc;
        }
        // The same content twice (after NFC): the first id wins, as it
        // does in Hugging Face's added vocabulary.
        uint32_t h = crvq_tok_hash32(p, len) & s->mask;
        int dup = 0;
        for (; s->table[h] >= 0; h = (h + 1) & s->mask) {
            int j = s->table[h];
            if (s->len[j] == len && memcmp(s->blob + s->off[j], p, len) == 0) dup = 1;
        }
        if (!dup && len > 0) {
            int k = s->n++;
            memcpy(s->blob + pos, p, len);
            s->off[k] = (uint32_t)pos;
            s->len[k] = (uint32_t)len;
            s->id[k] = i;
            s->table[h] = k;
            pos += len;
            s->first[(uint8_t)p[0] >> 3] |= (uint8_t)(1u << ((uint8_t)p[0] & 7));
            int seen = 0;
            for (int l = 0; l < s->n_lens; l++) seen |= s->lens[l] == len;
            if (!seen) s->lens[s->n_lens++] = (uint32_t)len;
        }
        free(nfc);
    }
    for (int a = 1; a < s->n_lens; a++) // longest first (a handful of lengths)
        for (int c = a; c > 0 && s->lens[c] > s->lens[c - 1]; c--) {
            uint32_t x = s->lens[c];
            s->lens[c] = s->lens[c - 1];
            s->lens[c - 1] = x;
        }
    return CRVQ_OK;
}

static crvq_status build_merges(crvq_tokenizer *t, crvq_bbpe *b, const crvq_bbpe_spec *spec, const char *what) {
    int n = spec->n_merges;
    uint32_t cap = 4;
    while (cap < (uint32_t)n + (uint32_t)n / 2 + 1) cap <<= 1; // load <= 2/3
    b->merges = malloc(cap * sizeof *b->merges);
    b->merge_pairs = malloc(((size_t)n + 1) * 2 * sizeof *b->merge_pairs);
    if (!b->merges || !b->merge_pairs) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for %d merges", what, n);
    for (uint32_t i = 0; i < cap; i++) b->merges[i].left = UINT32_MAX;
    b->merge_mask = cap - 1;
    b->n_merges = n;
    char *cat = NULL;
    size_t cat_cap = 0;
    for (int r = 0; r < n; r++) {
        const char *part[2] = {spec->merge_parts[2 * r], spec->merge_parts[2 * r + 1]};
        size_t len[2] = {spec->merge_lens[2 * r], spec->merge_lens[2 * r + 1]};
        int id[2];
        for (int k = 0; k < 2; k++) {
            id[k] = crvq_tok_lookup(t, part[k], len[k]);
            if (id[k] < 0 || t->type[id[k]] != CRVQ_PIECE_NORMAL) {
                free(cat);
                return crvq_fail(CRVQ_ERR_FORMAT, "%s: merge %d: its %s part is not a piece of the vocabulary", what,
                                 r, k ? "right" : "left");
            }
        }
        if (len[0] + len[1] > cat_cap) {
            cat_cap = 2 * (len[0] + len[1]);
            char *c = realloc(cat, cat_cap);
            if (!c) {
                free(cat);
                return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", what);
            }
            cat = c;
        }
        memcpy(cat, part[0], len[0]);
        memcpy(cat + len[0], part[1], len[1]);
        int merged = crvq_tok_lookup(t, cat, len[0] + len[1]);
        if (merged < 0 || t->type[merged] != CRVQ_PIECE_NORMAL) {
            free(cat);
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: merge %d: the merged piece is not in the vocabulary", what, r);
        }
        b->merge_pairs[2 * r] = id[0];
        b->merge_pairs[2 * r + 1] = id[1];
        // A pair listed twice takes its last rank, as Hugging Face's map does.
        uint32_t h = hash_pair((uint32_t)id[0], (uint32_t)id[1]) & b->merge_mask;
        while (b->merges[h].left != UINT32_MAX &&
               !(b->merges[h].left == (uint32_t)id[0] && b->merges[h].right == (uint32_t)id[1]))
            h = (h + 1) & b->merge_mask;
        b->merges[h] = (crvq_bpe_merge){(uint32_t)id[0], (uint32_t)id[1], r, merged};
    }
    free(cat);
    return CRVQ_OK;
}

crvq_status crvq_bbpe_build(const crvq_bbpe_spec *spec, const char *what, crvq_tokenizer **out) {
    *out = NULL;
    if (spec->unk_id < -1 || spec->unk_id >= spec->n)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: unk id %d is outside the vocabulary", what, spec->unk_id);
    for (int i = 0; i < spec->n; i++) {
        int ty = spec->types[i];
        if (ty != CRVQ_PIECE_NORMAL && ty != CRVQ_PIECE_CONTROL && ty != CRVQ_PIECE_USER_DEFINED &&
            ty != CRVQ_PIECE_UNUSED)
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: token %d has type %d (byte-level BPE knows normal, control, "
                             "user-defined and unused tokens)", what, i, ty);
    }
    crvq_vocab_spec vs = {
        .n = spec->n,
        .pieces = spec->pieces,
        .piece_lens = spec->piece_lens,
        .types = spec->types,
        .bos_id = spec->bos_id,
        .eos_id = spec->eos_id,
        .unk_id = -1, // the unk of byte-level BPE is an ordinary piece, kept in bbpe->unk
    };
    crvq_tok_options opt = {.model = CRVQ_TOK_BYTE_BPE};
    crvq_tokenizer *t;
    crvq_status st = crvq_tokenizer_build(&vs, &opt, what, &t);
    if (st) return st;
    crvq_bbpe *b = calloc(1, sizeof *b);
    if (!b || !(b->added_flags = calloc((size_t)t->n, 1))) {
        free(b);
        crvq_tokenizer_free(t);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", what);
    }
    t->bbpe = b;
    b->pretok = spec->pretok;
    b->nfc = spec->nfc;
    b->add_prefix_space = spec->add_prefix_space;
    b->ignore_merges = spec->ignore_merges;
    b->unk = spec->unk_id;
    if (spec->added_flags) memcpy(b->added_flags, spec->added_flags, (size_t)t->n);
    for (int c = 0; c < 256; c++) {
        char byte = (char)c;
        int id = crvq_tok_lookup(t, &byte, 1);
        t->byte_id[c] = id >= 0 && t->type[id] == CRVQ_PIECE_NORMAL ? id : -1;
    }
    if ((st = build_merges(t, b, spec, what)) || (st = added_set_build(t, b, 0, &b->raw, what)) ||
        (st = added_set_build(t, b, 1, &b->norm, what))) {
        crvq_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CRVQ_OK;
}
