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

// Reads a whole (small) file into a NUL-terminated malloc'd buffer.
crvq_status crvq_read_file(const char *path, char **data, size_t *size);

#endif
