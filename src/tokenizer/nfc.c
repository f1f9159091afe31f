// nfc.c — Unicode Normalization Form C (UAX #15) of UTF-8 text.
//
// Text is cut before every character that NFC cannot touch (a starter whose
// NFC_QC is Yes: CRVQ_UC_NFC clear); the pieces are independent. Pieces made
// of such characters alone are copied as they are, which is nearly all text;
// the others (a base letter and its combining marks, a Hangul syllable and
// its jamo, ...) are fully decomposed, put in canonical order and composed
// again. Hangul is algorithmic (Unicode chapter 3.12).
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

enum {
    S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7,
    L_COUNT = 19, V_COUNT = 21, T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT, S_COUNT = L_COUNT * N_COUNT,
};

int crvq_uc_ccc_of(uint32_t cp) {
    if (cp < 0x300) return 0;
    int lo = 0, hi = crvq_uc_n_ccc - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < crvq_uc_ccc[mid].first) hi = mid - 1;
        else if (cp > crvq_uc_ccc[mid].last) lo = mid + 1;
        else return crvq_uc_ccc[mid].ccc;
    }
    return 0;
}

static const crvq_uc_decomp *find_decomp(uint32_t cp) {
    int lo = 0, hi = crvq_uc_n_decomps - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < crvq_uc_decomps[mid].cp) hi = mid - 1;
        else if (cp > crvq_uc_decomps[mid].cp) lo = mid + 1;
        else return &crvq_uc_decomps[mid];
    }
    return NULL;
}

// The primary composite of a + b, or 0.
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE && b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    int lo = 0, hi = crvq_uc_n_pairs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const crvq_uc_pair *p = &crvq_uc_pairs[mid];
        if (a < p->first || (a == p->first && b < p->second)) hi = mid - 1;
        else if (a > p->first || b > p->second) lo = mid + 1;
        else return p->composite;
    }
    return 0;
}

// One piece's code points, decomposed, with their combining classes.
typedef struct {
    uint32_t *cp;
    uint8_t *cc;
    size_t n, cap;
} cps;

static crvq_status cps_reserve(cps *b, size_t need) {
    if (need <= b->cap) return CRVQ_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    uint32_t *p = realloc(b->cp, cap * sizeof *p);
    if (p) b->cp = p;
    uint8_t *q = p ? realloc(b->cc, cap) : NULL;
    if (!q) return crvq_fail(CRVQ_ERR_NOMEM, "NFC: out of memory");
    b->cc = q;
    b->cap = cap;
    return CRVQ_OK;
}

static crvq_status cps_push(cps *b, uint32_t c) {
    crvq_status st = cps_reserve(b, b->n + 1);
    if (st) return st;
    b->cp[b->n] = c;
    b->cc[b->n++] = (uint8_t)crvq_uc_ccc_of(c);
    return CRVQ_OK;
}

static crvq_status decompose(cps *b, uint32_t c) {
    if (c >= S_BASE && c < S_BASE + S_COUNT) {
        uint32_t s = c - S_BASE;
        crvq_status st = cps_push(b, L_BASE + s / N_COUNT);
        if (!st) st = cps_push(b, V_BASE + (s % N_COUNT) / T_COUNT);
        if (!st && s % T_COUNT) st = cps_push(b, T_BASE + s % T_COUNT);
        return st;
    }
    const crvq_uc_decomp *d = c >= 0xC0 ? find_decomp(c) : NULL;
    if (!d) return cps_push(b, c);
    for (int i = 0; i < d->len; i++) {
        crvq_status st = cps_push(b, crvq_uc_decomp_pool[d->off + i]);
        if (st) return st;
    }
    return CRVQ_OK;
}

// Canonical ordering: each run of non-starters sorted by class, stably. Runs
// are short in real text; a long one (a fuzzer's, say) costs a merge sort's
// n log n with a scratch buffer rather than insertion sort's n².
static void sort_run(uint32_t *cp, uint8_t *cc, size_t n, uint32_t *tcp, uint8_t *tcc) {
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            uint32_t c = cp[i];
            uint8_t k = cc[i];
            size_t j = i;
            for (; j > 0 && cc[j - 1] > k; j--) {
                cp[j] = cp[j - 1];
                cc[j] = cc[j - 1];
            }
            cp[j] = c;
            cc[j] = k;
        }
        return;
    }
    size_t h = n / 2;
    sort_run(cp, cc, h, tcp, tcc);
    sort_run(cp + h, cc + h, n - h, tcp, tcc);
    size_t i = 0, j = h, o = 0;
    while (i < h || j < n) {
        int left = j >= n || (i < h && cc[i] <= cc[j]); // <=: stable
        size_t s = left ? i++ : j++;
        tcp[o] = cp[s];
        tcc[o++] = cc[s];
    }
    memcpy(cp, tcp, n * sizeof *cp);
    memcpy(cc, tcc, n);
}

static size_t put_utf8(char *o, uint32_t c) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

// NFC of the valid UTF-8 piece s[0..n), written at out; returns its length.
static crvq_status normalize_piece(cps *b, cps *tmp, const uint8_t *s, size_t n, char *out, size_t *out_len) {
    b->n = 0;
    crvq_status st;
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t c;
        k = crvq_utf8_decode(s + i, n - i, &c);
        if ((st = decompose(b, c))) return st;
    }
    for (size_t i = 0; i < b->n;) {
        if (b->cc[i] == 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < b->n && b->cc[j] != 0) j++;
        if ((st = cps_reserve(tmp, j - i))) return st;
        sort_run(b->cp + i, b->cc + i, j - i, tmp->cp, tmp->cc);
        i = j;
    }
    // Compose: each character joins the last starter unless a character in
    // between has a class >= its own (it is blocked).
    size_t m = 0;
    long starter = -1;
    int last = 0;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t c = b->cp[i];
        int cc = b->cc[i];
        if (starter >= 0 && (last < cc || last == 0)) {
            uint32_t comp = compose(b->cp[starter], c);
            if (comp) {
                b->cp[starter] = comp;
                continue;
            }
        }
        if (cc == 0) starter = (long)m;
        last = cc;
        b->cp[m] = c;
        b->cc[m++] = (uint8_t)cc;
    }
    size_t o = 0;
    for (size_t i = 0; i < m; i++) o += put_utf8(out + o, b->cp[i]);
    *out_len = o;
    return CRVQ_OK;
}

// Length of the character at s (0: not valid UTF-8) and whether NFC might
// change text around it.
static size_t next_char(const uint8_t *s, size_t n, int *touchy) {
    if (s[0] < 0x80) {
        *touchy = 0;
        return 1;
    }
    uint32_t c;
    size_t k = crvq_utf8_decode(s, n, &c);
    *touchy = k && (crvq_uc_flags(c) & CRVQ_UC_NFC);
    return k;
}

int crvq_nfc_quick_yes(const char *text, size_t len) {
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        if (s[i] < 0xCC) { // lead bytes below 0xCC start characters below U+0300
            i++;
            continue;
        }
        int touchy;
        size_t k = next_char(s + i, len - i, &touchy);
        if (touchy) return 0;
        i += k ? k : 1;
    }
    return 1;
}

crvq_status crvq_nfc(const char *text, size_t len, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (len > (SIZE_MAX - 4) / 3) return crvq_fail(CRVQ_ERR_NOMEM, "NFC: text of %zu bytes is too long", len);
    char *o = malloc(3 * len + 4);
    if (!o) return crvq_fail(CRVQ_ERR_NOMEM, "NFC: out of memory for %zu bytes", len);
    const uint8_t *s = (const uint8_t *)text;
    cps b = {0}, tmp = {0};
    crvq_status st = CRVQ_OK;
    size_t i = 0, w = 0;
    size_t piece_in = 0, piece_out = 0; // where the last untouchable character was read and written
    int have_piece = 0;
    while (i < len) {
        int touchy;
        size_t k = next_char(s + i, len - i, &touchy);
        if (k == 0) { // not UTF-8: copied, and nothing composes across it
            o[w++] = (char)s[i++];
            have_piece = 0;
            continue;
        }
        if (!touchy) {
            piece_in = i;
            piece_out = w;
            have_piece = 1;
            memcpy(o + w, s + i, k);
            w += k;
            i += k;
            continue;
        }
        // From the last untouchable character (or here) to the next one.
        size_t start_in = have_piece ? piece_in : i, start_out = have_piece ? piece_out : w;
        size_t j = i + k;
        while (j < len) {
            size_t k2 = next_char(s + j, len - j, &touchy);
            if (k2 == 0 || !touchy) break;
            j += k2;
        }
        size_t m;
        if ((st = normalize_piece(&b, &tmp, s + start_in, j - start_in, o + start_out, &m))) break;
        w = start_out + m;
        i = j;
        have_piece = 0;
    }
    free(b.cp);
    free(b.cc);
    free(tmp.cp);
    free(tmp.cc);
    if (st) {
        free(o);
        return st;
    }
    *out = o;
    *out_len = w;
    return CRVQ_OK;
}
