// atomic.h — files that appear whole or not at all.
//
// Data goes to a temporary file beside the destination; commit() flushes,
// fsyncs, renames it over the destination and fsyncs the directory, so a
// crash at any point leaves either the old file or the new one, never a
// half-written one. abort() removes the temporary.
#ifndef CRVQ_ATOMIC_H
#define CRVQ_ATOMIC_H

#include "crvq.h"

#include <stdio.h>

typedef struct crvq_atomic_file {
    FILE *f;
    char *path;     // destination
    char *tmp_path; // destination + ".tmp.XXXXXX"
} crvq_atomic_file;

crvq_status crvq_atomic_open(const char *path, crvq_atomic_file *af);
// Commits if the stream has no error; otherwise aborts and fails.
crvq_status crvq_atomic_commit(crvq_atomic_file *af);
void crvq_atomic_abort(crvq_atomic_file *af);

#endif
