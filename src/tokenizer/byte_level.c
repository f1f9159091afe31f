// byte_level.c — GPT-2's byte-to-character mapping, in which byte-level BPE
// vocabularies (tokenizer.json, GGUF "gpt2") write their pieces: the bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for the characters of the same
// code; the other 68 bytes, in increasing order, for U+0100, U+0101, ...
// (so a space is U+0120 'Ġ', a newline U+010A 'Ċ').
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

static int printable(unsigned b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

// Code point of byte b. The unprintable bytes are 0x00..0x20 (the first 33),
// 0x7F..0xA0 (34 more) and 0xAD (the last).
static uint32_t byte_char(unsigned b) {
    if (printable(b)) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b <= 0xA0) return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67; // 0xAD
}

// Byte of code point cp, or -1.
static int char_byte(uint32_t cp) {
    if (cp < 0x100) return printable(cp) ? (int)cp : -1;
    if (cp < 0x100 + 33) return (int)(cp - 0x100);
    if (cp < 0x100 + 67) return (int)(0x7F + cp - (0x100 + 33));
    return cp == 0x100 + 67 ? 0xAD : -1;
}

long crvq_bytelevel_decode(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t cp;
        k = crvq_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        int b = k ? char_byte(cp) : -1;
        if (b < 0) return -1;
        out[o++] = (char)b;
    }
    return (long)o;
}

size_t crvq_bytelevel_encode(const char *raw, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = byte_char((uint8_t)raw[i]);
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            out[o++] = (char)(0xC0 | c >> 6);
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return o;
}
