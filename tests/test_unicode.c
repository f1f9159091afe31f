// test_unicode.c — the Unicode data of the byte-level tokenizers: character
// classes (\p{L}, \p{N}, White_Space) and NFC. Hand-picked cases always;
// then, where available, two oracles: the Unicode conformance file
// NormalizationTest.txt (Debian's unicode-data package) and Python's
// unicodedata (python3), which also checks the classes of every code point
// it knows. Python's Unicode may be older than the tables: NFC of assigned
// characters never changes between versions (Unicode's stability policy),
// and only characters assigned in Python's version are compared.
#include "check.h"
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

#include <unistd.h>

static size_t utf8(uint32_t c, char *o) {
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | ((c >> 6) & 63)), o[2] = (char)(0x80 | (c & 63)), 3;
    o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | ((c >> 12) & 63));
    o[2] = (char)(0x80 | ((c >> 6) & 63)), o[3] = (char)(0x80 | (c & 63));
    return 4;
}

static int nfc_is(const char *in, size_t n, const char *want, size_t wn) {
    char *out;
    size_t m;
    if (crvq_nfc(in, n, &out, &m) != CRVQ_OK) return 0;
    int ok = m == wn && memcmp(out, want, m) == 0;
    // The quick check may only say "yes" when NFC leaves the text alone.
    if (crvq_nfc_quick_yes(in, n) && !(m == n && memcmp(out, in, n) == 0)) ok = 0;
    free(out);
    return ok;
}
#define NFC_IS(in, want) CHECK_MSG(nfc_is(in, sizeof in - 1, want, sizeof want - 1), "NFC of %s", #in)

static void test_classes(void) {
    CHECK(crvq_uc_flags('a') == CRVQ_UC_L && crvq_uc_flags('Z') == CRVQ_UC_L);
    CHECK(crvq_uc_flags('7') == CRVQ_UC_N && crvq_uc_flags(0x0661) == CRVQ_UC_N); // Arabic-Indic one
    CHECK(crvq_uc_flags(0x2160) == CRVQ_UC_N && crvq_uc_flags(0x00B2) == CRVQ_UC_N); // Nl, No
    CHECK(crvq_uc_flags(' ') == CRVQ_UC_WS && crvq_uc_flags('\n') == CRVQ_UC_WS && crvq_uc_flags(0x0B) == CRVQ_UC_WS);
    CHECK(crvq_uc_flags(0x85) == CRVQ_UC_WS && crvq_uc_flags(0xA0) == CRVQ_UC_WS && crvq_uc_flags(0x3000) == CRVQ_UC_WS);
    CHECK(crvq_uc_flags(0xFEFF) == 0 && crvq_uc_flags(0x200B) == 0); // not White_Space (JS's \s has FEFF)
    CHECK(crvq_uc_flags(0x4E00) == CRVQ_UC_L && crvq_uc_flags(0xAC00) == CRVQ_UC_L && crvq_uc_flags(0x3042) == CRVQ_UC_L);
    CHECK(crvq_uc_flags(0x0301) == CRVQ_UC_NFC && crvq_uc_flags('_') == 0 && crvq_uc_flags(0x1F642) == 0);
    CHECK(crvq_uc_flags(0x110000) == 0 && crvq_uc_flags(0xFFFFFFFF) == 0 && crvq_uc_flags(0xD800) == 0);
    CHECK(crvq_uc_ccc_of(0x0301) == 230 && crvq_uc_ccc_of(0x0323) == 220 && crvq_uc_ccc_of('a') == 0);
    CHECK(strcmp(crvq_uc_version, "15.0.0") == 0);
}

static void test_nfc_cases(void) {
    NFC_IS("", "");
    NFC_IS("plain ASCII text", "plain ASCII text");
    NFC_IS("e\xcc\x81", "\xc3\xa9");                          // e + acute -> é
    NFC_IS("caf\xc3\xa9", "caf\xc3\xa9");                     // already composed
    NFC_IS("\xe2\x84\xab", "\xc3\x85");                       // ANGSTROM SIGN -> Å (singleton)
    NFC_IS("a\xcc\x81\xcc\xa3", "\xe1\xba\xa1\xcc\x81");      // a acute dot-below -> ạ + acute (reordered)
    NFC_IS("a\xcc\xa3\xcc\x81", "\xe1\xba\xa1\xcc\x81");
    NFC_IS("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81"); // Hangul L V T -> 각
    NFC_IS("\xea\xb0\x80\xe1\x86\xa8", "\xea\xb0\x81");       // LV syllable + T
    NFC_IS("\xcc\x81x", "\xcc\x81x");                         // a mark with no starter stays
    NFC_IS("\xe0\xa5\x98", "\xe0\xa4\x95\xe0\xa4\xbc");       // DEVANAGARI QA: excluded from composition
    NFC_IS("e\xff\xcc\x81", "e\xff\xcc\x81");                 // not UTF-8: nothing composes across it
    NFC_IS("\xef\xac\x81", "\xef\xac\x81");                   // ﬁ is a compatibility character: NFC keeps it

    // A long run of combining marks of two classes (the merge sort path):
    // stable order by class, dot-below (220) before acute (230).
    enum { N = 1001 };
    char in[3 * N + 1], want[3 * N + 1];
    size_t n = 0, w = 0;
    in[n++] = 'x';
    want[w++] = 'x';
    for (int i = 0; i < N / 2; i++) n += utf8(i % 2 ? 0x0301 : 0x0323, in + n);
    for (int i = 0; i < N / 2; i++)
        if (i % 2 == 0) w += utf8(0x0323, want + w);
    for (int i = 0; i < N / 2; i++)
        if (i % 2) w += utf8(0x0301, want + w);
    CHECK_MSG(nfc_is(in, n, want, w), "NFC of a run of %d marks", N / 2);
}

// Compare with an oracle's lines "HEX HEX ...;HEX HEX ..." (text; its NFC),
// or for the conformance file its five columns. Returns the lines read.
static int check_lines(FILE *f, int conformance, int *bad) {
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '@' || line[0] == '\n') continue;
        char col[5][3 * 256];
        size_t len[5] = {0};
        char *p = line;
        int ncol = conformance ? 5 : 2;
        for (int c = 0; c < ncol; c++) {
            char *end;
            for (;;) {
                while (*p == ' ') p++;
                if (*p == ';' || *p == '\n' || !*p) break;
                uint32_t cp = (uint32_t)strtoul(p, &end, 16);
                if (end == p || len[c] > sizeof col[c] - 8) break;
                len[c] += utf8(cp, col[c] + len[c]);
                p = end;
            }
            if (*p == ';') p++;
        }
        // Conformance: c2 == NFC(c1) == NFC(c2) == NFC(c3), c4 == NFC(c4) == NFC(c5).
        static const int src[2][5] = {{0, 1, 2, 3, 4}, {0}}, want[2][5] = {{1, 1, 1, 3, 3}, {1}};
        for (int k = 0; k < (conformance ? 5 : 1); k++) {
            int s = src[!conformance][k], t = want[!conformance][k];
            if (!nfc_is(col[s], len[s], col[t], len[t])) {
                if (*bad < 5) fprintf(stderr, "NFC differs from the oracle on: %s", line);
                ++*bad;
            }
        }
        n++;
    }
    return n;
}

static void test_conformance_file(void) {
    const char *path = "/usr/share/unicode/NormalizationTest.txt.bz2";
    if (access(path, R_OK) != 0 || system("command -v bzcat > /dev/null") != 0) {
        printf("note: %s (Debian unicode-data) or bzcat missing: conformance test not run\n", path);
        return;
    }
    FILE *f = popen("bzcat /usr/share/unicode/NormalizationTest.txt.bz2", "r");
    int bad = 0, n = check_lines(f, 1, &bad);
    pclose(f);
    CHECK_MSG(n > 15000 && bad == 0, "%d of %d conformance lines differ", bad, n);
    printf("NormalizationTest: %d lines, %d differ\n", n, bad);
}

// Python prints: every assigned code point that NFC changes, each with a
// following acute and dot below, seeded random strings of letters, marks and
// jamo; then "FLAGS" and the class flags of every assigned code point.
static const char python_oracle[] =
    "import unicodedata as u, random\n"
    "A = [c for c in range(0x110000) if u.category(chr(c)) != 'Cn' and not 0xD800 <= c < 0xE000]\n"
    "h = lambda s: ' '.join('%X' % ord(c) for c in s)\n"
    "def out(s): print(h(s) + ';' + h(u.normalize('NFC', s)))\n"
    "for c in A:\n"
    "    s = chr(c)\n"
    "    if u.normalize('NFD', s) != s or u.combining(s) or u.normalize('NFC', s) != s:\n"
    "        out(s); out(s + '\\u0301'); out('a' + s + '\\u0323')\n"
    "pool = [c for c in A if u.combining(chr(c)) or u.normalize('NFD', chr(c)) != chr(c)][:3000]\n"
    "pool += list(range(0x1100, 0x1113)) + list(range(0x1161, 0x1176)) + list(range(0x11A8, 0x11C3))\n"
    "pool += [ord(x) for x in 'aeiouAEIOU ']\n"
    "r = random.Random(1)\n"
    "for _ in range(20000): out(''.join(chr(r.choice(pool)) for _ in range(r.randint(1, 8))))\n"
    "print('FLAGS')\n"
    "ws = {9,10,11,12,13,0x20,0x85,0xA0,0x1680,0x2028,0x2029,0x202F,0x205F,0x3000} | set(range(0x2000, 0x200B))\n"
    "for c in A:\n"
    "    g = u.category(chr(c))[0]\n"
    "    print('%X %d' % (c, (g == 'L') | (g == 'N') << 1 | (c in ws) << 2))\n";

static void test_python_oracle(void) {
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("note: no /usr/bin/python3: unicodedata comparison not run\n");
        return;
    }
    char script[] = "/tmp/crvq_test_unicode_XXXXXX";
    int fd = mkstemp(script);
    CHECK(fd >= 0 && write(fd, python_oracle, sizeof python_oracle - 1) == (ssize_t)(sizeof python_oracle - 1));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", script);
    FILE *f = popen(cmd, "r");
    int bad = 0;
    // NFC cases, then after "FLAGS" the class flags.
    char line[8192];
    int n_nfc = 0, n_flags = 0, bad_flags = 0, flags_part = 0;
    while (fgets(line, sizeof line, f)) {
        if (strcmp(line, "FLAGS\n") == 0) {
            flags_part = 1;
            continue;
        }
        if (flags_part) {
            unsigned cp, fl;
            if (sscanf(line, "%X %u", &cp, &fl) != 2) continue;
            if ((crvq_uc_flags(cp) & 7) != fl) {
                if (bad_flags < 5) fprintf(stderr, "class flags of U+%04X: %u, Python says %u\n", cp,
                                           crvq_uc_flags(cp) & 7, fl);
                bad_flags++;
            }
            n_flags++;
            continue;
        }
        FILE *one = fmemopen(line, strlen(line), "r");
        n_nfc += check_lines(one, 0, &bad);
        fclose(one);
    }
    int rc = pclose(f);
    unlink(script);
    CHECK_MSG(rc == 0 && n_nfc > 20000 && bad == 0, "python oracle: rc %d, %d of %d NFC cases differ", rc, bad, n_nfc);
    CHECK_MSG(n_flags > 100000 && bad_flags == 0, "%d of %d code points have other classes than Python's", bad_flags,
              n_flags);
    printf("unicodedata: %d NFC cases, %d code points' classes compared\n", n_nfc, n_flags);
}

int main(void) {
    test_classes();
    test_nfc_cases();
    test_conformance_file();
    test_python_oracle();
    return check_done();
}
