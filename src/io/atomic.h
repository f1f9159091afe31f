// atomic.h — files that appear whole or not at all.
//
// Data goes to a temporary file beside the destination; commit() flushes,
// fsyncs, renames it over the destination and fsyncs the directory, so a
// crash at any point leaves either the old file or the new one, never a
// half-written one. abort() removes the temporary, and so does SIGINT,
// SIGTERM or SIGHUP while it exists (util/fileguard.h). Neither open() nor
// commit() replaces a file this process reads, a FIFO or a device.
#ifndef CRVQ_ATOMIC_H
#define CRVQ_ATOMIC_H

#include "crvq.h"

#include <stdio.h>

typedef struct crvq_atomic_file {
    FILE *f;
    char *path;     // destination
    char *tmp_path; // destination + ".tmp.XXXXXX"
    int err;        // errno of the first failed crvq_atomic_write, or 0
} crvq_atomic_file;

crvq_status crvq_atomic_open(const char *path, crvq_atomic_file *af);
// Appends n bytes; returns 1, or 0 after a failure (this one or an earlier
// one), whose errno commit() reports.
int crvq_atomic_write(crvq_atomic_file *af, const void *data, size_t n);
// Commits if every write succeeded; otherwise aborts and fails. Every error
// names the file and the reason (strerror).
crvq_status crvq_atomic_commit(crvq_atomic_file *af);
void crvq_atomic_abort(crvq_atomic_file *af);

#endif
