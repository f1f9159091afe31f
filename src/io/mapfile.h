// mapfile.h — read-only memory-mapped files.
#ifndef CRVQ_MAPFILE_H
#define CRVQ_MAPFILE_H

#include "crvq.h"

typedef struct crvq_mapfile {
    const uint8_t *data; // NULL for an empty file
    size_t size;
} crvq_mapfile;

// Maps the whole file read-only. Errors name the path.
crvq_status crvq_mapfile_open(const char *path, crvq_mapfile *f);
void crvq_mapfile_close(crvq_mapfile *f);

// Gives back this process's pages of the whole pages inside [p, p + n) of
// f (madvise MADV_DONTNEED): they leave its resident set, stay in the page
// cache, and a later read maps them again, so nothing is lost. Ranges
// outside f are ignored.
void crvq_mapfile_release(const crvq_mapfile *f, const void *p, size_t n);

// Reads a whole (small) file into a NUL-terminated malloc'd buffer.
crvq_status crvq_read_file(const char *path, char **data, size_t *size);

#endif
