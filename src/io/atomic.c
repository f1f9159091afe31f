// atomic.c — write-to-temporary, fsync, rename.
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void atomic_release(crvq_atomic_file *af) {
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->f = NULL;
}

crvq_status crvq_atomic_open(const char *path, crvq_atomic_file *af) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = strdup(path);
    af->tmp_path = malloc(n + 12);
    if (!af->path || !af->tmp_path) {
        atomic_release(af);
        return crvq_fail(CRVQ_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        crvq_status st = crvq_fail(CRVQ_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                                   strerror(errno));
        atomic_release(af);
        return st;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        unlink(af->tmp_path);
        atomic_release(af);
        return crvq_fail(CRVQ_ERR_IO, "%s: cannot open a stream: %s", path, strerror(errno));
    }
    return CRVQ_OK;
}

void crvq_atomic_abort(crvq_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp_path) unlink(af->tmp_path);
    atomic_release(af);
}

crvq_status crvq_atomic_commit(crvq_atomic_file *af) {
    if (fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0) {
        crvq_status st = crvq_fail(CRVQ_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
        crvq_atomic_abort(af);
        return st;
    }
    // 0644 rather than mkstemp's 0600: the result is an ordinary output file.
    fchmod(fileno(af->f), 0644);
    if (fclose(af->f) != 0) {
        af->f = NULL;
        crvq_status st = crvq_fail(CRVQ_ERR_IO, "%s: close failed: %s", af->path, strerror(errno));
        crvq_atomic_abort(af);
        return st;
    }
    af->f = NULL;
    if (rename(af->tmp_path, af->path) != 0) {
        crvq_status st = crvq_fail(CRVQ_ERR_IO, "%s: cannot rename the finished file into place: %s",
                                   af->path, strerror(errno));
        crvq_atomic_abort(af);
        return st;
    }
    // Make the rename itself durable.
    char *dir_copy = strdup(af->path);
    if (dir_copy) {
        int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir_copy);
    }
    atomic_release(af);
    return CRVQ_OK;
}
