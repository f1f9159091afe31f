// fileguard.c — file identities read, written and locked by a run (see fileguard.h).
#include "util/fileguard.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

const char *crvq_guard_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return S_ISREG(mode) ? "a regular file" : "an unknown kind of file";
}

// ------------------------------------------------------------ identities ---

typedef struct ident {
    dev_t dev;
    ino_t ino;
    char *path; // as first seen, for messages
    int fd;     // own files: an O_PATH descriptor, so that the inode number
                // cannot be reused by another file while it is in the set
} ident;

typedef struct ident_set {
    ident *v;
    int n, cap;
} ident_set;

static ident_set g_read, g_own;

static const ident *set_find(const ident_set *s, const struct stat *st) {
    for (int i = 0; i < s->n; i++)
        if (s->v[i].dev == st->st_dev && s->v[i].ino == st->st_ino) return &s->v[i];
    return NULL;
}

// Out of memory only loses a record: a lost read makes the early check miss
// a collision the atomic writer may still see; a lost own file is kept
// rather than deleted.
static void set_add(ident_set *s, const char *path, const struct stat *st, int fd) {
    if (set_find(s, st)) {
        if (fd >= 0) close(fd);
        return;
    }
    char *p = strdup(path);
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        ident *v = p ? realloc(s->v, (size_t)cap * sizeof *v) : NULL;
        if (!v) {
            free(p);
            if (fd >= 0) close(fd);
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    if (!p) {
        if (fd >= 0) close(fd);
        return;
    }
    s->v[s->n++] = (ident){st->st_dev, st->st_ino, p, fd};
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

void crvq_guard_note_read(const char *path, const struct stat *st) { set_add(&g_read, path, st, -1); }

// The file now at `path` is crvq's. An earlier own file of the same path
// (a checkpoint replaced by the next block's) leaves the set.
static void own_add(const char *path) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    for (int i = 0; i < g_own.n; i++)
        if (strcmp(g_own.v[i].path, path) == 0) {
            close(g_own.v[i].fd);
            free(g_own.v[i].path);
            g_own.v[i--] = g_own.v[--g_own.n];
        }
    set_add(&g_own, path, &st, fd);
}

void crvq_guard_note_written(const char *path) { own_add(path); }

crvq_status crvq_guard_may_replace(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return CRVQ_OK; // nothing there to replace
    if (!S_ISREG(st.st_mode))
        return crvq_fail(CRVQ_ERR_IO, "%s: not a regular file (%s): crvq does not replace it", path,
                         crvq_guard_kind(st.st_mode));
    const ident *r = set_find(&g_read, &st);
    if (r && !set_find(&g_own, &st)) {
        if (strcmp(r->path, path) == 0)
            return crvq_fail(CRVQ_ERR_IO, "%s would replace the input %s, which this run reads", path, r->path);
        return crvq_fail(CRVQ_ERR_IO, "%s would replace the input %s (the same file), which this run reads", path,
                         r->path);
    }
    return CRVQ_OK;
}

// ----------------------------------------------------- signal clean-up ---

#define MAX_TEMPS 32
static _Atomic(const char *) g_temps[MAX_TEMPS];
static const int g_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig) {
    for (int i = 0; i < MAX_TEMPS; i++) {
        const char *p = atomic_load(&g_temps[i]);
        if (p) unlink(p);
    }
    signal(sig, SIG_DFL);
    raise(sig); // delivered with the default action once the handler returns
}

static void install_handlers(void) {
    static int installed;
    if (installed) return;
    installed = 1;
    for (size_t i = 0; i < sizeof g_signals / sizeof g_signals[0]; i++) {
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        // a signal the parent ignores (nohup, a shell's background job) stays ignored
        if (sigaction(g_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(g_signals[i], &sa, NULL);
    }
}

void crvq_guard_temp_add(const char *path) {
    install_handlers();
    for (int i = 0; i < MAX_TEMPS; i++) {
        const char *expected = NULL;
        if (atomic_compare_exchange_strong(&g_temps[i], &expected, path)) return;
    }
}

void crvq_guard_temp_remove(const char *path) {
    for (int i = 0; i < MAX_TEMPS; i++) {
        const char *expected = path;
        if (atomic_compare_exchange_strong(&g_temps[i], &expected, NULL)) return;
    }
}

// ------------------------------------------------------ named files ---

typedef struct output {
    const char *flag, *path;
    crvq_probe_fn probe;
    char *lock_path;
    int lock_fd, lock_created;
} output;

#define MAX_OUTPUTS 8
static output g_out[MAX_OUTPUTS];
static int g_n_out;

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

// The files of a model directory that a loader may read (the loader's own
// reads are recorded anyway; these make a collision known before loading).
static void note_model_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".json") && !has_suffix(e->d_name, ".safetensors") &&
            !has_suffix(e->d_name, ".model"))
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) break;
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) crvq_guard_note_read(p, &st);
        free(p);
    }
    closedir(d);
}

crvq_status crvq_guard_input(const char *flag, const char *path, int dir_ok) {
    struct stat st;
    if (stat(path, &st) != 0) return crvq_fail(CRVQ_ERR_IO, "%s %s: cannot open: %s", flag, path, strerror(errno));
    if (S_ISDIR(st.st_mode) && dir_ok) {
        note_model_dir(path);
        return CRVQ_OK;
    }
    if (!S_ISREG(st.st_mode))
        return crvq_fail(CRVQ_ERR_IO, "%s %s: not a regular file (%s)", flag, path, crvq_guard_kind(st.st_mode));
    crvq_guard_note_read(path, &st);
    return CRVQ_OK;
}

crvq_status crvq_guard_output(const char *flag, const char *path, crvq_probe_fn probe) {
    if (g_n_out == MAX_OUTPUTS) return crvq_fail(CRVQ_ERR_INVALID, "%s %s: too many outputs", flag, path);
    g_out[g_n_out++] = (output){flag, path, probe, NULL, -1, 0};
    return CRVQ_OK;
}

// The directory part of path (dirname), malloc'd.
static char *parent_of(const char *path) {
    char *copy = strdup(path);
    char *dir = copy ? strdup(dirname(copy)) : NULL;
    free(copy);
    return dir;
}

static const char *base_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

// Every check of one output that needs no other file.
static crvq_status output_valid(const output *o) {
    if (!o->path[0]) return crvq_fail(CRVQ_ERR_INVALID, "%s: the path is empty", o->flag);
    struct stat st;
    if (stat(o->path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return crvq_fail(CRVQ_ERR_INVALID, "%s %s is a directory, not a file name", o->flag, o->path);
        if (!S_ISREG(st.st_mode))
            return crvq_fail(CRVQ_ERR_INVALID, "%s %s: not a regular file (%s): crvq writes its outputs by "
                             "renaming a new file over the name, which would replace it", o->flag, o->path,
                             crvq_guard_kind(st.st_mode));
    } else if (errno != ENOENT) {
        return crvq_fail(CRVQ_ERR_IO, "%s %s: %s", o->flag, o->path, strerror(errno));
    }
    char *dir = parent_of(o->path);
    if (!dir) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    crvq_status r = CRVQ_OK;
    struct stat ds;
    if (stat(dir, &ds) != 0)
        r = crvq_fail(CRVQ_ERR_IO, "%s %s: directory %s: %s", o->flag, o->path, dir, strerror(errno));
    else if (!S_ISDIR(ds.st_mode))
        r = crvq_fail(CRVQ_ERR_IO, "%s %s: %s is not a directory", o->flag, o->path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        r = crvq_fail(CRVQ_ERR_IO, "%s %s: cannot create files in %s: %s", o->flag, o->path, dir, strerror(errno));
    free(dir);
    return r;
}

// Whether two names are one file: the same existing file, or the same name
// in the same directory.
static int same_entry(const char *a, const char *b) {
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb) return same_file(&sa, &sb);
    if (ea != eb || strcmp(base_of(a), base_of(b)) != 0) return 0;
    char *da = parent_of(a), *db = parent_of(b);
    int same = da && db && stat(da, &sa) == 0 && stat(db, &sb) == 0 && same_file(&sa, &sb);
    free(da);
    free(db);
    return same;
}

// Whether `lock` is spelled as the sidecar of `path` (PATH.lock).
static int is_lock_of(const char *lock, const char *path) {
    size_t n = strlen(path);
    return strncmp(lock, path, n) == 0 && strcmp(lock + n, ".lock") == 0;
}

static crvq_status lock_output(output *o) {
    size_t n = strlen(o->path);
    if (!o->lock_path && !(o->lock_path = malloc(n + 6))) return crvq_fail(CRVQ_ERR_NOMEM, "out of memory");
    memcpy(o->lock_path, o->path, n);
    memcpy(o->lock_path + n, ".lock", 6);
    const char *lp = o->lock_path;
    // A run that held the lock may remove its sidecar as we open it: then the
    // inode we locked is no longer the one at the name, and we try again.
    for (int attempt = 0; attempt < 16; attempt++) {
        int created = 1;
        int fd = open(lp, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST) {
            created = 0;
            fd = open(lp, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0 && errno == ENOENT) continue;
        }
        if (fd < 0) return crvq_fail(CRVQ_ERR_IO, "%s %s: cannot open the lock file %s: %s", o->flag, o->path, lp,
                                     strerror(errno));
        if (created) crvq_guard_temp_add(lp);
        struct stat fs, ps;
        if (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode)) {
            if (created) {
                unlink(lp);
                crvq_guard_temp_remove(lp);
            }
            close(fd);
            return crvq_fail(CRVQ_ERR_IO, "%s %s: the lock file %s is not a regular file", o->flag, o->path, lp);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            // a run that opened our new sidecar locked it first: it is theirs now
            if (created) crvq_guard_temp_remove(lp);
            close(fd);
            if (e == EWOULDBLOCK)
                return crvq_fail(CRVQ_ERR_IO, "another crvq run is writing %s (it holds %s)", o->path, lp);
            return crvq_fail(CRVQ_ERR_IO, "%s %s: cannot lock %s: %s", o->flag, o->path, lp, strerror(e));
        }
        if (stat(lp, &ps) == 0 && same_file(&fs, &ps)) {
            o->lock_fd = fd;
            o->lock_created = created;
            return CRVQ_OK;
        }
        if (created) crvq_guard_temp_remove(lp);
        close(fd);
    }
    return crvq_fail(CRVQ_ERR_IO, "%s %s: cannot lock %s: it keeps being replaced", o->flag, o->path, lp);
}

// At exit: remove the sidecars this run created (while still holding their
// locks), then let go of them.
static void release_locks(void) {
    for (int i = 0; i < g_n_out; i++) {
        output *o = &g_out[i];
        if (o->lock_fd < 0) continue;
        struct stat fs, ps;
        if (o->lock_created && fstat(o->lock_fd, &fs) == 0 && stat(o->lock_path, &ps) == 0 && same_file(&fs, &ps))
            unlink(o->lock_path);
        if (o->lock_created) crvq_guard_temp_remove(o->lock_path);
        close(o->lock_fd);
        o->lock_fd = -1;
    }
}

crvq_status crvq_guard_check(void) {
    crvq_status r;
    for (int i = 0; i < g_n_out; i++)
        if ((r = output_valid(&g_out[i]))) return r;
    for (int i = 0; i < g_n_out; i++)
        for (int j = i + 1; j < g_n_out; j++) {
            const output *a = &g_out[i], *b = &g_out[j];
            if (same_entry(a->path, b->path))
                return crvq_fail(CRVQ_ERR_INVALID, "%s %s and %s %s are the same file", a->flag, a->path, b->flag,
                                 b->path);
            if (is_lock_of(a->path, b->path) || is_lock_of(b->path, a->path))
                return crvq_fail(CRVQ_ERR_INVALID, "%s %s and %s %s: one is the other's lock file", a->flag, a->path,
                                 b->flag, b->path);
        }
    for (int i = 0; i < g_n_out; i++)
        if ((r = crvq_guard_may_replace(g_out[i].path))) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", crvq_last_error());
            return crvq_fail(r, "%s %s", g_out[i].flag, msg); // "-o PATH would replace ..."
        }
    // An existing checkpoint is crvq's or stays untouched: adopt it, or refuse the run.
    for (int i = 0; i < g_n_out; i++) {
        const output *o = &g_out[i];
        struct stat st;
        if (!o->probe || stat(o->path, &st) != 0 || set_find(&g_own, &st)) continue;
        if (!o->probe(o->path))
            return crvq_fail(CRVQ_ERR_INVALID, "%s %s exists and is not a crvq checkpoint of this command: crvq "
                             "will neither overwrite nor delete it (name another file)", o->flag, o->path);
        own_add(o->path);
    }
    static int at_exit;
    if (!at_exit && g_n_out) {
        atexit(release_locks);
        at_exit = 1;
    }
    for (int i = 0; i < g_n_out; i++)
        if (g_out[i].lock_fd < 0 && (r = lock_output(&g_out[i]))) return r;
    return CRVQ_OK;
}

int crvq_guard_remove_checkpoint(const char *path) {
    struct stat st, os;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !set_find(&g_own, &st)) return 0;
    for (int i = 0; i < g_n_out; i++) // never another output under a second name
        if (strcmp(g_out[i].path, path) != 0 && stat(g_out[i].path, &os) == 0 && same_file(&st, &os)) return 0;
    return unlink(path) == 0;
}
