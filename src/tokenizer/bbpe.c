// bbpe.c — encoding with a byte-level BPE tokenizer, as Hugging Face's
// tokenizers do it:
//
//   1. added tokens are found in the text (the longest at the leftmost
//      place; lstrip/rstrip eat the whitespace beside them); the stretches
//      between them are the sections;
//   2. each section is normalized (NFC or nothing), then split again at the
//      added tokens that match normalized text;
//   3. the pre-tokenizer regex cuts each section into words (pretok.c);
//   4. each word's bytes are merged: repeatedly the adjacent pair of lowest
//      merge rank, the leftmost among equal ranks. Symbols are a linked list
//      over the word, candidate pairs sit in a binary heap and are checked
//      for staleness when popped (O(n log n) in the word's length, so a
//      pathological megabyte-long word costs seconds, not hours).
//
// Speed: words repeat, so each call keeps a cache from a word's bytes to its
// ids (Hugging Face and tiktoken do too); with ignore_merges (Llama 3) a word
// that is a piece is looked up directly.
#include "tokenizer/merge_heap.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

// ------------------------------------------------------------ word cache ---

enum { CACHE_MAX_WORD = 64, CACHE_MAX_SLOTS = 1 << 17 };

typedef struct {
    uint32_t hash, key_off, ids_off;
    uint16_t key_len, n_ids; // key_len 0: empty slot
} centry;

typedef struct {
    centry *slots;
    uint32_t mask, used;
    char *keys;
    size_t n_keys, cap_keys;
    int *ids;
    size_t n_ids, cap_ids;
} cache;

static const centry *cache_find(const cache *c, const uint8_t *w, size_t n, uint32_t h) {
    if (!c->slots) return NULL;
    for (uint32_t i = h & c->mask;; i = (i + 1) & c->mask) {
        const centry *e = &c->slots[i];
        if (e->key_len == 0) return NULL;
        if (e->hash == h && e->key_len == n && memcmp(c->keys + e->key_off, w, n) == 0) return e;
    }
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

// Remember a word's ids. A full cache (or no memory for it) just stops
// remembering: the cache only saves time.
static void cache_put(cache *c, const uint8_t *w, size_t n, uint32_t h, const int *ids, size_t n_ids) {
    if (n > CACHE_MAX_WORD) return;
    if (2 * (c->used + 1) > c->mask + 1 || !c->slots) {
        uint32_t slots = c->slots ? 2 * (c->mask + 1) : 1024;
        if (slots > CACHE_MAX_SLOTS) return;
        centry *s = calloc(slots, sizeof *s);
        if (!s) return;
        for (uint32_t i = 0; c->slots && i <= c->mask; i++) {
            if (c->slots[i].key_len == 0) continue;
            uint32_t j = c->slots[i].hash & (slots - 1);
            while (s[j].key_len) j = (j + 1) & (slots - 1);
            s[j] = c->slots[i];
        }
        free(c->slots);
        c->slots = s;
        c->mask = slots - 1;
    }
    if (!grow((void **)&c->keys, &c->cap_keys, c->n_keys + n, 1) ||
        !grow((void **)&c->ids, &c->cap_ids, c->n_ids + n_ids, sizeof *c->ids))
        return;
    uint32_t i = h & c->mask;
    while (c->slots[i].key_len) i = (i + 1) & c->mask;
    c->slots[i] = (centry){h, (uint32_t)c->n_keys, (uint32_t)c->n_ids, (uint16_t)n, (uint16_t)n_ids};
    memcpy(c->keys + c->n_keys, w, n);
    memcpy(c->ids + c->n_ids, ids, n_ids * sizeof *ids);
    c->n_keys += n;
    c->n_ids += n_ids;
    c->used++;
}

static void cache_free(cache *c) {
    free(c->slots);
    free(c->keys);
    free(c->ids);
}

// ------------------------------------------------------------- word BPE ---

typedef struct {
    uint32_t id;
    int32_t prev, next; // -1 at the ends
} sym;

typedef struct {
    int32_t rank, left; // heap order: rank, then position
    uint32_t a, b;      // the pair's ids when pushed (staleness check)
    uint32_t merged;    // the id they merge into
} cand;

typedef struct {
    const crvq_tokenizer *t;
    const crvq_bbpe *b;
    crvq_tok_ids *ids;
    sym *syms;
    size_t cap_syms;
    cand *heap;
    size_t n_heap, cap_heap;
    cache cache;
    char *buf; // a section with the prefix space
    size_t cap_buf;
} enc;

static int cand_before(const cand *x, const cand *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

CRVQ_MERGE_HEAP(cand_heap, cand, cand_before)

static crvq_status heap_push(enc *e, cand c) { return cand_heap_push(&e->heap, &e->n_heap, &e->cap_heap, c); }
static cand heap_pop(enc *e) { return cand_heap_pop(e->heap, &e->n_heap); }

static crvq_status try_pair(enc *e, int32_t left) {
    if (left < 0 || e->syms[left].next < 0) return CRVQ_OK;
    uint32_t a = e->syms[left].id, b = e->syms[e->syms[left].next].id;
    const crvq_bpe_merge *m = crvq_bbpe_find_merge(e->b, a, b);
    if (!m) return CRVQ_OK;
    return heap_push(e, (cand){m->rank, left, a, b, (uint32_t)m->id});
}

// Append the ids of the word w[0..n) (n >= 1).
static crvq_status encode_word(enc *e, const uint8_t *w, size_t n) {
    uint32_t h = crvq_tok_hash32((const char *)w, n);
    const centry *hit = cache_find(&e->cache, w, n, h);
    crvq_status st;
    size_t first = e->ids->n;
    if (hit) {
        for (uint32_t i = 0; i < hit->n_ids; i++)
            if ((st = crvq_tok_ids_push(e->ids, e->cache.ids[hit->ids_off + i]))) return st;
        return CRVQ_OK;
    }
    const crvq_tokenizer *t = e->t;
    if (e->b->ignore_merges || n == 1) {
        int id = crvq_tok_lookup(t, (const char *)w, n);
        if (id >= 0 && t->type[id] == CRVQ_PIECE_NORMAL) {
            if ((st = crvq_tok_ids_push(e->ids, id))) return st;
            cache_put(&e->cache, w, n, h, &id, 1);
            return CRVQ_OK;
        }
    }
    if (!grow((void **)&e->syms, &e->cap_syms, n, sizeof *e->syms))
        return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory for a word of %zu bytes", n);
    for (size_t i = 0; i < n; i++) {
        int id = t->byte_id[w[i]] >= 0 ? t->byte_id[w[i]] : e->b->unk;
        if (id < 0)
            return crvq_fail(CRVQ_ERR_INVALID, "tokenizer: byte 0x%02X has no piece and the vocabulary has no "
                             "unk_token", w[i]);
        e->syms[i] = (sym){(uint32_t)id, (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1};
    }
    e->n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if ((st = try_pair(e, (int32_t)i))) return st;
    while (e->n_heap) {
        cand c = heap_pop(e);
        sym *l = &e->syms[c.left];
        if (l->id != c.a || l->next < 0 || e->syms[l->next].id != c.b) continue; // stale
        sym *r = &e->syms[l->next];
        l->id = c.merged;
        l->next = r->next;
        if (r->next >= 0) e->syms[r->next].prev = c.left;
        r->id = UINT32_MAX; // dead
        if ((st = try_pair(e, l->prev)) || (st = try_pair(e, c.left))) return st;
    }
    for (int32_t i = 0; i >= 0; i = e->syms[i].next)
        if ((st = crvq_tok_ids_push(e->ids, (int)e->syms[i].id))) return st;
    cache_put(&e->cache, w, n, h, e->ids->v + first, e->ids->n - first);
    return CRVQ_OK;
}

// ------------------------------------------------------------- sections ---

static size_t (*const splitters[])(const uint8_t *, size_t, size_t) = {
    [CRVQ_PRETOK_GPT2] = crvq_pretok_gpt2,
    [CRVQ_PRETOK_LLAMA3] = crvq_pretok_llama3,
    [CRVQ_PRETOK_QWEN2] = crvq_pretok_qwen2,
};

// Pre-tokenize a normalized section (n >= 1) and encode its words.
static crvq_status encode_words(enc *e, const char *s, size_t n) {
    if (e->b->add_prefix_space && s[0] != ' ') {
        if (!grow((void **)&e->buf, &e->cap_buf, n + 1, 1))
            return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory for %zu bytes", n);
        e->buf[0] = ' ';
        memcpy(e->buf + 1, s, n);
        s = e->buf;
        n++;
    }
    size_t (*split)(const uint8_t *, size_t, size_t) = splitters[e->b->pretok];
    const uint8_t *u = (const uint8_t *)s;
    crvq_status st;
    for (size_t i = 0, j; i < n; i = j) {
        j = split(u, n, i);
        if ((st = encode_word(e, u + i, j - i))) return st;
    }
    return CRVQ_OK;
}

// The longest added token of set a at s[0..n): its length (0: none) and id.
static size_t added_match(const crvq_added_set *a, const char *s, size_t n, int *id) {
    for (int l = 0; l < a->n_lens; l++) {
        size_t len = a->lens[l];
        if (len > n) continue;
        for (uint32_t h = crvq_tok_hash32(s, len) & a->mask; a->table[h] >= 0; h = (h + 1) & a->mask) {
            int k = a->table[h];
            if (a->len[k] == len && memcmp(a->blob + a->off[k], s, len) == 0) {
                *id = a->id[k];
                return len;
            }
        }
    }
    return 0;
}

// Length of the White_Space character at s[0..n) or 0.
static size_t space_at(const char *s, size_t n) {
    uint32_t cp;
    size_t k = crvq_utf8_decode((const uint8_t *)s, n, &cp);
    return k && (crvq_uc_flags(cp) & CRVQ_UC_WS) ? k : 0;
}

static crvq_status encode_section(enc *e, const char *s, size_t n);

// Split s[0..n) at the added tokens of set a; the stretches between go to
// encode_section (the raw text, level 0) or encode_words (normalized, 1).
static crvq_status split_added(enc *e, const crvq_added_set *a, int level, const char *s, size_t n) {
    crvq_status st;
    size_t sec = 0, pos = 0;
    for (;;) {
        size_t p = pos, len = 0;
        int id = -1;
        for (; a->n && p < n; p++) {
            uint8_t c = (uint8_t)s[p];
            if ((a->first[c >> 3] & (1u << (c & 7))) && (len = added_match(a, s + p, n - p, &id))) break;
        }
        size_t end = len ? p : n;
        uint8_t flags = len ? e->b->added_flags[id] : 0;
        while ((flags & CRVQ_ADDED_LSTRIP) && end > sec) { // back over the whitespace before it
            size_t back = 1;
            while (back < 4 && end - back > sec && ((uint8_t)s[end - back] & 0xC0) == 0x80) back++;
            if (space_at(s + end - back, back) != back) break;
            end -= back;
        }
        if (end > sec && (st = level ? encode_words(e, s + sec, end - sec) : encode_section(e, s + sec, end - sec)))
            return st;
        if (!len) return CRVQ_OK;
        if ((st = crvq_tok_ids_push(e->ids, id))) return st;
        pos = p + len;
        if (flags & CRVQ_ADDED_RSTRIP)
            for (size_t k; pos < n && (k = space_at(s + pos, n - pos));) pos += k;
        sec = pos;
    }
}

// A stretch of text between added tokens: normalize, then the second split.
static crvq_status encode_section(enc *e, const char *s, size_t n) {
    if (!e->b->nfc || crvq_nfc_quick_yes(s, n)) return split_added(e, &e->b->norm, 1, s, n);
    char *norm;
    size_t m;
    crvq_status st = crvq_nfc(s, n, &norm, &m);
    if (st) return st;
    st = split_added(e, &e->b->norm, 1, norm, m);
    free(norm);
    return st;
}

crvq_status crvq_bbpe_encode(const crvq_tokenizer *t, const char *text, size_t len, crvq_tok_ids *ids) {
    if (len > INT32_MAX) return crvq_fail(CRVQ_ERR_INVALID, "tokenizer: text of %zu bytes is too long", len);
    enc e = {.t = t, .b = t->bbpe, .ids = ids};
    crvq_status st = split_added(&e, &t->bbpe->raw, 0, text, len);
    free(e.syms);
    free(e.heap);
    free(e.buf);
    cache_free(&e.cache);
    return st;
}
