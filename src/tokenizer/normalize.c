// normalize.c — SentencePiece's Normalizer for models without a precompiled
// charsmap (identity normalization): user-defined pieces pass through, an
// invalid UTF-8 byte becomes U+FFFD, spaces become U+2581, optional removal of
// extra spaces, and the dummy prefix (or suffix) space.
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

#include <string.h>

static const char ws_symbol[] = "\xe2\x96\x81"; // U+2581 LOWER ONE EIGHTH BLOCK

size_t crvq_tok_normalize(const crvq_tokenizer *t, const char *text, size_t len, char *out) {
    const int remove_extra = t->opt.remove_extra_whitespaces;
    const char *ws = t->opt.escape_whitespaces ? ws_symbol : " ";
    const size_t ws_len = t->opt.escape_whitespaces ? 3 : 1;
    size_t i = 0, o = 0;
    if (remove_extra)
        while (i < len && text[i] == ' ') i++;
    // Text of nothing but (removed) spaces normalizes to nothing: no dummy prefix.
    if (i == len) return 0;
    if (t->add_dummy_prefix && !t->opt.treat_whitespace_as_suffix) {
        memcpy(out, ws, ws_len);
        o = ws_len;
    }
    int prev_space = remove_extra;
    while (i < len) {
        const char *piece = text + i;
        size_t consumed = crvq_tok_user_match(t, text + i, len - i), plen = consumed;
        if (consumed == 0) {
            uint32_t cp;
            consumed = plen = crvq_utf8_decode((const uint8_t *)text + i, len - i, &cp);
            if (consumed == 0) {
                // SentencePiece maps each byte that does not start a valid
                // character to U+FFFD, consuming that one byte only.
                piece = "\xef\xbf\xbd";
                consumed = 1;
                plen = 3;
            }
        }
        i += consumed;
        size_t k = 0;
        if (prev_space && remove_extra)
            while (k < plen && piece[k] == ' ') k++;
        if (k < plen) {
            for (; k < plen; k++) {
                if (piece[k] == ' ') {
                    memcpy(out + o, ws, ws_len);
                    o += ws_len;
                } else {
                    out[o++] = piece[k];
                }
            }
            prev_space = piece[plen - 1] == ' ';
        }
        if (!remove_extra) prev_space = 0;
    }
    if (remove_extra)
        while (o >= ws_len && memcmp(out + o - ws_len, ws, ws_len) == 0) o -= ws_len;
    if (t->add_dummy_prefix && t->opt.treat_whitespace_as_suffix) {
        memcpy(out + o, ws, ws_len);
        o += ws_len;
    }
    return o;
}
