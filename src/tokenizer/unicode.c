// unicode.c — UTF-8 decoding as SentencePiece does it (the Unicode property
// tables are generated: unicode_tables.c).
#include "tokenizer/unicode.h"

size_t crvq_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    // SentencePiece's DecodeUTF8: shortest forms only, no surrogates, <= U+10FFFF.
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need = c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
    if (need == 0 || n < need) return 0;
    uint32_t v = c & (0x7F >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[need] || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return 0;
    *cp = v;
    return need;
}
