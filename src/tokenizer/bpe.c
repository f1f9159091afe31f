// bpe.c — SentencePiece's BPE encoding of normalized text.
//
// The text is split into characters (user-defined pieces stay whole and never
// merge); then, repeatedly, the adjacent pair whose concatenation is a
// mergeable piece with the highest score is merged, the leftmost pair among
// equal scores first. Symbols are a doubly linked list over the text; the
// candidate pairs sit in a binary heap and are checked for staleness when
// popped, exactly as SentencePiece's priority queue does. Finally each symbol
// becomes its piece id; unused pieces are split back into the pair that formed
// them, and symbols outside the vocabulary fall back to bytes (or unk).
//
// Speed: a character that occurs in no multi-character mergeable piece (a
// newline in LLaMA's vocabulary, say) can never merge, so the text is cut
// there and each stretch is encoded on its own with a small heap. Merges in
// different stretches do not interact, so the result is the same as for the
// whole string.
#include "tokenizer/merge_heap.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t start, len; // bytes of the normalized text
    int32_t prev, next; // -1 at the ends
    int frozen;         // user-defined piece
} sym;

typedef struct {
    float score;
    int32_t left, right;
    int32_t size; // bytes of the merged piece (staleness check)
} cand;

typedef struct {
    const crvq_tokenizer *t;
    const char *s; // normalized text
    sym *syms;
    size_t n_syms, cap_syms;
    cand *heap;
    size_t n_heap, cap_heap;
    // For unused pieces: bytes of the left part of the last pair registered
    // for that piece (SentencePiece's rev_merge), -1 if none. NULL unless the
    // vocabulary has unused pieces.
    int32_t *split;
    crvq_tok_ids *ids;
} bpe;

// a comes out of the heap before b
static int cand_before(const cand *a, const cand *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

CRVQ_MERGE_HEAP(cand_heap, cand, cand_before)

static crvq_status heap_push(bpe *e, cand c) { return cand_heap_push(&e->heap, &e->n_heap, &e->cap_heap, c); }
static cand heap_pop(bpe *e) { return cand_heap_pop(e->heap, &e->n_heap); }

static crvq_status maybe_add_pair(bpe *e, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return CRVQ_OK;
    const sym *l = &e->syms[left], *r = &e->syms[right];
    if (l->frozen || r->frozen) return CRVQ_OK;
    int32_t size = l->len + r->len; // adjacent symbols are adjacent bytes
    int id = crvq_tok_lookup(e->t, e->s + l->start, (size_t)size);
    if (id < 0 || !crvq_tok_mergeable(e->t->type[id])) return CRVQ_OK;
    if (e->split && e->t->type[id] == CRVQ_PIECE_UNUSED) e->split[id] = l->len;
    cand c = {e->t->score[id], left, right, size};
    return heap_push(e, c);
}

// Emit the ids of one final symbol's bytes.
static crvq_status emit(bpe *e, const char *p, int32_t n) {
    int id = crvq_tok_lookup(e->t, p, (size_t)n);
    if (id < 0) return crvq_tok_push_unknown(e->t, p, (size_t)n, e->ids);
    if (e->split && e->t->type[id] == CRVQ_PIECE_UNUSED && e->split[id] > 0) {
        int32_t l = e->split[id];
        crvq_status st = emit(e, p, l);
        return st ? st : emit(e, p + l, n - l);
    }
    return crvq_tok_ids_push(e->ids, id);
}

// Encode the stretch of symbols e->syms[0 .. n_syms).
static crvq_status encode_stretch(bpe *e) {
    crvq_status st;
    size_t n = e->n_syms;
    if (n == 0) return CRVQ_OK;
    e->n_heap = 0;
    for (size_t i = 1; i < n; i++)
        if ((st = maybe_add_pair(e, (int32_t)i - 1, (int32_t)i))) return st;
    while (e->n_heap) {
        cand c = heap_pop(e);
        sym *l = &e->syms[c.left], *r = &e->syms[c.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != c.size) continue; // stale
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) e->syms[r->next].prev = c.left;
        r->len = 0;
        if ((st = maybe_add_pair(e, l->prev, c.left))) return st;
        if ((st = maybe_add_pair(e, c.left, l->next))) return st;
    }
    for (int32_t i = 0; i >= 0; i = e->syms[i].next)
        if ((st = emit(e, e->s + e->syms[i].start, e->syms[i].len))) return st;
    e->n_syms = 0;
    return CRVQ_OK;
}

static crvq_status add_sym(bpe *e, int32_t start, int32_t len, int frozen) {
    if (e->n_syms == e->cap_syms) {
        size_t cap = e->cap_syms ? 2 * e->cap_syms : 256;
        sym *s = realloc(e->syms, cap * sizeof *s);
        if (!s) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory for symbols");
        e->syms = s;
        e->cap_syms = cap;
    }
    int32_t i = (int32_t)e->n_syms++;
    e->syms[i] = (sym){start, len, i - 1, -1, frozen};
    if (i > 0) e->syms[i - 1].next = i;
    return CRVQ_OK;
}

crvq_status crvq_bpe_encode(const crvq_tokenizer *t, const char *s, size_t n, crvq_tok_ids *ids) {
    if (n > INT32_MAX / 2) return crvq_fail(CRVQ_ERR_INVALID, "tokenizer: text of %zu bytes is too long", n);
    bpe e = {.t = t, .s = s, .ids = ids};
    crvq_status st = CRVQ_OK;
    if (t->has_unused) {
        e.split = malloc((size_t)t->n * sizeof *e.split);
        if (!e.split) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory");
        memset(e.split, 0xff, (size_t)t->n * sizeof *e.split);
    }
    for (size_t i = 0; i < n && !st;) {
        size_t k = crvq_tok_user_match(t, s + i, n - i);
        int frozen = k > 0, alone = frozen;
        if (!k) {
            uint32_t cp;
            k = crvq_utf8_decode((const uint8_t *)s + i, n - i, &cp);
            // Normalized text is valid UTF-8; should a byte not be, it is
            // one symbol (SentencePiece's prefix matcher takes one byte too).
            alone = k == 0 || !(t->joinable[cp >> 3] & (1u << (cp & 7)));
            if (k == 0) k = 1;
        }
        // With unused pieces, the order in which pairs are registered decides
        // how they are split back, so the text is kept in one stretch.
        if (alone && !t->has_unused) {
            if ((st = encode_stretch(&e))) break;
            if ((st = add_sym(&e, (int32_t)i, (int32_t)k, frozen))) break;
            st = encode_stretch(&e);
        } else {
            st = add_sym(&e, (int32_t)i, (int32_t)k, frozen);
        }
        i += k;
    }
    if (!st) st = encode_stretch(&e);
    free(e.syms);
    free(e.heap);
    free(e.split);
    return st;
}
