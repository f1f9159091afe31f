// test_tokenizer_json.c — byte-level BPE from Hugging Face tokenizer.json
// and GGUF "gpt2" vocabularies.
//
// Synthetic: tiny tokenizer.json files written here (both merges layouts,
// merge ranks, ignore_merges, added tokens with lstrip/rstrip/normalized, NFC,
// the three pre-tokenizer regexes, decoding), refusals (unknown regex,
// unsupported parts, malformed JSON at every truncation), and GGUF: a
// llama.cpp-style gpt2 vocabulary written here, and the tokenizer written to
// GGUF and read back.
// Shared: the Llama 3 and Qwen3 tokenizer.json files against the references
// of ../shared/data/tokenizer-refs (made with tokenizers.js): every text
// file's id count, first and last ids and sha256, and the 30 edge cases.
#include "buf_util.h"
#include "check.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "io/json.h"
#include "io/mapfile.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

#include <stdarg.h>
#include <unistd.h>

// ------------------------------------------------------------ builders ---

static void puts_(test_buf *b, const char *s) { test_put(b, s, strlen(s)); }

// GPT-2's bytes_to_unicode as its paper-era code states it: the printable
// bytes keep their code, the rest get 256, 257, ... in byte order.
static uint32_t byte_char(int b) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (printable) return (uint32_t)b;
    uint32_t n = 0;
    for (int c = 0; c < b; c++) n += !((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF));
    return 256 + n;
}

// The byte-level form of raw bytes as a JSON string body.
static void put_mapped(test_buf *b, const char *raw, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = byte_char((uint8_t)raw[i]);
        if (c == '"' || c == '\\') test_putf(b, "\\%c", (char)c);
        else if (c < 0x80) test_putf(b, "%c", (char)c);
        else test_putf(b, "%c%c", (char)(0xC0 | c >> 6), (char)(0x80 | (c & 63)));
    }
}

enum { N_BYTES = 256 };
// The vocabulary: the 256 bytes (ids 0..255, id = byte), then these.
static const char *const extra[] = {"he", "ll", "hell", "hello", " w", "or", " wor", " worl", " world",
                                    "ab", "bc", "abc", "\xc3\xa9", "  ", "xyz"};
enum { N_EXTRA = sizeof extra / sizeof *extra };
// Merges in rank order (every result is a piece; "xyz" is not reachable by merges).
static const char *const merges[][2] = {
    {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"}, {"o", "r"}, {" w", "or"},
    {" wor", "l"}, {" worl", "d"}, {"a", "b"}, {"b", "c"}, {"ab", "c"}, {"\xc3", "\xa9"}, {" ", " "},
};
enum { N_MERGES = sizeof merges / sizeof *merges };

static int id_of(const char *s) {
    if (strlen(s) == 1) return (uint8_t)s[0];
    for (int i = 0; i < N_EXTRA; i++)
        if (strcmp(extra[i], s) == 0) return N_BYTES + i;
    return -1;
}

typedef struct {
    const char *normalizer;  // JSON (NULL: null)
    const char *pre;         // JSON (NULL: Llama 3's Split + ByteLevel)
    const char *added;       // JSON list (NULL: [])
    const char *decoder;     // JSON (NULL: ByteLevel)
    const char *model_type;  // NULL: "BPE"
    const char *model_extra; // more fields of "model", each after a ','
    const char *vocab_extra; // more vocabulary entries, each after a ','
    const char *merge_extra; // one more merge entry, raw JSON
    const char *post;        // post_processor JSON (NULL: null)
    int pairs;               // merges as ["a", "b"] (else "a b")
    int reverse;             // merges in reverse rank order
} spec;

// Llama 3's pre_tokenizer JSON with another regex (one buffer per regex).
static const char *pre_split(const char *re) {
    static struct {
        const char *re;
        char json[1024];
    } slot[8];
    int k = 0;
    while (k < 7 && slot[k].re && slot[k].re != re) k++;
    if (slot[k].re == re) return slot[k].json;
    test_buf b = {0};
    puts_(&b, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"");
    for (const char *p = re; *p; p++) {
        if (*p == '\\' || *p == '"') test_put(&b, "\\", 1);
        test_put(&b, p, 1);
    }
    puts_(&b, "\"},\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
              "\"trim_offsets\":true,\"use_regex\":false}]}");
    slot[k].re = re;
    snprintf(slot[k].json, sizeof slot[k].json, "%s", b.p);
    free(b.p);
    return slot[k].json;
}

static char *make_json(const spec *s) {
    test_buf b = {0};
    test_putf(&b, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":%s,",
              s->added ? s->added : "[]");
    test_putf(&b, "\"normalizer\":%s,\"pre_tokenizer\":%s,\"post_processor\":%s,\"decoder\":%s,",
              s->normalizer ? s->normalizer : "null", s->pre ? s->pre : pre_split(crvq_pretok_regex_llama3),
              s->post ? s->post : "null",
              s->decoder ? s->decoder : "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true}");
    test_putf(&b, "\"model\":{\"type\":\"%s\",\"dropout\":null,\"unk_token\":null,\"vocab\":{",
              s->model_type ? s->model_type : "BPE");
    for (int i = 0; i < N_BYTES + N_EXTRA; i++) {
        char c = (char)i;
        puts_(&b, i ? ",\"" : "\"");
        if (i < N_BYTES) put_mapped(&b, &c, 1);
        else put_mapped(&b, extra[i - N_BYTES], strlen(extra[i - N_BYTES]));
        test_putf(&b, "\":%d", i);
    }
    if (s->vocab_extra) test_putf(&b, ",%s", s->vocab_extra);
    puts_(&b, "},\"merges\":[");
    for (int k = 0; k < N_MERGES; k++) {
        int r = s->reverse ? N_MERGES - 1 - k : k;
        puts_(&b, k ? "," : "");
        puts_(&b, s->pairs ? "[\"" : "\"");
        put_mapped(&b, merges[r][0], strlen(merges[r][0]));
        puts_(&b, s->pairs ? "\",\"" : " ");
        put_mapped(&b, merges[r][1], strlen(merges[r][1]));
        puts_(&b, s->pairs ? "\"]" : "\"");
    }
    if (s->merge_extra) test_putf(&b, ",%s", s->merge_extra);
    test_putf(&b, "]%s%s}}", s->model_extra ? "," : "", s->model_extra ? s->model_extra : "");
    return b.p;
}

static crvq_tokenizer *load_spec(const spec *s) {
    char *json = make_json(s);
    crvq_tokenizer *t = NULL;
    crvq_status st = crvq_tokenizer_from_json(json, strlen(json), "synthetic.json", &t);
    CHECK_MSG(st == CRVQ_OK, "%s", crvq_last_error());
    free(json);
    return t;
}

// The error a spec gives: its status, and the message must contain `needle`.
static void check_refused_at(int line, const spec *s, crvq_status want, const char *needle) {
    char *json = make_json(s);
    crvq_tokenizer *t = NULL;
    crvq_status st = crvq_tokenizer_from_json(json, strlen(json), "synthetic.json", &t);
    CHECK_MSG(st == want && !t && strstr(crvq_last_error(), needle) && strstr(crvq_last_error(), "synthetic.json"),
              "line %d: status %d, message \"%s\" (want %d with \"%s\")", line, (int)st, crvq_last_error(), (int)want,
              needle);
    crvq_tokenizer_free(t);
    free(json);
}
#define CHECK_REFUSED(st, needle, ...) check_refused_at(__LINE__, &(spec){__VA_ARGS__}, st, needle)

static void check_ids_at(int line, const crvq_tokenizer *t, const char *text, size_t len, const int *want) {
    int *ids = NULL;
    size_t n = 0, nw = 0;
    crvq_status st = crvq_tokenize(t, text, len, 0, &ids, &n);
    while (want[nw] != -100) nw++;
    int ok = st == CRVQ_OK && n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    CHECK_MSG(ok, "line %d: '%.*s': status %d (%s), %zu ids, want %zu", line, (int)len, text, (int)st,
              crvq_last_error(), n, nw);
    if (!ok && st == CRVQ_OK) {
        fprintf(stderr, "  got :");
        for (size_t i = 0; i < n && i < 24; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
}
#define CHECK_IDS(t, text, ...) check_ids_at(__LINE__, t, text, strlen(text), (const int[]){__VA_ARGS__, -100})
#define ID(s) id_of(s)

// Bytes of the ids decoded one after the other.
static size_t decode(const crvq_tokenizer *t, const int *ids, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += crvq_detokenize(t, i ? ids[i - 1] : -1, ids[i], buf + o, cap - o);
    return o;
}

// ----------------------------------------------------------- splitters ---

// The pieces a splitter cuts text into, joined by '|'.
static void check_split_at(int line, size_t (*split)(const uint8_t *, size_t, size_t), const char *text,
                           const char *want) {
    char got[512];
    size_t o = 0, n = strlen(text);
    for (size_t i = 0, j; i < n; i = j) {
        j = split((const uint8_t *)text, n, i);
        if (j <= i || j > n) {
            CHECK_MSG(0, "line %d: splitter returned %zu at %zu", line, j, i);
            return;
        }
        if (i) got[o++] = '|';
        memcpy(got + o, text + i, j - i);
        o += j - i;
    }
    got[o] = 0;
    CHECK_MSG(strcmp(got, want) == 0, "line %d: '%s' split as '%s', want '%s'", line, text, got, want);
}
#define CHECK_SPLIT(f, text, want) check_split_at(__LINE__, f, text, want)

static void test_splitters(void) {
    size_t (*l3)(const uint8_t *, size_t, size_t) = crvq_pretok_llama3;
    CHECK_SPLIT(l3, "Hello world", "Hello| world");
    CHECK_SPLIT(l3, "It's I'D we'LL", "It|'s| I|'D| we|'LL");
    CHECK_SPLIT(l3, "1234567 x", "123|456|7| x");
    CHECK_SPLIT(l3, "a  b", "a| | b");                 // \s+(?!\S) leaves one space for " b"
    CHECK_SPLIT(l3, "a   ", "a|   ");                  // at the end the run stays whole
    CHECK_SPLIT(l3, "x\n\n\ny", "x|\n\n\n|y");
    CHECK_SPLIT(l3, "x \n \ny", "x| \n \n|y");           // \s*[\r\n]+ ends at the last newline
    CHECK_SPLIT(l3, "x \n  y", "x| \n| | y");
    CHECK_SPLIT(l3, "(hi) ...\n\nok", "(hi|)| ...\n\n|ok"); // punctuation takes following newlines
    CHECK_SPLIT(l3, "\tab\tcd", "\tab|\tcd");
    CHECK_SPLIT(l3, "\xc2\xa0" "b\xe2\x80\x89" "c", "\xc2\xa0" "b|\xe2\x80\x89" "c"); // NBSP, thin space
    CHECK_SPLIT(l3, "\xe6\x97\xa5\xe6\x9c\xac 12", "\xe6\x97\xa5\xe6\x9c\xac| |12");
    CHECK_SPLIT(l3, "e\xcc\x81x", "e|\xcc\x81x");       // a combining mark is not \p{L}: it leads "x"
    CHECK_SPLIT(l3, "e\xcc\x81 x", "e|\xcc\x81| x");
    CHECK_SPLIT(l3, "a\xffz", "a|\xffz");              // a stray byte: one character of no class
    CHECK_SPLIT(l3, "'", "'");
    CHECK_SPLIT(crvq_pretok_qwen2, "1234 x's", "1|2|3|4| x|'s");
    size_t (*g2)(const uint8_t *, size_t, size_t) = crvq_pretok_gpt2;
    CHECK_SPLIT(g2, "Hello world's 123!! ok", "Hello| world|'s| 123|!!| ok");
    CHECK_SPLIT(g2, "It'S  x", "It|'|S| | x");          // case-sensitive contractions
    CHECK_SPLIT(g2, "a \n b", "a| \n| b");
    CHECK_SPLIT(g2, "x12ab", "x|12|ab");
}

// ------------------------------------------------------------ encoding ---

static void test_encoding(void) {
    crvq_tokenizer *t = load_spec(&(spec){0});
    crvq_tokenizer *tp = load_spec(&(spec){.pairs = 1});
    if (!t || !tp) return;
    CHECK(crvq_tokenizer_n_vocab(t) == N_BYTES + N_EXTRA && crvq_tokenizer_bos(t) == -1);
    CHECK_IDS(t, "hello world", ID("hello"), ID(" world"));
    CHECK_IDS(t, "abc", ID("abc"));
    CHECK_IDS(t, "hell", ID("hell"));
    CHECK_IDS(t, "\xc3\xa9t\xc3\xa9", ID("\xc3\xa9"), 't', ID("\xc3\xa9"));
    CHECK_IDS(t, "xyz", 'x', 'y', 'z'); // no merges make it
    CHECK_IDS(t, "   hello", ID("  "), ' ', ID("hello"));
    check_ids_at(__LINE__, t, "", 0, (const int[]){-100});
    // Both merges layouts are the same tokenizer.
    const char *texts[] = {"hello world", "abc hello  worlds", "\xc3\xa9\xc3\xa9 ab bc", "ll lll llll"};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
        int *a, *b;
        size_t na, nb;
        CHECK(crvq_tokenize(t, texts[k], strlen(texts[k]), 0, &a, &na) == CRVQ_OK);
        CHECK(crvq_tokenize(tp, texts[k], strlen(texts[k]), 0, &b, &nb) == CRVQ_OK);
        CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0);
        free(a);
        free(b);
    }
    CHECK_IDS(t, "lll", ID("ll"), 'l'); // leftmost first among equal ranks
    crvq_tokenizer_free(tp);

    // Ranks decide: with the merges reversed, b+c comes before a+b.
    crvq_tokenizer *tr = load_spec(&(spec){.reverse = 1});
    if (tr) CHECK_IDS(tr, "abc", 'a', ID("bc"));
    crvq_tokenizer_free(tr);

    // ignore_merges: a word that is a piece is that piece.
    crvq_tokenizer *ti = load_spec(&(spec){.model_extra = "\"ignore_merges\":true"});
    if (ti) {
        CHECK_IDS(ti, "xyz", ID("xyz"));
        CHECK_IDS(ti, "xyzw", 'x', 'y', 'z', 'w');
    }
    crvq_tokenizer_free(ti);

    // Round trip: any bytes (not UTF-8 too) decode back to themselves.
    static const char pool[] = "abcdehlorwxyz \n\t.!'\xc3\xa9\xcc\x81\xff\x80\xe6\x97\xa5";
    uint64_t rng = 12345;
    char text[64], back[256];
    int bad = 0;
    for (int k = 0; k < 500; k++) {
        size_t n = 0, len = 1 + k % 40;
        for (; n < len; n++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            text[n] = pool[(rng >> 33) % (sizeof pool - 1)];
        }
        int *ids;
        size_t ni;
        if (crvq_tokenize(t, text, n, 0, &ids, &ni) != CRVQ_OK) {
            bad++;
            continue;
        }
        size_t m = decode(t, ids, ni, back, sizeof back);
        bad += m != n || memcmp(back, text, n) != 0;
        free(ids);
    }
    CHECK_MSG(bad == 0, "%d of 500 random texts did not decode to themselves", bad);
    crvq_tokenizer_free(t);
}

static void test_added_and_normalizer(void) {
    const char *added =
        "[{\"id\":300,\"content\":\"<|end|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
        "\"normalized\":false,\"special\":true},"
        "{\"id\":301,\"content\":\"<x>\",\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":false},"
        "{\"id\":302,\"content\":\"e\xcc\x81!\",\"normalized\":true,\"special\":false}]";
    crvq_tokenizer *t = load_spec(&(spec){.added = added});
    crvq_tokenizer *tn = load_spec(&(spec){.added = added, .normalizer = "{\"type\":\"NFC\"}"});
    if (!t || !tn) return;
    CHECK(crvq_tokenizer_n_vocab(t) == 303);
    CHECK_IDS(t, "a<|end|>b", 'a', 300, 'b');
    CHECK_IDS(t, "hello<|end|><|end|>", ID("hello"), 300, 300);
    CHECK_IDS(t, "a <|end|> b", 'a', ' ', 300, ' ', 'b');
    CHECK_IDS(t, "<|end", '<', '|', 'e', 'n', 'd');
    CHECK_IDS(t, "a \t <x> \n b", 'a', 301, 'b'); // lstrip and rstrip eat the whitespace beside it
    CHECK_IDS(t, "<x><x>", 301, 301);
    // normalized: without a normalizer it matches the text as it is...
    CHECK_IDS(t, "e\xcc\x81!", 302);
    CHECK_IDS(t, "\xc3\xa9!", ID("\xc3\xa9"), '!');
    // ...with NFC it matches normalized text (its content normalized too).
    CHECK_IDS(tn, "\xc3\xa9!", 302);
    CHECK_IDS(tn, "xe\xcc\x81!", 'x', 302);
    CHECK_IDS(tn, "e\xcc\x81", ID("\xc3\xa9"));
    CHECK_IDS(t, "e\xcc\x81", 'e', 0xCC, 0x81);
    // ids nothing defines are placeholders that no text produces or decodes to.
    char buf[16];
    CHECK(crvq_detokenize(t, -1, 290, buf, sizeof buf) == 0 && t->type[290] == CRVQ_PIECE_UNUSED);
    CHECK(crvq_detokenize(t, -1, 300, buf, sizeof buf) == 0); // special: nothing
    CHECK(crvq_detokenize(t, -1, 301, buf, sizeof buf) == 3 && memcmp(buf, "<x>", 3) == 0);
    CHECK(crvq_detokenize(t, -1, ID(" world"), buf, 3) == 3 && memcmp(buf, " wo", 3) == 0); // cut to cap
    crvq_tokenizer_free(t);
    crvq_tokenizer_free(tn);

    // BOS from a TemplateProcessing post-processor.
    crvq_tokenizer *tb = load_spec(&(spec){
        .added = "[{\"id\":280,\"content\":\"<s>\",\"special\":true}]",
        .post = "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
                "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[280],"
                "\"tokens\":[\"<s>\"]}}}"});
    if (tb) {
        int *ids;
        size_t n;
        CHECK(crvq_tokenizer_bos(tb) == 280);
        CHECK(crvq_tokenize(tb, "ab", 2, 1, &ids, &n) == CRVQ_OK && n == 2 && ids[0] == 280 && ids[1] == ID("ab"));
        free(ids);
        const char cfg[] = "{\"bos_token\": null, \"eos_token\": {\"content\": \"<s>\"}}";
        CHECK(crvq_tokenizer_apply_hf_config(tb, cfg, sizeof cfg - 1, "cfg") == CRVQ_OK && crvq_tokenizer_bos(tb) == -1 &&
              crvq_tokenizer_eos(tb) == 280);
        const char bad[] = "{\"bos_token\": \"<nope>\"}";
        CHECK(crvq_tokenizer_apply_hf_config(tb, bad, sizeof bad - 1, "cfg") == CRVQ_ERR_FORMAT);
    }
    crvq_tokenizer_free(tb);

    // GPT-2's ByteLevel with its own regex, and add_prefix_space.
    crvq_tokenizer *tg = load_spec(&(spec){.pre = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}"});
    crvq_tokenizer *ta = load_spec(&(spec){.pre = "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}"});
    if (tg && ta) {
        CHECK_IDS(tg, "hello world", ID("hello"), ID(" world"));
        CHECK_IDS(ta, "hello world", ' ', ID("hello"), ID(" world"));
        CHECK_IDS(ta, " hello", ' ', ID("hello"));
    }
    crvq_tokenizer_free(tg);
    crvq_tokenizer_free(ta);
}

static void test_refusals(void) {
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "regex", .pre = pre_split("\\p{L}+|\\s+"));
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "normalizer Lowercase", .normalizer = "{\"type\":\"Lowercase\"}");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "normalizer NFKC",
                  .normalizer = "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"NFKC\"}]}");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "model type WordPiece", .model_type = "WordPiece");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "decoder Metaspace", .decoder = "{\"type\":\"Metaspace\"}");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "pre_tokenizer Metaspace", .pre = "{\"type\":\"Metaspace\"}");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "use_regex", .pre = "{\"type\":\"ByteLevel\",\"use_regex\":false}");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "single_word", .added = "[{\"id\":300,\"content\":\"<a>\",\"single_word\":true}]");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "byte_fallback", .model_extra = "\"byte_fallback\":true");
    CHECK_REFUSED(CRVQ_ERR_UNSUPPORTED, "continuing_subword_prefix", .model_extra = "\"continuing_subword_prefix\":\"##\"");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "NUL", .vocab_extra = "\"a\\u0000\":400");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "duplicate key", .vocab_extra = "\"q\":400");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "not byte-level", .vocab_extra = "\"a b\":400");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "two tokens", .vocab_extra = "\"qq\":5");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "merged piece", .merge_extra = "\"x y\"");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "left part", .merge_extra = "\"xy z\"");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "one space", .merge_extra = "\"a b c\"");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "no valid id", .vocab_extra = "\"qq\":-3");
    CHECK_REFUSED(CRVQ_ERR_FORMAT, "neither", .merge_extra = "[\"a\"]");

    // Malformed JSON: every truncation of a valid file is an error, never a crash.
    char *json = make_json(&(spec){0});
    size_t n = strlen(json);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        crvq_tokenizer *t = NULL;
        crvq_status st = crvq_tokenizer_from_json(json, k, "cut.json", &t);
        bad += st == CRVQ_OK || t != NULL || !strstr(crvq_last_error(), "cut.json");
        crvq_tokenizer_free(t);
    }
    CHECK_MSG(bad == 0, "%d of %zu truncations were accepted or gave no message", bad, n);
    crvq_tokenizer *t = NULL;
    CHECK(crvq_tokenizer_from_json("[1, 2]", 6, "list.json", &t) == CRVQ_ERR_FORMAT && !t);
    CHECK(crvq_tokenizer_from_json("{}", 2, "empty.json", &t) == CRVQ_ERR_FORMAT && !t);
    free(json);
}

// ---------------------------------------------------------------- GGUF ---

static char tmpdir[] = "/tmp/crvq-tokjson.XXXXXX";

static crvq_tokenizer *gguf_round_trip(const crvq_tokenizer *t, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    crvq_gguf_writer *w;
    CHECK(crvq_gguf_writer_init(&w) == CRVQ_OK);
    CHECK(crvq_tokenizer_to_gguf(t, w) == CRVQ_OK);
    CHECK(crvq_gguf_write(w, path) == CRVQ_OK);
    crvq_gguf_writer_free(w);
    crvq_tokenizer *back = NULL;
    CHECK_MSG(crvq_tokenizer_load(path, &back) == CRVQ_OK, "%s", crvq_last_error());
    return back;
}

static int same_ids(const crvq_tokenizer *a, const crvq_tokenizer *b, const char *text, size_t len) {
    int *x, *y;
    size_t nx, ny;
    if (crvq_tokenize(a, text, len, 1, &x, &nx) != CRVQ_OK) return 0;
    if (crvq_tokenize(b, text, len, 1, &y, &ny) != CRVQ_OK) {
        free(x);
        return 0;
    }
    int same = nx == ny && memcmp(x, y, nx * sizeof *x) == 0;
    free(x);
    free(y);
    return same;
}

// A gpt2 vocabulary as llama.cpp's converter writes it: mapped tokens,
// merges "a b", token types, the pre name, nothing of crvq's.
static void write_llama_cpp_gguf(const char *path, const char *pre) {
    int n = N_BYTES + N_EXTRA + 1;
    char mapped[N_BYTES + N_EXTRA + 1][32];
    const char *toks[N_BYTES + N_EXTRA + 1], *mstr[N_MERGES];
    size_t lens[N_BYTES + N_EXTRA + 1], mlens[N_MERGES];
    int32_t types[N_BYTES + N_EXTRA + 1];
    char mbuf[N_MERGES][64];
    for (int i = 0; i < n; i++) {
        test_buf b = {0};
        char c = (char)i;
        if (i < N_BYTES) put_mapped(&b, &c, 1);
        else if (i < N_BYTES + N_EXTRA) put_mapped(&b, extra[i - N_BYTES], strlen(extra[i - N_BYTES]));
        else puts_(&b, "<|end|>");
        snprintf(mapped[i], sizeof mapped[i], "%s", b.p);
        free(b.p);
        toks[i] = mapped[i];
        lens[i] = strlen(mapped[i]);
        types[i] = i < N_BYTES + N_EXTRA ? CRVQ_PIECE_NORMAL : CRVQ_PIECE_CONTROL;
    }
    for (int r = 0; r < N_MERGES; r++) {
        test_buf b = {0};
        put_mapped(&b, merges[r][0], strlen(merges[r][0]));
        puts_(&b, " ");
        put_mapped(&b, merges[r][1], strlen(merges[r][1]));
        snprintf(mbuf[r], sizeof mbuf[r], "%s", b.p);
        free(b.p);
        mstr[r] = mbuf[r];
        mlens[r] = strlen(mbuf[r]);
    }
    crvq_gguf_writer *w;
    CHECK(crvq_gguf_writer_init(&w) == CRVQ_OK);
    crvq_gguf_set_str(w, "general.architecture", "llama");
    crvq_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre) crvq_gguf_set_str(w, "tokenizer.ggml.pre", pre);
    crvq_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, lens, (size_t)n);
    crvq_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, (size_t)n);
    crvq_gguf_set_arr_str(w, "tokenizer.ggml.merges", mstr, mlens, N_MERGES);
    crvq_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)(n - 1));
    CHECK(crvq_gguf_write(w, path) == CRVQ_OK);
    crvq_gguf_writer_free(w);
}

static void test_gguf(void) {
    const char *added = "[{\"id\":271,\"content\":\"<|end|>\",\"special\":true},"
                        "{\"id\":272,\"content\":\"<x>\",\"lstrip\":true,\"rstrip\":true,\"normalized\":false}]";
    const char *texts[] = {"hello world<|end|>abc", "xyz e\xcc\x81 a <x> b", "\xc3\xa9\xff  lll 1234", ""};
    const spec specs[] = {
        {.added = added},
        {.added = added, .normalizer = "{\"type\":\"NFC\"}", .pre = pre_split(crvq_pretok_regex_qwen2)},
        {.added = added, .model_extra = "\"ignore_merges\":true"},
        {.pre = "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}"},
    };
    for (size_t k = 0; k < sizeof specs / sizeof *specs; k++) {
        crvq_tokenizer *t = load_spec(&specs[k]), *back = t ? gguf_round_trip(t, "rt.gguf") : NULL;
        if (!back) continue;
        CHECK(crvq_tokenizer_n_vocab(back) == crvq_tokenizer_n_vocab(t));
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
            CHECK_MSG(same_ids(t, back, texts[i], strlen(texts[i])), "spec %zu text %zu", k, i);
        crvq_tokenizer_free(t);
        crvq_tokenizer_free(back);
    }

    // llama.cpp's file: the pre name decides regex, normalizer and ignore_merges.
    char path[256];
    snprintf(path, sizeof path, "%s/llama_cpp.gguf", tmpdir);
    const char *added1 = "[{\"id\":271,\"content\":\"<|end|>\",\"special\":true,\"normalized\":false}]";
    struct { const char *pre; spec json; } cases[] = {
        {"qwen2", {.added = added1, .normalizer = "{\"type\":\"NFC\"}", .pre = pre_split(crvq_pretok_regex_qwen2)}},
        {"llama-bpe", {.added = added1, .model_extra = "\"ignore_merges\":true"}},
        {"gpt-2", {.added = added1, .pre = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        write_llama_cpp_gguf(path, cases[k].pre);
        crvq_tokenizer *g = NULL, *j = load_spec(&cases[k].json);
        CHECK_MSG(crvq_tokenizer_load(path, &g) == CRVQ_OK, "%s", crvq_last_error());
        if (!g || !j) continue;
        CHECK(crvq_tokenizer_eos(g) == 271 && g->type[271] == CRVQ_PIECE_CONTROL);
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
            CHECK_MSG(same_ids(g, j, texts[i], strlen(texts[i])), "pre %s text %zu", cases[k].pre, i);
        crvq_tokenizer_free(g);
        crvq_tokenizer_free(j);
    }
    crvq_tokenizer *g = NULL;
    write_llama_cpp_gguf(path, "mystery");
    CHECK(crvq_tokenizer_load(path, &g) == CRVQ_ERR_UNSUPPORTED && !g && strstr(crvq_last_error(), "mystery"));
    write_llama_cpp_gguf(path, NULL);
    CHECK(crvq_tokenizer_load(path, &g) == CRVQ_ERR_UNSUPPORTED && !g && strstr(crvq_last_error(), "tokenizer.ggml.pre"));
    unlink(path);
    snprintf(path, sizeof path, "%s/rt.gguf", tmpdir);
    unlink(path);
}

// -------------------------------------------------------------- shared ---

// sha256 of the ids as little-endian uint32 (sha256sum over a file).
static void ids_sha256(const int *ids, size_t n, char hex[65]) {
    char path[256], cmd[300];
    snprintf(path, sizeof path, "%s/ids.bin", tmpdir);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < n; i++) {
        uint8_t b[4] = {(uint8_t)ids[i], (uint8_t)(ids[i] >> 8), (uint8_t)(ids[i] >> 16), (uint8_t)(ids[i] >> 24)};
        fwrite(b, 1, 4, f);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "sha256sum %s", path);
    FILE *p = popen(cmd, "r");
    hex[0] = 0;
    if (!p || fscanf(p, "%64s", hex) != 1) hex[0] = 0;
    if (p) pclose(p);
    unlink(path);
}

// The body of the JSON string at p (just after its opening quote) into out
// (as long as the body at most); cJSON cannot return strings holding NULs,
// which the references' edge cases have. Returns the length.
static size_t json_string(const char *p, char *out) {
    size_t o = 0;
    while (*p && *p != '"') {
        if (*p != '\\') {
            out[o++] = *p++;
            continue;
        }
        char c = p[1];
        p += 2;
        if (c != 'u') {
            out[o++] = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c == 'b' ? '\b' : c == 'f' ? '\f' : c;
            continue;
        }
        uint32_t cp = (uint32_t)strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') { // a surrogate pair
            uint32_t lo = (uint32_t)strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        if (cp < 0x80) out[o++] = (char)cp;
        else if (cp < 0x800) out[o++] = (char)(0xC0 | cp >> 6), out[o++] = (char)(0x80 | (cp & 63));
        else if (cp < 0x10000)
            out[o++] = (char)(0xE0 | cp >> 12), out[o++] = (char)(0x80 | ((cp >> 6) & 63)), out[o++] = (char)(0x80 | (cp & 63));
        else
            out[o++] = (char)(0xF0 | cp >> 18), out[o++] = (char)(0x80 | ((cp >> 12) & 63)),
            out[o++] = (char)(0x80 | ((cp >> 6) & 63)), out[o++] = (char)(0x80 | (cp & 63));
    }
    return o;
}

static int int_list_is(const cJSON *list, const int *ids, size_t n) {
    if (!cJSON_IsArray(list) || (size_t)cJSON_GetArraySize(list) != n) return 0;
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) if (!cJSON_IsNumber(e) || e->valueint != ids[i++]) return 0;
    return 1;
}

static void test_shared(const char *name, int bos, int eos) {
    char rel[128], src[4096], dst[300], cmd[8400];
    snprintf(rel, sizeof rel, "models/%s-tokenizer/tokenizer.json.gz", name);
    snprintf(src, sizeof src, "%s", check_shared(rel));
    snprintf(dst, sizeof dst, "%s/tokenizer.json", tmpdir);
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s' && cp '%.*s/tokenizer_config.json' '%s/'", src, dst,
             (int)(strrchr(src, '/') - src), src, tmpdir);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    crvq_tokenizer *t = NULL;
    CHECK_MSG(crvq_tokenizer_load(dst, &t) == CRVQ_OK, "%s", crvq_last_error());
    if (!t) return;
    CHECK_MSG(crvq_tokenizer_bos(t) == bos && crvq_tokenizer_eos(t) == eos, "%s: bos %d eos %d", name,
              crvq_tokenizer_bos(t), crvq_tokenizer_eos(t));
    crvq_tokenizer *back = gguf_round_trip(t, "shared.gguf");

    snprintf(rel, sizeof rel, "data/tokenizer-refs/%s.json", name);
    char *text;
    size_t len;
    cJSON *ref = NULL;
    CHECK(crvq_read_file(check_shared(rel), &text, &len) == CRVQ_OK);
    // Not crvq_json_parse: an edge case holds \u0000, which it refuses.
    CHECK((ref = cJSON_ParseWithLength(text, len)) != NULL);
    int n_strings = 0, bad_strings = 0;
    const cJSON *e;
    const char *raw = text;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(ref, "strings")) {
        raw = strstr(raw, "\"text\": \"");
        if (!raw) break;
        raw += 9;
        char s[512];
        size_t sl = json_string(raw, s);
        int *ids;
        size_t n;
        CHECK(crvq_tokenize(t, s, sl, 0, &ids, &n) == CRVQ_OK);
        int ok = int_list_is(cJSON_GetObjectItem(e, "ids"), ids, n);
        if (!ok) fprintf(stderr, "%s: edge case '%.*s' differs from the reference\n", name, (int)sl, s);
        bad_strings += !ok;
        if (back) CHECK_MSG(same_ids(t, back, s, sl), "%s: GGUF round trip of '%.*s'", name, (int)sl, s);
        free(ids);
        n_strings++;
    }
    free(text);
    CHECK_MSG(n_strings == 30 && bad_strings == 0, "%s: %d of %d edge cases differ", name, bad_strings, n_strings);

    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(ref, "files")) {
        snprintf(rel, sizeof rel, "data/%s", f->string);
        CHECK(crvq_read_file(check_shared(rel), &text, &len) == CRVQ_OK);
        int *ids;
        size_t n;
        CHECK(crvq_tokenize(t, text, len, 0, &ids, &n) == CRVQ_OK);
        char hex[65];
        ids_sha256(ids, n, hex);
        const cJSON *count = cJSON_GetObjectItem(f, "ids");
        size_t nf = n < 12 ? n : 12, nl = n < 6 ? n : 6;
        int ok = cJSON_IsNumber(count) && (size_t)count->valuedouble == n &&
                 int_list_is(cJSON_GetObjectItem(f, "first"), ids, nf) &&
                 int_list_is(cJSON_GetObjectItem(f, "last"), ids + n - nl, nl) &&
                 strcmp(hex, cJSON_GetObjectItem(f, "sha256_u32le")->valuestring) == 0;
        CHECK_MSG(ok, "%s: %s: %zu ids, sha256 %s differ from the reference", name, f->string, n, hex);
        printf("%s %s: %zu ids %s\n", name, f->string, n, ok ? "match" : "DIFFER");
        // Decoding gives the text back (NFC'd where the tokenizer normalizes;
        // special tokens, which decode to nothing, put back as their text).
        char *back_text = malloc(len * 3 + 16), *want = text;
        size_t wlen = len, m = 0;
        for (size_t i = 0; i < n; i++) {
            int id = ids[i];
            if (t->type[id] == CRVQ_PIECE_CONTROL) {
                memcpy(back_text + m, t->blob + t->off[id], t->len[id]);
                m += t->len[id];
            } else {
                m += crvq_detokenize(t, i ? ids[i - 1] : -1, id, back_text + m, len * 3 + 16 - m);
            }
        }
        if (t->bbpe->nfc) CHECK(crvq_nfc(text, len, &want, &wlen) == CRVQ_OK);
        CHECK_MSG(m == wlen && memcmp(back_text, want, m) == 0, "%s: %s does not decode back", name, f->string);
        if (want != text) free(want);
        free(back_text);
        free(ids);
        free(text);
    }
    cJSON_Delete(ref);
    crvq_tokenizer_free(back);
    crvq_tokenizer_free(t);
    unlink(dst);
    snprintf(dst, sizeof dst, "%s/tokenizer_config.json", tmpdir);
    unlink(dst);
    snprintf(dst, sizeof dst, "%s/shared.gguf", tmpdir);
    unlink(dst);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    test_splitters();
    test_encoding();
    test_added_and_normalizer();
    test_refusals();
    test_gguf();
    int rc = check_failures;
    // The shared part last: check_shared exits 77 when ../shared is missing.
    if (!getenv("CRVQ_SHARED") || access(getenv("CRVQ_SHARED"), R_OK) != 0) {
        rmdir(tmpdir);
        if (rc) return check_done();
        printf("SKIP: ../shared missing: the Llama 3 / Qwen3 references were not checked\n");
        check_done();
        return 77;
    }
    test_shared("llama3", 128000, 128001);
    test_shared("qwen3", -1, 151645);
    rmdir(tmpdir);
    return check_done();
}
