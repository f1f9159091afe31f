// unigram.c — SentencePiece's unigram encoding of normalized text: the
// segmentation with the highest total piece score (Viterbi over all
// vocabulary pieces that match at each character), as its optimized encoder
// computes it.
//
// At each character start, every mergeable piece that matches there (found by
// extending a prefix byte by byte while it is still a prefix of some piece, as
// a trie walk would) proposes a path ending after it. User-defined pieces
// score length * max_score - 0.1 so they always win; unused pieces are
// skipped. When no piece covers exactly the one character, an unknown node
// scoring min_score - 10 does. Ties keep the path found first (the earlier
// start). The score arithmetic mirrors SentencePiece's types (double for
// piece candidates, float for stored path scores) so ties resolve identically.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define UNK_PENALTY 10.0f

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

// Is s[0..n) a prefix (proper or not) of some mergeable piece?
static int is_prefix(const crvq_tokenizer *t, const char *s, size_t n) {
    for (uint32_t h = (uint32_t)hash_bytes(s, n) & t->prefix_mask;; h = (h + 1) & t->prefix_mask) {
        const crvq_tok_prefix *e = &t->prefixes[h];
        if (e->len == 0) return 0;
        if (e->len == n && memcmp(t->blob + t->off[e->id], s, n) == 0) return 1;
    }
}

crvq_status crvq_unigram_prepare(crvq_tokenizer *t, const char *what) {
    size_t total = 0;
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int i = 0; i < t->n; i++) {
        if (crvq_tok_mergeable(t->type[i])) total += t->len[i];
        if (t->type[i] == CRVQ_PIECE_NORMAL) {
            if (t->score[i] < lo) lo = t->score[i];
            if (t->score[i] > hi) hi = t->score[i];
        }
    }
    // SentencePiece's defaults when there are no normal pieces.
    t->min_score = lo == FLT_MAX ? 0.0f : lo;
    t->max_score = hi == -FLT_MAX ? 0.0f : hi;
    uint32_t cap = 16;
    while (cap < 2 * total + 16) cap <<= 1;
    t->prefixes = calloc(cap, sizeof *t->prefixes);
    if (!t->prefixes) return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for the unigram prefix table", what);
    t->prefix_mask = cap - 1;
    for (int i = 0; i < t->n; i++) {
        if (!crvq_tok_mergeable(t->type[i])) continue;
        const char *p = t->blob + t->off[i];
        for (uint32_t n = 1; n <= t->len[i]; n++) {
            uint32_t h = (uint32_t)hash_bytes(p, n) & t->prefix_mask;
            for (; t->prefixes[h].len; h = (h + 1) & t->prefix_mask)
                if (t->prefixes[h].len == n && memcmp(t->blob + t->off[t->prefixes[h].id], p, n) == 0) break;
            if (!t->prefixes[h].len) t->prefixes[h] = (crvq_tok_prefix){(uint32_t)i, n};
        }
    }
    return CRVQ_OK;
}

typedef struct {
    int id;      // -1 for an unknown node
    float score; // best path score ending here
    int start;   // where the last piece of that path starts; -1: not reached
} node;

crvq_status crvq_unigram_encode(const crvq_tokenizer *t, const char *s, size_t n, crvq_tok_ids *ids) {
    if (n == 0) return CRVQ_OK;
    if (n > INT32_MAX / 2) return crvq_fail(CRVQ_ERR_INVALID, "tokenizer: text of %zu bytes is too long", n);
    node *best = malloc((n + 1) * sizeof *best);
    if (!best) return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of text", n);
    for (size_t i = 0; i <= n; i++) best[i] = (node){-1, 0.0f, -1};
    const float unk_score = t->min_score - UNK_PENALTY;
    for (size_t start = 0; start < n;) {
        const float here = best[start].score;
        uint32_t cp;
        size_t mblen = crvq_utf8_decode((const uint8_t *)s + start, n - start, &cp);
        if (mblen == 0) mblen = 1; // normalized text is valid UTF-8; a stray byte is one character
        int single = 0;
        for (size_t end = start + 1; end <= n && is_prefix(t, s + start, end - start); end++) {
            int id = crvq_tok_lookup(t, s + start, end - start);
            if (id < 0 || !crvq_tok_mergeable(t->type[id]) || t->type[id] == CRVQ_PIECE_UNUSED) continue;
            size_t len = end - start;
            double score = t->type[id] == CRVQ_PIECE_USER_DEFINED ? (double)((float)len * t->max_score) - 0.1
                                                                  : (double)t->score[id];
            double cand = score + (double)here;
            if (best[end].start < 0 || cand > (double)best[end].score)
                best[end] = (node){id, (float)cand, (int)start};
            if (len == mblen) single = 1;
        }
        if (!single) {
            float cand = unk_score + here;
            node *e = &best[start + mblen];
            if (e->start < 0 || cand > e->score) *e = (node){-1, cand, (int)start};
        }
        start += mblen;
    }
    // Backtrack, then emit front to back.
    size_t count = 0;
    for (size_t end = n; end > 0; end = (size_t)best[end].start) count++;
    int *path_end = malloc(count * sizeof *path_end);
    crvq_status st = CRVQ_OK;
    if (!path_end) {
        free(best);
        return crvq_fail(CRVQ_ERR_NOMEM, "tokenizer: out of memory");
    }
    size_t k = count;
    for (size_t end = n; end > 0; end = (size_t)best[end].start) path_end[--k] = (int)end;
    for (size_t i = 0; i < count && !st; i++) {
        const node *e = &best[path_end[i]];
        st = e->id >= 0 ? crvq_tok_ids_push(ids, e->id)
                        : crvq_tok_push_unknown(t, s + e->start, (size_t)(path_end[i] - e->start), ids);
    }
    free(path_end);
    free(best);
    return st;
}
