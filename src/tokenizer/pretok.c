// pretok.c — the regular expressions that byte-level BPE tokenizers split
// text with before BPE, written out by hand (crvq has no regex engine). Each
// function returns where the match that starts at byte i ends, the match the
// regex engine would find: the first alternative that matches, each
// quantifier greedy with backtracking. Every character matches some
// alternative, so the matches tile the text (HF's Split "Isolated").
//
// Character classes are Unicode's: \p{L} and \p{N} by general category, \s
// as White_Space (what Hugging Face's Oniguruma patterns mean; tokenizers.js
// rewrites \s to \p{White_Space} for the same reason). (?i:...) folds ASCII
// letters only, as tokenizers.js and llama.cpp do. A byte that does not
// start a valid UTF-8 character counts as one character of no class.
#include "tokenizer/pretok.h"
#include "tokenizer/unicode.h"

#include <string.h>

const char crvq_pretok_regex_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char crvq_pretok_regex_llama3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char crvq_pretok_regex_qwen2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// A character's class for these patterns: exactly one of them.
enum { C_L = CRVQ_UC_L, C_N = CRVQ_UC_N, C_WS = CRVQ_UC_WS, C_OTHER = 16, C_END = 32 };

typedef struct {
    const uint8_t *s;
    size_t n;
} text;

// The class of the character at i and its length (C_END past the end).
static inline unsigned char_at(text t, size_t i, size_t *len) {
    if (i >= t.n) {
        *len = 0;
        return C_END;
    }
    uint8_t b = t.s[i];
    if (b < 0x80) {
        // ASCII: letters, digits, \t \n \v \f \r and space, everything else other.
        *len = 1;
        if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') return C_L;
        if (b >= '0' && b <= '9') return C_N;
        if (b == ' ' || (b >= 0x09 && b <= 0x0D)) return C_WS;
        return C_OTHER;
    }
    uint32_t cp;
    size_t k = crvq_utf8_decode(t.s + i, t.n - i, &cp);
    if (k == 0) {
        *len = 1;
        return C_OTHER;
    }
    *len = k;
    unsigned f = crvq_uc_flags(cp) & (C_L | C_N | C_WS);
    return f ? f : C_OTHER; // the classes are disjoint
}

// End of the run of characters of class c that starts at i.
static size_t run_of(text t, size_t i, unsigned c) {
    size_t k;
    while (char_at(t, i, &k) == c) i += k;
    return i;
}

static inline int lower(uint8_t b) { return b >= 'A' && b <= 'Z' ? b + 32 : b; }

// 's 't 're 've 'm 'll 'd at i (after the apostrophe): length of the match
// with the apostrophe, or 0. fold: ASCII case-insensitive.
static size_t contraction(text t, size_t i, int fold) {
    if (i >= t.n || t.s[i] != '\'' || i + 1 >= t.n) return 0;
    int a = fold ? lower(t.s[i + 1]) : t.s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= t.n) return 0;
    int b = fold ? lower(t.s[i + 2]) : t.s[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// \s+(?!\S)|\s+ at i, where a run of whitespace starts: the run, less its
// last character when a non-space follows and the run has more than one.
static size_t spaces(text t, size_t i) {
    size_t j = i, last = i, k;
    while (char_at(t, j, &k) == C_WS) {
        last = j;
        j += k;
    }
    return j < t.n && last > i ? last : j;
}

size_t crvq_pretok_gpt2(const uint8_t *s, size_t n, size_t i) {
    text t = {s, n};
    size_t k, k2;
    size_t c = contraction(t, i, 0);
    if (c) return i + c;
    unsigned a = char_at(t, i, &k);
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': a space may lead a run of any of the three.
    if (s[i] == ' ') {
        unsigned b = char_at(t, i + 1, &k2);
        if (b == C_L || b == C_N || b == C_OTHER) return run_of(t, i + 1, b);
    }
    if (a != C_WS) return run_of(t, i, a);
    return spaces(t, i);
}

// The Llama-3 / Qwen2 pattern; max_digits: 3 for \p{N}{1,3}, 1 for \p{N}.
static size_t cl100k_like(text t, size_t i, size_t max_digits) {
    size_t k, k2;
    size_t c = contraction(t, i, 1);
    if (c) return i + c;
    unsigned a = char_at(t, i, &k);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (a == C_L) return run_of(t, i, C_L);
    if (a != C_N && t.s[i] != '\r' && t.s[i] != '\n' && char_at(t, i + k, &k2) == C_L)
        return run_of(t, i + k, C_L);
    // \p{N}{1,3} or \p{N}
    if (a == C_N) {
        size_t j = i + k;
        for (size_t d = 1; d < max_digits && char_at(t, j, &k2) == C_N; d++) j += k2;
        return j;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    size_t j = i;
    if (t.s[i] == ' ' && char_at(t, i + 1, &k2) == C_OTHER) j = i + 1;
    if (j > i || a == C_OTHER) {
        j = run_of(t, j, C_OTHER);
        while (j < t.n && (t.s[j] == '\r' || t.s[j] == '\n')) j++;
        return j;
    }
    // Whitespace from here on. \s*[\r\n]+: up to the run's last \r or \n.
    size_t end = i, nl = 0;
    while (char_at(t, end, &k2) == C_WS) {
        if (t.s[end] == '\r' || t.s[end] == '\n') nl = end + 1;
        end += k2;
    }
    if (nl) return nl;
    return spaces(t, i);
}

size_t crvq_pretok_llama3(const uint8_t *s, size_t n, size_t i) { return cl100k_like((text){s, n}, i, 3); }
size_t crvq_pretok_qwen2(const uint8_t *s, size_t n, size_t i) { return cl100k_like((text){s, n}, i, 1); }
