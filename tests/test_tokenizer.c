// test_tokenizer.c — the tokenizer: BPE rules on tiny in-test vocabularies,
// the SentencePiece protobuf and llama2.c readers on well-formed and broken
// input (every truncation; errors, never crashes), decoding, and the shared
// tokenizers on edge cases whose ids come from python3-sentencepiece.
#include "check.h"
#include "io/mapfile.h"
#include "tokenizer/tok_internal.h"

#include <stdint.h>
#include <unistd.h>

#define U2581 "\xe2\x96\x81"

// ---------------------------------------------------------------- helpers ---

static crvq_tokenizer *synth(const char *const *pieces, int n, const float *scores, const int *types, int bos,
                             int eos, int unk, int dummy, int fallback) {
    size_t lens[600];
    for (int i = 0; i < n; i++) lens[i] = strlen(pieces[i]);
    crvq_vocab_spec spec = {n, pieces, lens, scores, types, bos, eos, unk, dummy, fallback};
    crvq_tokenizer *t = NULL;
    crvq_status st = crvq_tokenizer_from_vocab(&spec, "synthetic", &t);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    return t;
}

// Encode and compare with the expected ids (terminated by -100).
static void check_ids_at(int line, const crvq_tokenizer *t, const char *text, size_t len, int bos, const int *want) {
    int *ids = NULL;
    size_t n = 0;
    crvq_status st = crvq_tokenize(t, text, len, bos, &ids, &n);
    size_t nw = 0;
    while (want[nw] != -100) nw++;
    int ok = st == CRVQ_OK && n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    CHECK_MSG(ok, "line %d: text '%.*s' (%zu bytes): status %d (%s), %zu ids, want %zu", line,
              (int)(len < 40 ? len : 40), text, len, (int)st, crvq_last_error(), n, nw);
    if (!ok && st == CRVQ_OK) {
        fprintf(stderr, "  got :");
        for (size_t i = 0; i < n && i < 24; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n  want:");
        for (size_t i = 0; i < nw && i < 24; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
}
#define CHECK_IDS(t, text, bos, ...) \
    check_ids_at(__LINE__, t, text, strlen(text), bos, (const int[]){__VA_ARGS__, -100})
#define CHECK_IDS_N(t, text, len, bos, ...) \
    check_ids_at(__LINE__, t, text, len, bos, (const int[]){__VA_ARGS__, -100})
#define CHECK_NO_IDS(t, text) check_ids_at(__LINE__, t, text, strlen(text), 0, (const int[]){-100})

// Decode ids as a stream (each id after the previous one) into buf.
static size_t decode(const crvq_tokenizer *t, const int *ids, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += crvq_detokenize(t, i ? ids[i - 1] : -1, ids[i], buf + o, cap - o);
    return o;
}

static void check_round_trip(const crvq_tokenizer *t, const char *name, const char *text, size_t len) {
    int *ids = NULL;
    size_t n = 0;
    CHECK_MSG(crvq_tokenize(t, text, len, 1, &ids, &n) == CRVQ_OK, "%s: %s", name, crvq_last_error());
    size_t cap = 4 * len + 64;
    char *buf = malloc(cap);
    size_t m = decode(t, ids, n, buf, cap);
    CHECK_MSG(m == len && memcmp(buf, text, len) == 0, "%s: round trip of '%.*s' gave '%.*s'", name,
              (int)(len < 60 ? len : 60), text, (int)(m < 60 ? m : 60), buf);
    free(buf);
    free(ids);
}

// A tiny protobuf writer for synthetic tokenizer.model files.
typedef struct {
    uint8_t b[8192];
    size_t n;
} pbw;

static void w_varint(pbw *w, uint64_t v) {
    do {
        w->b[w->n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
}
static void w_key(pbw *w, int field, int wt) { w_varint(w, (uint64_t)field << 3 | (uint64_t)wt); }
static void w_bytes(pbw *w, int field, const void *p, size_t n) {
    w_key(w, field, 2);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_str(pbw *w, int field, const char *s) { w_bytes(w, field, s, strlen(s)); }
static void w_int(pbw *w, int field, int64_t v) {
    w_key(w, field, 0);
    w_varint(w, (uint64_t)v);
}
static void w_float(pbw *w, int field, float f) {
    w_key(w, field, 5);
    memcpy(w->b + w->n, &f, 4); // little-endian hosts only (x86-64, arm64)
    w->n += 4;
}
static void w_msg(pbw *w, int field, const pbw *m) { w_bytes(w, field, m->b, m->n); }

static void w_piece(pbw *w, const char *piece, float score, int type) {
    pbw m = {.n = 0};
    w_str(&m, 1, piece);
    w_float(&m, 2, score);
    if (type != CRVQ_PIECE_NORMAL) w_int(&m, 3, type);
    w_int(&m, 99, 12345); // unknown fields of every wire type are skipped
    w_msg(w, 1, &m);
}

// ModelProto with a 7-piece BPE vocabulary; model_type < 0 leaves the field
// out (proto default: unigram); a charsmap makes the normalizer unsupported.
static void make_model(pbw *w, int model_type, int with_charsmap, int with_unk) {
    w->n = 0;
    w_piece(w, "<unk>", 0, with_unk ? CRVQ_PIECE_UNKNOWN : CRVQ_PIECE_CONTROL);
    w_piece(w, "<s>", 0, CRVQ_PIECE_CONTROL);
    w_piece(w, "</s>", 0, CRVQ_PIECE_CONTROL);
    w_piece(w, U2581, -3, CRVQ_PIECE_NORMAL);
    w_piece(w, "a", -4, CRVQ_PIECE_NORMAL);
    w_piece(w, "b", -5, CRVQ_PIECE_NORMAL);
    w_piece(w, "ab", -1, CRVQ_PIECE_NORMAL);
    pbw ts = {.n = 0};
    w_str(&ts, 1, "input.txt");
    if (model_type >= 0) w_int(&ts, 3, model_type);
    w_int(&ts, 4, 7);
    w_int(&ts, 35, 0);
    w_int(&ts, 40, 0);
    w_int(&ts, 41, 1);
    w_int(&ts, 42, 2);
    w_int(&ts, 43, -1);
    w_key(&ts, 98, 1); // fixed64
    for (int i = 0; i < 8; i++) ts.b[ts.n++] = (uint8_t)i;
    w_str(&ts, 44, " ?? ");
    w_msg(w, 2, &ts);
    pbw ns = {.n = 0};
    w_str(&ns, 1, with_charsmap ? "nmt_nfkc" : "identity");
    if (with_charsmap) w_bytes(&ns, 2, "\x01\x02\x03\x04", 4);
    w_int(&ns, 3, 1);
    w_int(&ns, 4, 0);
    w_int(&ns, 5, 1);
    w_msg(w, 3, &ns);
    w_str(w, 4, "self test data (skipped)");
}

static crvq_status parse_copy(const uint8_t *data, size_t n, int llama2c, crvq_tokenizer **t) {
    // An exact-size heap copy, so that ASan sees any read past the end.
    uint8_t *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, data, n);
    crvq_status st = llama2c ? crvq_llama2c_tok_parse(copy, n, "trunc.bin", t)
                             : crvq_sp_model_parse(copy, n, "trunc.model", t);
    free(copy);
    return st;
}

// Every prefix of a file must either load or fail with FORMAT naming it.
static void check_truncations(const uint8_t *data, size_t size, int llama2c, size_t step) {
    const char *name = llama2c ? "trunc.bin" : "trunc.model";
    int bad = 0;
    for (size_t k = 0; k < size; k = (k < 64 || size - k < 64) ? k + 1 : k + step) {
        crvq_tokenizer *t = NULL;
        crvq_status st = parse_copy(data, k, llama2c, &t);
        int ok = (st == CRVQ_OK && t) || ((st == CRVQ_ERR_FORMAT || st == CRVQ_ERR_UNSUPPORTED) && !t &&
                                           strstr(crvq_last_error(), name));
        if (!ok && bad++ < 5) fprintf(stderr, "  prefix of %zu bytes: status %d: %s\n", k, (int)st, crvq_last_error());
        if (t) {
            int *ids = NULL;
            size_t n = 0;
            if (crvq_tokenize(t, "ab ab\n", 6, 1, &ids, &n) == CRVQ_OK) free(ids);
        }
        crvq_tokenizer_free(t);
    }
    CHECK_MSG(bad == 0, "%d truncated %s files not handled cleanly", bad, name);
}

static void check_parse_error(const uint8_t *data, size_t n, crvq_status want, const char *what) {
    crvq_tokenizer *t = NULL;
    crvq_status st = parse_copy(data, n, 0, &t);
    CHECK_MSG(st == want && !t && strstr(crvq_last_error(), "trunc.model"), "%s: status %d (%s)", what, (int)st,
              crvq_last_error());
    crvq_tokenizer_free(t);
}

// ------------------------------------------------------- synthetic vocabs ---

static void test_bpe_rules(void) {
    const char *p[] = {"<unk>", "<s>", "</s>", U2581, "a", "b", "c", "ab", "bc", "abc", U2581 "a", "aa"};
    const float s[] = {0, 0, 0, 0, 0, 0, 0, -2, -1, -3, -4, -0.5f};
    crvq_tokenizer *t = synth(p, 12, s, NULL, 1, 2, 0, 0, 0);
    if (!t) return;
    CHECK(crvq_tokenizer_n_vocab(t) == 12 && crvq_tokenizer_bos(t) == 1 && crvq_tokenizer_eos(t) == 2);
    CHECK_IDS(t, "ab", 0, 7);
    CHECK_IDS(t, "abc", 0, 9);     // bc (-1) before ab (-2), then a+bc = abc
    CHECK_IDS(t, "aaa", 0, 11, 4); // equal scores: the leftmost pair first
    CHECK_IDS(t, "aaaa", 0, 11, 11);
    CHECK_IDS(t, "abd", 1, 1, 7, 0);         // d is not in the vocabulary, no byte pieces: unk
    CHECK_IDS(t, "xyabzz", 0, 0, 7, 0);      // a run of unknown characters is one unk
    CHECK_IDS(t, "\xe2\x82", 0, 0);          // so are two invalid bytes (two U+FFFD)
    CHECK_IDS_N(t, "", 0, 1, 1);     // BOS only
    CHECK_IDS(t, "a b", 0, 4, 3, 5); // no dummy prefix
    crvq_tokenizer_free(t);

    t = synth(p, 12, s, NULL, 1, 2, 0, 1, 0);
    CHECK_IDS(t, "a b", 0, 10, 3, 5); // "▁a▁b"
    CHECK_IDS(t, " ", 0, 3, 3);       // spaces are kept (no remove_extra_whitespaces)
    CHECK_NO_IDS(t, "");
    crvq_tokenizer_free(t);

    // No unk and no byte pieces: an unknown character is an error, not a guess.
    const char *q[] = {"a", "b"};
    t = synth(q, 2, NULL, NULL, -1, -1, -1, 0, 0);
    int *ids = NULL;
    size_t n = 0;
    CHECK(crvq_tokenize(t, "abz", 3, 1, &ids, &n) == CRVQ_ERR_INVALID && !ids);
    CHECK(crvq_tokenize(t, "ab", 2, 1, &ids, &n) == CRVQ_OK && n == 2 && ids[0] == 0 && ids[1] == 1); // no BOS to add
    free(ids);
    crvq_tokenizer_free(t);
}

static void test_byte_fallback(void) {
    static char names[256][8];
    const char *p[262];
    p[0] = "<unk>", p[1] = "<s>", p[2] = "</s>";
    for (int b = 0; b < 256; b++) {
        snprintf(names[b], sizeof names[b], "<0x%02X>", b);
        p[3 + b] = names[b];
    }
    p[259] = "a", p[260] = "b", p[261] = "ab";
    float s[262] = {0};
    s[261] = -1;
    crvq_tokenizer *t = synth(p, 262, s, NULL, 1, 2, 0, 0, 1);
    if (!t) return;
    CHECK_IDS(t, "abd", 0, 261, 3 + 'd');
    CHECK_IDS(t, "\xc3\xa9", 0, 3 + 0xc3, 3 + 0xa9);                           // é: its UTF-8 bytes
    CHECK_IDS(t, "ab\nab", 0, 261, 3 + '\n', 261);                             // a stretch boundary
    CHECK_IDS(t, "a\xff", 0, 259, 3 + 0xef, 3 + 0xbf, 3 + 0xbd);               // invalid byte -> U+FFFD
    CHECK_IDS(t, "\xe2\x82", 0, 3 + 0xef, 3 + 0xbf, 3 + 0xbd, 3 + 0xef, 3 + 0xbf, 3 + 0xbd); // one per byte
    CHECK_IDS_N(t, "a\0b", 3, 0, 259, 3, 260);                                 // NUL is a character

    char buf[16];
    CHECK(crvq_detokenize(t, 259, 3 + 0xA9, buf, sizeof buf) == 1 && (uint8_t)buf[0] == 0xA9);
    CHECK(crvq_detokenize(t, -1, 1, buf, sizeof buf) == 0); // control: nothing
    CHECK(crvq_detokenize(t, -1, 0, buf, sizeof buf) == 5 && memcmp(buf, " \xe2\x81\x87 ", 5) == 0); // unk
    CHECK(crvq_detokenize(t, -1, 262, buf, sizeof buf) == 0 && crvq_detokenize(t, -1, -5, buf, sizeof buf) == 0);
    crvq_tokenizer_free(t);
}

static void test_types(void) {
    // Types inferred from the pieces when none are given.
    const char *p[] = {"<unk>", "<s>", "</s>", "<0x41>", "x"};
    crvq_tokenizer *t = synth(p, 5, NULL, NULL, 1, 2, 0, 0, 1);
    if (!t) return;
    CHECK_IDS(t, "xAx", 0, 4, 3, 4);
    char buf[8];
    CHECK(crvq_detokenize(t, 4, 3, buf, sizeof buf) == 1 && buf[0] == 'A');
    crvq_tokenizer_free(t);

    // A user-defined piece is matched first and never merged: "ab" stays one
    // symbol although bc scores higher.
    const char *u[] = {"<unk>", "a", "b", "c", "ab", "bc", "<sep>"};
    const float us[] = {0, 0, 0, 0, 0, -1, 0};
    const int ut[] = {2, 1, 1, 1, 4, 1, 4};
    t = synth(u, 7, us, ut, -1, -1, 0, 0, 0);
    CHECK_IDS(t, "abc", 0, 4, 3);
    CHECK_IDS(t, "bc<sep>bc", 0, 5, 6, 5);
    CHECK_IDS(t, "b<sep", 0, 2, 0); // no match: "<sep" is one unknown run
    crvq_tokenizer_free(t);

    // Unused pieces may be formed by merges but are split back into the pair
    // that formed them (SentencePiece's resegmentation).
    const char *v[] = {"<unk>", "a", "b", "c", "ab", "abc"};
    const float vs[] = {0, 0, 0, 0, 0, -1};
    const int vt[] = {2, 1, 1, 1, 5, 1};
    t = synth(v, 6, vs, vt, -1, -1, 0, 0, 0);
    CHECK_IDS(t, "abc", 0, 5);
    CHECK_IDS(t, "ab", 0, 1, 2);
    CHECK_IDS(t, "abab", 0, 1, 2, 1, 2);
    crvq_tokenizer_free(t);
}

static void test_bad_vocab(void) {
    const char *p[] = {"<unk>", "a", "b", "a"};
    size_t lens[] = {5, 1, 1, 1};
    crvq_tokenizer *t = NULL;
    crvq_vocab_spec spec = {4, p, lens, NULL, NULL, -1, -1, 0, 0, 0};
    CHECK(crvq_tokenizer_from_vocab(&spec, "dup.gguf", &t) == CRVQ_ERR_FORMAT && !t &&
          strstr(crvq_last_error(), "dup.gguf") && strstr(crvq_last_error(), "repeats"));
    spec.n = 3;
    spec.bos_id = 3;
    CHECK(crvq_tokenizer_from_vocab(&spec, "bos.gguf", &t) == CRVQ_ERR_FORMAT && !t);
    spec.bos_id = -1;
    lens[1] = 0;
    CHECK(crvq_tokenizer_from_vocab(&spec, "empty.gguf", &t) == CRVQ_ERR_FORMAT && !t);
    lens[1] = 1;
    float nan_scores[3] = {0, NAN, 0};
    spec.scores = nan_scores;
    CHECK(crvq_tokenizer_from_vocab(&spec, "nan.gguf", &t) == CRVQ_ERR_FORMAT && !t);
    spec.scores = NULL;
    int types[3] = {2, 1, 9};
    spec.types = types;
    CHECK(crvq_tokenizer_from_vocab(&spec, "type.gguf", &t) == CRVQ_ERR_FORMAT && !t);
    spec.types = NULL;
    spec.n = 0;
    CHECK(crvq_tokenizer_from_vocab(&spec, "none.gguf", &t) == CRVQ_ERR_FORMAT && !t);
    spec.n = 3;
    CHECK(crvq_tokenizer_from_vocab(&spec, "ok.gguf", &t) == CRVQ_OK && t);
    crvq_tokenizer_free(t);
}

// ------------------------------------------------------------- protobuf ---

static void test_protobuf(void) {
    pbw w;
    make_model(&w, 2, 0, 1);
    crvq_tokenizer *t = NULL;
    CHECK_MSG(crvq_sp_model_parse(w.b, w.n, "synthetic.model", &t) == CRVQ_OK, "%s", crvq_last_error());
    if (t) {
        CHECK_IDS(t, "ab a", 1, 1, 3, 6, 3, 4);
        char buf[16];
        CHECK(crvq_detokenize(t, 3, 0, buf, sizeof buf) == 4 && memcmp(buf, " ?? ", 4) == 0); // unk_surface
        crvq_tokenizer_free(t);
    }
    check_truncations(w.b, w.n, 0, 1);

    // No model_type: unigram by proto default. Best path for "▁ab▁a":
    // ▁ ab ▁ a (-11) beats ▁ a b ▁ a (-19); "▁c": c is unknown (-5 - 10).
    make_model(&w, -1, 0, 1);
    CHECK_MSG(crvq_sp_model_parse(w.b, w.n, "unigram.model", &t) == CRVQ_OK, "%s", crvq_last_error());
    if (t) {
        CHECK_IDS(t, "ab a", 0, 3, 6, 3, 4);
        CHECK_IDS(t, "cc ab", 0, 3, 0, 3, 6); // a run of unknown characters is one unk
        crvq_tokenizer_free(t);
    }
    check_truncations(w.b, w.n, 0, 1);
    make_model(&w, 3, 0, 1);
    check_parse_error(w.b, w.n, CRVQ_ERR_UNSUPPORTED, "word model");
    make_model(&w, 2, 1, 1);
    check_parse_error(w.b, w.n, CRVQ_ERR_UNSUPPORTED, "charsmap");
    CHECK(strstr(crvq_last_error(), "nmt_nfkc") != NULL);
    make_model(&w, 2, 0, 0);
    check_parse_error(w.b, w.n, CRVQ_ERR_FORMAT, "no unk piece");

    static const uint8_t long_varint[] = {0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
    check_parse_error(long_varint, sizeof long_varint, CRVQ_ERR_FORMAT, "11-byte varint");
    static const uint8_t huge_len[] = {0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x0A};
    check_parse_error(huge_len, sizeof huge_len, CRVQ_ERR_FORMAT, "length near 2^63");
    static const uint8_t past_end[] = {0x0A, 0x05, 0x0A, 0x01, 0x61};
    check_parse_error(past_end, sizeof past_end, CRVQ_ERR_FORMAT, "length past the end");
    static const uint8_t inner_past_end[] = {0x0A, 0x03, 0x0A, 0x05, 0x61};
    check_parse_error(inner_past_end, sizeof inner_past_end, CRVQ_ERR_FORMAT, "inner length past its message");
    static const uint8_t field0[] = {0x00, 0x01};
    check_parse_error(field0, sizeof field0, CRVQ_ERR_FORMAT, "field 0");
    static const uint8_t group[] = {0x0B, 0x0C};
    check_parse_error(group, sizeof group, CRVQ_ERR_FORMAT, "group wire type");
    static const uint8_t wrong_wt[] = {0x08, 0x01};
    check_parse_error(wrong_wt, sizeof wrong_wt, CRVQ_ERR_FORMAT, "pieces as a varint");
    static const uint8_t bad_type[] = {0x0A, 0x05, 0x0A, 0x01, 0x61, 0x18, 0x07};
    check_parse_error(bad_type, sizeof bad_type, CRVQ_ERR_FORMAT, "piece type 7");
    static const uint8_t no_text[] = {0x0A, 0x02, 0x18, 0x01};
    check_parse_error(no_text, sizeof no_text, CRVQ_ERR_FORMAT, "piece without text");
    check_parse_error(NULL, 0, CRVQ_ERR_FORMAT, "empty file");

    // Through a file: errors name the path.
    char path[] = "/tmp/crvq-test-tok-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        make_model(&w, 2, 0, 1);
        CHECK(write(fd, w.b, w.n / 2) == (ssize_t)(w.n / 2));
        close(fd);
        CHECK(crvq_tokenizer_load(path, &t) == CRVQ_ERR_FORMAT && !t && strstr(crvq_last_error(), path));
        unlink(path);
    }
    CHECK(crvq_tokenizer_load("/nonexistent/tokenizer.model", &t) == CRVQ_ERR_IO && !t &&
          strstr(crvq_last_error(), "/nonexistent/tokenizer.model"));
}

// ----------------------------------------------------- shared tokenizers ---

static crvq_tokenizer *load_shared(const char *rel) {
    crvq_tokenizer *t = NULL;
    crvq_status st = crvq_tokenizer_load(check_shared(rel), &t);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    return t;
}

static const char *round_trip_texts[] = {
    "Hello world",
    " leading space",
    "  two leading spaces and trailing  ",
    "\n\nnew\nlines\n",
    "tabs\tand\r\ncarriage returns",
    "digits 1234567890 3.14159",
    "caf\xc3\xa9 na\xc3\xafve \xc3\xbc" "ber",
    "e\xcc\x81 combining marks a\xcc\x88",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe4\xb8\xad\xe6\x96\x87",
    "emoji \xf0\x9f\x98\x80\xf0\x9f\x9a\x80",
    "<s> </s> <unk> <0x41> look like pieces",
    "",
};

static void test_shared(void) {
    crvq_tokenizer *l2 = load_shared("models/llama2-tokenizer/tokenizer.model");
    crvq_tokenizer *l2bin = load_shared("models/llama2-tokenizer/tokenizer.bin");
    crvq_tokenizer *pg = load_shared("models/pg-dev/tokenizer.model");
    crvq_tokenizer *t512 = load_shared("models/stories260K/tok512.bin");
    if (!l2 || !l2bin || !pg || !t512) goto done;
    CHECK(crvq_tokenizer_n_vocab(l2) == 32000 && crvq_tokenizer_n_vocab(l2bin) == 32000);
    CHECK(crvq_tokenizer_n_vocab(pg) == 8192 && crvq_tokenizer_n_vocab(t512) == 512);
    CHECK(crvq_tokenizer_bos(t512) == 1 && crvq_tokenizer_eos(t512) == 2);

    // Expected ids: python3-sentencepiece 0.1.97, encode(bytes) of each text.
    crvq_tokenizer *both[2] = {l2, l2bin};
    for (int k = 0; k < 2; k++) {
        crvq_tokenizer *t = both[k];
        CHECK_NO_IDS(t, "");
        CHECK_IDS(t, " ", 0, 259);
        CHECK_IDS(t, "   ", 0, 268);
        CHECK_IDS(t, "\n", 0, 29871, 13);
        CHECK_IDS(t, "\n\n", 0, 29871, 13, 13);
        CHECK_IDS(t, " a", 0, 29871, 263);
        CHECK_IDS(t, "  a  b  ", 0, 259, 263, 29871, 289, 259);
        CHECK_IDS(t, "Hello world", 1, 1, 15043, 3186);
        CHECK_IDS(t, "\t", 0, 29871, 12);
        CHECK_IDS(t, "12345", 0, 29871, 29896, 29906, 29941, 29946, 29945);
        CHECK_IDS(t, "e\xcc\x81", 0, 321, 30103);
        CHECK_IDS(t, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0, 29871, 30325, 30346, 30968);
        CHECK_IDS(t, "\xf0\x9f\x98\x80", 0, 29871, 243, 162, 155, 131);
        CHECK_IDS(t, "a b\n c", 0, 263, 289, 13, 274);
    }
    CHECK_IDS(l2, "a\xff" "b", 0, 263, 30140, 29890); // U+FFFD is a LLaMA piece
    CHECK_IDS(l2, "\xe2\x82", 0, 29871, 26308);        // two U+FFFD
    CHECK_IDS_N(l2, "x\0y", 3, 0, 921, 3, 29891);

    CHECK_IDS(pg, " ", 0, 272);
    CHECK_IDS(pg, "  a  b  ", 0, 272, 261, 272, 8125, 272);
    CHECK_IDS(pg, "Hello world", 0, 7044, 8108, 937);
    CHECK_IDS(pg, "a\xff" "b", 0, 261, 242, 194, 192, 8125);
    CHECK_IDS(pg, "3.14159 and 2024", 0, 8104, 8174, 8126, 8163, 8177, 8163, 8176, 8182, 284, 8104, 8168, 8170,
              8168, 8177);
    CHECK_IDS(pg, "e\xcc\x81", 0, 312, 207, 132);

    // A very long word: 5000 x 'a' is 1252 LLaMA pieces, 5000 pg-dev ones.
    char *as = malloc(5000);
    memset(as, 'a', 5000);
    int *ids = NULL;
    size_t n = 0;
    CHECK(crvq_tokenize(l2, as, 5000, 0, &ids, &n) == CRVQ_OK && n == 1252 && ids[0] == 263 && ids[1] == 27137 &&
          ids[1250] == 7340 && ids[1251] == 29874);
    free(ids);
    CHECK(crvq_tokenize(pg, as, 5000, 0, &ids, &n) == CRVQ_OK && n == 5000 && ids[0] == 261 && ids[4999] == 8107);
    free(ids);
    free(as);

    // Decoding: the dummy prefix goes, other spaces stay.
    char buf[64];
    CHECK(crvq_detokenize(l2, 1, 15043, buf, sizeof buf) == 5 && memcmp(buf, "Hello", 5) == 0);
    CHECK(crvq_detokenize(l2, 15043, 3186, buf, sizeof buf) == 6 && memcmp(buf, " world", 6) == 0);
    CHECK(crvq_detokenize(l2, 15043, 3186, buf, 2) == 2 && memcmp(buf, " w", 2) == 0); // truncated to cap
    CHECK(crvq_detokenize(l2, 15043, 13, buf, sizeof buf) == 1 && buf[0] == '\n');
    CHECK(crvq_detokenize(l2, 15043, 2, buf, sizeof buf) == 0);

    // A literal U+2581 in the text is a space once escaped; SentencePiece's
    // decode(encode("\u2581 a")) is "  a" as well.
    int *wids = NULL;
    size_t nw = 0;
    CHECK(crvq_tokenize(l2, U2581 " a", 5, 1, &wids, &nw) == CRVQ_OK);
    CHECK(decode(l2, wids, nw, buf, sizeof buf) == 3 && memcmp(buf, "  a", 3) == 0);
    free(wids);

    // Round trips (all four have byte fallback), BOS in front.
    crvq_tokenizer *all[4] = {l2, l2bin, pg, t512};
    const char *names[4] = {"llama2.model", "llama2.bin", "pg-dev", "tok512"};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < sizeof round_trip_texts / sizeof *round_trip_texts; i++)
            check_round_trip(all[k], names[k], round_trip_texts[i], strlen(round_trip_texts[i]));
    char *text = NULL;
    size_t len = 0;
    if (crvq_read_file(check_shared("data/tinystories-val-1k.txt"), &text, &len) == CRVQ_OK) {
        size_t cut = len < 50000 ? len : 50000;
        while (cut > 0 && text[cut] != '\n') cut--; // a character boundary
        for (int k = 0; k < 4; k++) check_round_trip(all[k], names[k], text, cut);
        free(text);
    }

    // Truncated real files: the llama2.c one at every offset, the protobuf
    // one (131 KB) at its ends and every 457th byte between.
    crvq_mapfile f;
    if (crvq_mapfile_open(check_shared("models/stories260K/tok512.bin"), &f) == CRVQ_OK) {
        check_truncations(f.data, f.size, 1, 1);
        crvq_mapfile_close(&f);
    }
    if (crvq_mapfile_open(check_shared("models/pg-dev/tokenizer.model"), &f) == CRVQ_OK) {
        check_truncations(f.data, f.size, 0, 457);
        crvq_mapfile_close(&f);
    }
done:
    crvq_tokenizer_free(l2);
    crvq_tokenizer_free(l2bin);
    crvq_tokenizer_free(pg);
    crvq_tokenizer_free(t512);
}

int main(void) {
    test_bpe_rules();
    test_byte_fallback();
    test_types();
    test_bad_vocab();
    test_protobuf();
    // The shared part may skip (exit 77): report failures so far first.
    if (check_failures) return check_done();
    test_shared();
    return check_done();
}
