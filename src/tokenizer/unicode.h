// unicode.h — the Unicode properties the byte-level BPE tokenizers need:
// \p{L}, \p{N} and \s (White_Space) for the pre-tokenizer splitters, and NFC
// normalization. The data is generated from the Unicode Character Database
// (unicode_tables.c, written by tools/gen_unicode_tables.py; its version is
// crvq_uc_version).
#ifndef CRVQ_UNICODE_H
#define CRVQ_UNICODE_H

#include "crvq.h"

#include <stddef.h>
#include <stdint.h>

enum {
    CRVQ_UC_L = 1,   // general category L* (Lu Ll Lt Lm Lo)
    CRVQ_UC_N = 2,   // general category N* (Nd Nl No)
    CRVQ_UC_WS = 4,  // White_Space
    CRVQ_UC_NFC = 8, // NFC_QC is No or Maybe, or the combining class is not 0:
                     // NFC may change the text around this character
};

typedef struct crvq_uc_ccc_range {
    uint32_t first, last;
    uint8_t ccc;
} crvq_uc_ccc_range;

typedef struct crvq_uc_decomp {
    uint32_t cp;
    uint16_t off; // into crvq_uc_decomp_pool
    uint8_t len;
} crvq_uc_decomp;

typedef struct crvq_uc_pair {
    uint32_t first, second, composite;
} crvq_uc_pair;

extern const char crvq_uc_version[];
extern const uint8_t crvq_uc_stage1[0x110000 >> 8];
extern const uint8_t crvq_uc_stage2[];
extern const crvq_uc_ccc_range crvq_uc_ccc[];
extern const int crvq_uc_n_ccc;
extern const crvq_uc_decomp crvq_uc_decomps[];
extern const int crvq_uc_n_decomps;
extern const uint32_t crvq_uc_decomp_pool[];
extern const crvq_uc_pair crvq_uc_pairs[];
extern const int crvq_uc_n_pairs;

// Length of the (valid) UTF-8 character at s, 0 if s[0..n) does not start
// with one; the codepoint goes to *cp (unicode.c).
size_t crvq_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

// CRVQ_UC_* flags of a code point (0 for cp > U+10FFFF).
static inline unsigned crvq_uc_flags(uint32_t cp) {
    if (cp >= 0x110000) return 0;
    return crvq_uc_stage2[(size_t)crvq_uc_stage1[cp >> 8] << 8 | (cp & 0xFF)];
}

// Canonical combining class.
int crvq_uc_ccc_of(uint32_t cp);

// NFC of UTF-8 text. A byte that does not start a valid UTF-8 character is
// copied unchanged (it is never part of a composition). *out is malloc'd
// (never NULL on success); the result is at most 3 times as long as the text
// (NFC grows UTF-8 by at most that factor).
crvq_status crvq_nfc(const char *text, size_t len, char **out, size_t *out_len);

// True if NFC leaves the text unchanged for certain without running it
// (every character is a stable starter); false means "maybe".
int crvq_nfc_quick_yes(const char *text, size_t len);

#endif
