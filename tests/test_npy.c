// test_npy.c — .npy round trips (f32, f64, converting between them), files laid
// out byte for byte as numpy.save writes them, and malformed files rejected
// with the right status.
#include "check.h"
#include "crvq.h"
#include "io/npy.h"

#include <stdint.h>
#include <unistd.h>

static const char *tmp = "test_npy.tmp.npy";

// A .npy file: magic, version, header length (u16 or u32), dict, data.
static void write_raw(int major, const char *dict, const void *data, size_t nbytes) {
    FILE *f = fopen(tmp, "wb");
    size_t len = strlen(dict);
    fwrite("\x93NUMPY", 1, 6, f);
    fputc(major, f);
    fputc(0, f);
    if (major == 1) {
        uint16_t h = (uint16_t)len;
        fwrite(&h, 2, 1, f);
    } else {
        uint32_t h = (uint32_t)len;
        fwrite(&h, 4, 1, f);
    }
    fwrite(dict, 1, len, f);
    if (nbytes) fwrite(data, 1, nbytes, f);
    fclose(f);
}

static crvq_status read_f64(double **d, int64_t *r, int64_t *c) {
    return crvq_npy_read(tmp, CRVQ_F64, (void **)d, r, c);
}

// Expect the read of tmp to fail with `want` and a message containing `needle`.
static void expect_fail(crvq_status want, const char *needle) {
    double *d = NULL;
    int64_t r, c;
    crvq_status st = read_f64(&d, &r, &c);
    CHECK_MSG(st == want, "status %d, want %d (%s): %s", st, want, needle, crvq_last_error());
    CHECK_MSG(strstr(crvq_last_error(), needle) != NULL, "'%s' lacks '%s'", crvq_last_error(), needle);
    CHECK(d == NULL);
}

// numpy's own padding: the dict, spaces, '\n', so that 10 + len is a multiple of 64.
static const char *padded(const char *dict) {
    static char buf[256];
    size_t len = strlen(dict), total = (10 + len + 1 + 63) / 64 * 64;
    memcpy(buf, dict, len);
    memset(buf + len, ' ', total - 10 - len - 1);
    buf[total - 11] = '\n';
    buf[total - 10] = 0;
    return buf;
}

int main(void) {
    // Round trips.
    float wf[15];
    for (int i = 0; i < 15; i++) wf[i] = (float)(i * 0.37 - 2.1);
    CHECK(crvq_npy_write(tmp, CRVQ_F32, wf, 3, 5) == CRVQ_OK);
    float *rf = NULL;
    int64_t r = 0, c = 0;
    CHECK(crvq_npy_read(tmp, CRVQ_F32, (void **)&rf, &r, &c) == CRVQ_OK);
    CHECK(r == 3 && c == 5);
    CHECK(rf && memcmp(rf, wf, sizeof wf) == 0);
    free(rf);
    double *rd = NULL;
    CHECK(read_f64(&rd, &r, &c) == CRVQ_OK); // f4 read as f8 is exact
    for (int i = 0; i < 15; i++) CHECK(rd[i] == (double)wf[i]);
    free(rd);

    double wd[8] = {1e-300, -2.5, 3.141592653589793, 0, -0.0, 1e300, 7, 8};
    CHECK(crvq_npy_write(tmp, CRVQ_F64, wd, 4, 2) == CRVQ_OK);
    CHECK(read_f64(&rd, &r, &c) == CRVQ_OK);
    CHECK(r == 4 && c == 2 && memcmp(rd, wd, sizeof wd) == 0);
    free(rd);
    CHECK(crvq_npy_read(tmp, CRVQ_F32, (void **)&rf, &r, &c) == CRVQ_OK);
    CHECK(rf[1] == -2.5f && rf[2] == (float)3.141592653589793);
    free(rf);

    // The writer's header is numpy's: 64-byte aligned data, 1.0, the dict spelled as numpy spells it.
    FILE *f = fopen(tmp, "rb");
    unsigned char head[128];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    CHECK(got == 128 && head[6] == 1 && head[7] == 0 && head[8] + 256 * head[9] == 118);
    CHECK(memcmp(head + 10, "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }", 59) == 0);
    CHECK(head[127] == '\n');

    // Files as numpy writes them, v1 and v2, keys in another order, double quotes.
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }"), wd, sizeof wd);
    CHECK(read_f64(&rd, &r, &c) == CRVQ_OK && r == 2 && c == 4);
    free(rd);
    write_raw(2, padded("{\"shape\": (1,8), \"fortran_order\": False, \"descr\": \"<f8\"}"), wd, sizeof wd);
    CHECK(read_f64(&rd, &r, &c) == CRVQ_OK && r == 1 && c == 8);
    free(rd);
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }"), NULL, 0);
    CHECK(read_f64(&rd, &r, &c) == CRVQ_OK && r == 0 && c == 3);
    free(rd);

    // Well-formed but unsupported.
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_UNSUPPORTED, "Fortran order");
    write_raw(1, padded("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_UNSUPPORTED, "dtype '<i8'");
    write_raw(1, padded("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_UNSUPPORTED, "dtype '>f8'");
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (8,), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_UNSUPPORTED, "1 dimensions");
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_UNSUPPORTED, "3 dimensions");

    // Malformed.
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }"), wd, sizeof wd - 1);
    expect_fail(CRVQ_ERR_FORMAT, "truncated");
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "trailing bytes");
    write_raw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", wd, sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "newline");
    write_raw(1, padded("{'descr': '<f8', 'shape': (2, 4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "missing 'fortran_order'");
    write_raw(1, padded("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }"), wd,
              sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "repeated key 'descr'");
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': false, 'shape': (2, 4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "True or False");
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "non-negative integer");
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), } x"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "after the closing");
    write_raw(1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2 4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_FORMAT, "expected ',' or ')'");
    write_raw(3 + 1, padded("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }"), wd, sizeof wd);
    expect_fail(CRVQ_ERR_UNSUPPORTED, "version 4.0");
    f = fopen(tmp, "wb");
    fwrite("\x93NUMPY\x01\x00\xff\x00{'descr'", 1, 18, f); // header length past the end of the file
    fclose(f);
    expect_fail(CRVQ_ERR_FORMAT, "truncated .npy header");
    f = fopen(tmp, "wb");
    fwrite("PK\x03\x04 not numpy at all", 1, 22, f);
    fclose(f);
    expect_fail(CRVQ_ERR_FORMAT, "not a .npy file");
    unlink(tmp);
    expect_fail(CRVQ_ERR_IO, tmp);
    return check_done();
}
