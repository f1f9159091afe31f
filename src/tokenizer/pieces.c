// pieces.c — reading a built vocabulary (vocab.c builds it): a piece's id
// from its bytes, the longest user-defined piece at a position, the ids of
// text outside the vocabulary, and the id arrays the encoders append to.
#include "tokenizer/tok_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int crvq_tok_lookup(const crvq_tokenizer *t, const char *s, size_t n) {
    for (uint32_t h = (uint32_t)crvq_tok_hash64(s, n) & t->table_mask;; h = (h + 1) & t->table_mask) {
        int id = t->table[h];
        if (id < 0) return -1;
        if (t->len[id] == n && memcmp(t->blob + t->off[id], s, n) == 0) return id;
    }
}

size_t crvq_tok_user_match(const crvq_tokenizer *t, const char *s, size_t n) {
    if (t->n_user == 0 || n == 0) return 0;
    uint8_t c = (uint8_t)s[0];
    if (!(t->user_first[c >> 3] & (1u << (c & 7)))) return 0;
    for (size_t l = n < t->user_max_len ? n : t->user_max_len; l > 0; l--) {
        int id = crvq_tok_lookup(t, s, l);
        if (id >= 0 && t->type[id] == CRVQ_PIECE_USER_DEFINED) return l;
    }
    return 0;
}

crvq_status crvq_tok_ids_push(crvq_tok_ids *ids, int id) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 256;
        int *v = realloc(ids->v, cap * sizeof *v);
        if (!v) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory for %zu ids", cap);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return CRVQ_OK;
}

crvq_status crvq_tok_push_unknown(const crvq_tokenizer *t, const char *s, size_t n, crvq_tok_ids *ids) {
    if (!t->byte_fallback) {
        if (t->unk < 0)
            return crvq_fail(CRVQ_ERR_INVALID, "tokenizer: text has a character outside the vocabulary "
                                               "and the vocabulary has neither <unk> nor byte pieces");
        // SentencePiece merges a run of unknown pieces into one unk (only
        // unknown text ever becomes unk, so the last id tells).
        if (ids->n > 0 && ids->v[ids->n - 1] == t->unk) return CRVQ_OK;
        return crvq_tok_ids_push(ids, t->unk);
    }
    for (size_t i = 0; i < n; i++) {
        // A byte the model has no piece for falls back to unk, as
        // SentencePiece's PieceToId does for a missing "<0xXX>".
        int id = t->byte_id[(uint8_t)s[i]] >= 0 ? t->byte_id[(uint8_t)s[i]] : t->unk;
        if (id < 0)
            return crvq_fail(CRVQ_ERR_INVALID, "tokenizer: byte 0x%02X has no byte piece and there is no <unk>",
                             (uint8_t)s[i]);
        crvq_status st = crvq_tok_ids_push(ids, id);
        if (st) return st;
    }
    return CRVQ_OK;
}
