// npy.c — the .npy format: magic "\x93NUMPY", version (major, minor), header
// length (u16 for 1.x, u32 for 2.x/3.x, little-endian), then an ASCII Python
// dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded
// with spaces and ending in '\n', then the raw array data.
#include "io/npy.h"

#include "io/atomic.h"
#include "io/mapfile.h"
#include "util/error.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads and writes little-endian data in place: build on a little-endian machine"
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// Cursor over the header dict; every failure names the file.
typedef struct {
    const char *start, *p, *end, *path;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int accept(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static crvq_status bad_header(const cursor *c, const char *what) {
    return crvq_fail(CRVQ_ERR_FORMAT, "%s: malformed .npy header: %s at offset %td of the header dict", c->path,
                     what, c->p - c->start);
}

// A quoted Python string without escapes (keys and dtype strings have none).
static crvq_status parse_string(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad_header(c, "expected a quoted string");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return bad_header(c, "unexpected string");
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return bad_header(c, "unterminated string");
    c->p++;
    out[n] = 0;
    return CRVQ_OK;
}

static crvq_status parse_int(cursor *c, int64_t *v) {
    skip_ws(c);
    if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return bad_header(c, "expected a non-negative integer");
    int64_t x = 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p)) {
        if (x > (INT64_MAX - 9) / 10) return bad_header(c, "dimension too large");
        x = x * 10 + (*c->p++ - '0');
    }
    if (c->p < c->end && *c->p == 'L') c->p++; // Python 2 longs, as old numpy wrote them
    *v = x;
    return CRVQ_OK;
}

typedef struct {
    char descr[32];
    int fortran_order;
    int ndim;
    int64_t shape[8];
} npy_header;

static crvq_status parse_header(cursor *c, npy_header *h) {
    crvq_status st;
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!accept(c, '{')) return bad_header(c, "expected '{'");
    while (!accept(c, '}')) {
        char key[32];
        if ((st = parse_string(c, key, sizeof key))) return st;
        if (!accept(c, ':')) return bad_header(c, "expected ':'");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if ((st = parse_string(c, h->descr, sizeof h->descr))) return st;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            skip_ws(c);
            size_t left = (size_t)(c->end - c->p);
            if (left >= 4 && memcmp(c->p, "True", 4) == 0) h->fortran_order = 1, c->p += 4;
            else if (left >= 5 && memcmp(c->p, "False", 5) == 0) h->fortran_order = 0, c->p += 5;
            else return bad_header(c, "fortran_order must be True or False");
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!accept(c, '(')) return bad_header(c, "expected '(' for shape");
            h->ndim = 0;
            while (!accept(c, ')')) {
                if (h->ndim == 8) return bad_header(c, "more than 8 dimensions");
                if ((st = parse_int(c, &h->shape[h->ndim++]))) return st;
                if (!accept(c, ',')) {
                    if (!accept(c, ')')) return bad_header(c, "expected ',' or ')' in shape");
                    break;
                }
            }
            have_shape = 1;
        } else {
            return crvq_fail(CRVQ_ERR_FORMAT, "%s: malformed .npy header: unexpected or repeated key '%s'",
                             c->path, key);
        }
        if (!accept(c, ',')) {
            if (!accept(c, '}')) return bad_header(c, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(c);
    if (c->p != c->end) return bad_header(c, "text after the closing '}'");
    if (!have_descr || !have_fortran || !have_shape)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: malformed .npy header: missing '%s'", c->path,
                         !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return CRVQ_OK;
}

// Magic, version and header length of the file (size bytes at b), then
// the header dict into h; *data_off: where the array data starts.
static crvq_status read_header(const char *path, const uint8_t *b, size_t size, npy_header *h, size_t *data_off) {
    size_t hlen_size = 0, hlen = 0;
    if (size < 10 || memcmp(b, npy_magic, 6) != 0)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    if (b[6] == 1 && b[7] == 0) hlen_size = 2;
    else if ((b[6] == 2 || b[6] == 3) && b[7] == 0) hlen_size = 4;
    else
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: .npy format version %d.%d (supported: 1.0, 2.0, 3.0)", path,
                         b[6], b[7]);
    if (size < 8 + hlen_size) return crvq_fail(CRVQ_ERR_FORMAT, "%s: truncated .npy header", path);
    hlen = hlen_size == 2 ? (size_t)b[8] | (size_t)b[9] << 8
                          : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    *data_off = 8 + hlen_size + hlen;
    if (*data_off > size)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: truncated .npy header (%zu bytes declared, %zu in the file)", path,
                         hlen, size - 8 - hlen_size);
    const char *text = (const char *)b + 8 + hlen_size;
    if (hlen == 0 || text[hlen - 1] != '\n')
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: malformed .npy header: does not end in a newline", path);
    cursor c = {text, text, text + hlen, path};
    return parse_header(&c, h);
}

// What crvq reads: a C-order 2-D array of '<f4' or '<f8' whose data fills
// the rest of the file (data_bytes). *item: its element size.
static crvq_status check_array(const char *path, const npy_header *h, size_t data_bytes, size_t *item) {
    if (strcmp(h->descr, "<f4") == 0) *item = 4;
    else if (strcmp(h->descr, "<f8") == 0) *item = 8;
    else
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (need '<f4' or '<f8')", path,
                         h->descr);
    if (h->fortran_order)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: array is in Fortran order; save it in C order "
                         "(numpy.ascontiguousarray)", path);
    if (h->ndim != 2)
        return crvq_fail(CRVQ_ERR_UNSUPPORTED, "%s: array has %d dimensions, expected 2", path, h->ndim);
    int64_t r = h->shape[0], k = h->shape[1];
    if ((k > 0 && (uint64_t)r > (SIZE_MAX / 8) / (uint64_t)k))
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: shape (%lld, %lld) is too large", path, (long long)r, (long long)k);
    size_t nbytes = (size_t)r * (size_t)k * *item;
    if (data_bytes != nbytes)
        return crvq_fail(CRVQ_ERR_FORMAT, "%s: %s: shape (%lld, %lld) of %s needs %zu data bytes, the file has %zu",
                         path, data_bytes < nbytes ? "truncated" : "trailing bytes", (long long)r, (long long)k,
                         h->descr, nbytes, data_bytes);
    return CRVQ_OK;
}

crvq_status crvq_npy_read(const char *path, crvq_dtype want, void **data, int64_t *rows, int64_t *cols) {
    assert(path && data && rows && cols && (want == CRVQ_F32 || want == CRVQ_F64));
    crvq_mapfile f;
    crvq_status st = crvq_mapfile_open(path, &f);
    if (st) return st;
    const uint8_t *b = f.data;
    npy_header h = {0};
    size_t data_off = 0, item = 0;
    if ((st = read_header(path, b, f.size, &h, &data_off)) || (st = check_array(path, &h, f.size - data_off, &item)))
        goto done;
    int64_t r = h.shape[0], k = h.shape[1];
    size_t count = (size_t)r * (size_t)k, nbytes = count * item;
    size_t out_item = want == CRVQ_F32 ? 4 : 8;
    void *out = malloc(count ? count * out_item : 1);
    if (!out) {
        st = crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory for a (%lld, %lld) array", path, (long long)r, (long long)k);
        goto done;
    }
    const uint8_t *src = b + data_off; // not necessarily aligned: memcpy element by element
    if (item == out_item) memcpy(out, src, nbytes);
    else if (item == 4)
        for (size_t i = 0; i < count; i++) {
            float v;
            memcpy(&v, src + 4 * i, 4);
            ((double *)out)[i] = v;
        }
    else
        for (size_t i = 0; i < count; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            ((float *)out)[i] = (float)v;
        }
    *data = out;
    *rows = r;
    *cols = k;
done:
    crvq_mapfile_close(&f);
    return st;
}

crvq_status crvq_npy_write(const char *path, crvq_dtype dtype, const void *data, int64_t rows, int64_t cols) {
    assert(path && data && rows >= 0 && cols >= 0 && (dtype == CRVQ_F32 || dtype == CRVQ_F64));
    char dict[128];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                       dtype == CRVQ_F32 ? "<f4" : "<f8", (long long)rows, (long long)cols);
    assert(len > 0 && (size_t)len < sizeof dict);
    // numpy pads the header with spaces so the data starts at a multiple of 64.
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64, hlen = total - 10;
    char header[256];
    memcpy(header, npy_magic, 6);
    header[6] = 1;
    header[7] = 0;
    header[8] = (char)(hlen & 0xff);
    header[9] = (char)(hlen >> 8);
    memcpy(header + 10, dict, (size_t)len);
    memset(header + 10 + len, ' ', hlen - (size_t)len - 1);
    header[total - 1] = '\n';

    crvq_atomic_file af;
    crvq_status st = crvq_atomic_open(path, &af);
    if (st) return st;
    size_t nbytes = (size_t)rows * (size_t)cols * (dtype == CRVQ_F32 ? 4 : 8);
    crvq_atomic_write(&af, header, total);
    crvq_atomic_write(&af, data, nbytes);
    return crvq_atomic_commit(&af);
}
