// atomic.c — write-to-temporary, fsync, rename.
#include "io/atomic.h"
#include "util/error.h"
#include "util/fileguard.h"

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
    // refuse before anything is written, not after
    crvq_status st = crvq_guard_may_replace(path);
    if (st) return st;
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
        st = crvq_fail(CRVQ_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        atomic_release(af);
        return st;
    }
    crvq_guard_temp_add(af->tmp_path);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        st = crvq_fail(CRVQ_ERR_IO, "%s: cannot open a stream: %s", path, strerror(errno));
        close(fd);
        crvq_guard_temp_remove(af->tmp_path);
        unlink(af->tmp_path);
        atomic_release(af);
        return st;
    }
    return CRVQ_OK;
}

int crvq_atomic_write(crvq_atomic_file *af, const void *data, size_t n) {
    if (af->err) return 0;
    if (n && fwrite(data, 1, n, af->f) != n) {
        af->err = errno ? errno : EIO;
        return 0;
    }
    return 1;
}

void crvq_atomic_abort(crvq_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp_path) {
        unlink(af->tmp_path);
        crvq_guard_temp_remove(af->tmp_path);
    }
    atomic_release(af);
}

// Fail with "PATH: WHAT: strerror(err)" and remove the temporary.
static crvq_status fail_abort(crvq_atomic_file *af, const char *what, int err) {
    crvq_status st = crvq_fail(CRVQ_ERR_IO, "%s: %s: %s", af->path, what, strerror(err));
    crvq_atomic_abort(af);
    return st;
}

crvq_status crvq_atomic_commit(crvq_atomic_file *af) {
    if (af->err) return fail_abort(af, "cannot write", af->err);
    errno = 0;
    if (fflush(af->f) != 0) return fail_abort(af, "cannot write", errno);
    // a write through af->f that bypassed crvq_atomic_write
    if (ferror(af->f)) return fail_abort(af, "cannot write", errno ? errno : EIO);
    if (fsync(fileno(af->f)) != 0) return fail_abort(af, "cannot fsync", errno);
    // 0644 rather than mkstemp's 0600: the result is an ordinary output file.
    fchmod(fileno(af->f), 0644);
    int closed = fclose(af->f);
    af->f = NULL;
    if (closed != 0) return fail_abort(af, "cannot close", errno);
    // the destination may have become an input since open (a model loaded meanwhile)
    crvq_status st = crvq_guard_may_replace(af->path);
    if (st) {
        crvq_atomic_abort(af);
        return st;
    }
    if (rename(af->tmp_path, af->path) != 0) return fail_abort(af, "cannot rename the finished file into place", errno);
    crvq_guard_temp_remove(af->tmp_path);
    crvq_guard_note_written(af->path);
    // Make the rename itself durable. EINVAL: a file system without directory sync.
    char *dir_copy = strdup(af->path);
    if (!dir_copy) {
        atomic_release(af);
        return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    }
    const char *dir = dirname(dir_copy);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    st = CRVQ_OK;
    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL))
        st = crvq_fail(CRVQ_ERR_IO, "%s: written, but its directory %s cannot be synced: %s", af->path, dir,
                       strerror(errno));
    if (dfd >= 0) close(dfd);
    free(dir_copy);
    atomic_release(af);
    return st;
}
