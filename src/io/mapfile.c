// mapfile.c — read-only memory-mapped files and whole-file reads.
#include "io/mapfile.h"
#include "util/error.h"
#include "util/fileguard.h"
#include "util/pages.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

crvq_status crvq_mapfile_open(const char *path, crvq_mapfile *f) {
    f->data = NULL;
    f->size = 0;
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return crvq_fail(CRVQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        crvq_status r = crvq_fail(CRVQ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return crvq_fail(CRVQ_ERR_IO, "%s: not a regular file (%s)", path, crvq_guard_kind(st.st_mode));
    }
    crvq_guard_note_read(path, &st); // never to be replaced by this process's outputs
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return crvq_fail(CRVQ_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        f->data = p;
        f->size = (size_t)st.st_size;
    }
    close(fd);
    return CRVQ_OK;
}

void crvq_mapfile_close(crvq_mapfile *f) {
    if (f->data) munmap((void *)f->data, f->size);
    f->data = NULL;
    f->size = 0;
}

crvq_status crvq_read_file(const char *path, char **data, size_t *size) {
    crvq_mapfile f;
    crvq_status st = crvq_mapfile_open(path, &f);
    if (st) return st;
    char *buf = malloc(f.size + 1);
    if (!buf) {
        crvq_mapfile_close(&f);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, f.size);
    }
    if (f.size) memcpy(buf, f.data, f.size);
    buf[f.size] = 0;
    if (size) *size = f.size; // before close, which zeroes f.size
    crvq_mapfile_close(&f);
    *data = buf;
    return CRVQ_OK;
}

void crvq_mapfile_release(const crvq_mapfile *f, const void *p, size_t n) {
    const uint8_t *a = p, *b = a + n;
    if (!f->data || a < f->data || b > f->data + f->size) return;
    crvq_pages_release(p, n);
}
