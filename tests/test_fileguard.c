// test_fileguard.c — util/fileguard and io/atomic against the ways a run can
// lose a user's file: a signal while a temporary exists, an output that is
// an input under another name, a lock held by another run, a checkpoint
// crvq did not make, a write that fails (the message must carry errno).
// Each case runs in a child process: the guard's registry is per process,
// and signals and file-size limits end or change the process.
#include "check.h"
#include "io/atomic.h"
#include "io/mapfile.h"
#include "util/fileguard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[1024];

static const char *path_in(const char *name) {
    static char buf[8][4096];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

static void write_text(const char *name, const char *text) {
    FILE *f = fopen(path_in(name), "w");
    fputs(text, f);
    fclose(f);
}

// Entries of dir whose name contains `needle`.
static int count_entries(const char *needle) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, needle) != NULL;
    if (d) closedir(d);
    return n;
}

// Runs fn in a child; returns its wait status.
static int in_child(void (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        exit(check_failures ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static int exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

// --- a signal while the temporary exists ------------------------------------------------

static int g_sig;
static void write_then_signal(void) {
    crvq_atomic_file af;
    if (crvq_atomic_open(path_in("sig.out"), &af) != CRVQ_OK) _exit(3);
    fputs("half of a file", af.f);
    fflush(af.f);
    raise(g_sig);
    _exit(4); // not reached: the signal ends the process
}

static void test_signals(void) {
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        g_sig = sigs[i];
        int st = in_child(write_then_signal);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == g_sig, "signal %d: status %#x", g_sig, st);
        CHECK_MSG(count_entries(".tmp.") == 0, "signal %d left a temporary file", g_sig);
        CHECK(count_entries("sig.out") == 0);
    }
}

// --- an output never replaces an input --------------------------------------------------

static void refuse_inputs(void) {
    crvq_mapfile m;
    CHECK(crvq_mapfile_open(path_in("input.txt"), &m) == CRVQ_OK);
    crvq_mapfile_close(&m);
    link(path_in("input.txt"), path_in("hard.txt"));
    symlink(path_in("input.txt"), path_in("soft.txt"));
    const char *names[] = {"input.txt", "hard.txt", "soft.txt", "./input.txt"};
    for (int i = 0; i < 4; i++) {
        crvq_atomic_file af;
        CHECK_MSG(crvq_atomic_open(path_in(names[i]), &af) != CRVQ_OK, "%s", names[i]);
        CHECK_MSG(strstr(crvq_last_error(), "would replace the input"), "%s", crvq_last_error());
    }
    // another file is written, and the input is still what it was
    crvq_atomic_file af;
    CHECK(crvq_atomic_open(path_in("new.txt"), &af) == CRVQ_OK);
    CHECK(crvq_atomic_write(&af, "x", 1) && crvq_atomic_commit(&af) == CRVQ_OK);
    char *text = NULL;
    CHECK(crvq_read_file(path_in("soft.txt"), &text, NULL) == CRVQ_OK && text && strcmp(text, "input\n") == 0);
    free(text);
    // the guard sees the same collisions before any work
    CHECK(crvq_guard_output("-o", path_in("hard.txt"), NULL) == CRVQ_OK);
    CHECK(crvq_guard_check() != CRVQ_OK && strstr(crvq_last_error(), "replace the input"));
}

// A FIFO is refused at once, not opened for reading (which waits for a writer).
static void refuse_fifo(void) {
    crvq_mapfile m;
    CHECK(crvq_mapfile_open(path_in("fifo"), &m) != CRVQ_OK);
    CHECK_MSG(strstr(crvq_last_error(), "not a regular file (a FIFO)"), "%s", crvq_last_error());
    CHECK(crvq_guard_input("--calib", path_in("fifo"), 0) != CRVQ_OK);
    crvq_atomic_file af;
    CHECK(crvq_atomic_open(path_in("fifo"), &af) != CRVQ_OK);
}

// --- outputs validated before the work ------------------------------------------------------

static const char *g_out_path, *g_out_path2;
static int g_probe_result;
static int probe(const char *path) { return g_probe_result; }

static void check_one_output(void) {
    crvq_guard_output("-o", g_out_path, NULL);
    if (g_out_path2) crvq_guard_output("--checkpoint", g_out_path2, probe);
    exit(crvq_guard_check() == CRVQ_OK ? 0 : 1); // exit, not _exit: the lock files go at exit
}

static int output_ok(const char *a, const char *b, int probe_result) {
    g_out_path = a;
    g_out_path2 = b;
    g_probe_result = probe_result;
    return exited_ok(in_child(check_one_output));
}

static void test_outputs(void) {
    CHECK(output_ok(path_in("fine.gguf"), NULL, 0));
    CHECK(!output_ok("", NULL, 0));
    CHECK(!output_ok(dir, NULL, 0));
    CHECK(!output_ok(path_in("no-such-dir/o.gguf"), NULL, 0));
    CHECK(!output_ok(path_in("fifo"), NULL, 0));
    CHECK(!output_ok(path_in("input.txt/o.gguf"), NULL, 0)); // parent is a file
    CHECK(!output_ok(path_in("o.gguf"), path_in("o.gguf"), 0));
    CHECK(!output_ok(path_in("o.gguf"), path_in("./o.gguf"), 0));
    CHECK(!output_ok(path_in("o.gguf"), path_in("fifo"), 1));
    // an existing checkpoint: only a crvq one may be replaced
    CHECK(!output_ok(path_in("o.gguf"), path_in("notes.txt"), 0));
    CHECK(output_ok(path_in("o.gguf"), path_in("notes.txt"), 1));
    CHECK(count_entries(".lock") == 0);
}

// --- checkpoints: removed only when crvq made them ------------------------------------------

static void remove_checkpoints(void) {
    CHECK(crvq_guard_remove_checkpoint(path_in("notes.txt")) == 0);
    CHECK(access(path_in("notes.txt"), F_OK) == 0);
    const char *names[] = {"made.ckpt", "replaced.ckpt"};
    for (int i = 0; i < 2; i++) {
        crvq_atomic_file af;
        CHECK(crvq_atomic_open(path_in(names[i]), &af) == CRVQ_OK);
        CHECK(crvq_atomic_write(&af, "ckpt", 4) && crvq_atomic_commit(&af) == CRVQ_OK);
    }
    CHECK(crvq_guard_remove_checkpoint(path_in("made.ckpt")) == 1);
    CHECK(access(path_in("made.ckpt"), F_OK) != 0);
    // a file someone put at the name afterwards is not the one crvq made
    write_text("user.ckpt", "user\n");
    rename(path_in("user.ckpt"), path_in("replaced.ckpt"));
    CHECK(crvq_guard_remove_checkpoint(path_in("replaced.ckpt")) == 0);
    CHECK(access(path_in("replaced.ckpt"), F_OK) == 0);
    unlink(path_in("replaced.ckpt"));
}

// --- two runs on one output ---------------------------------------------------------------

static int g_pipe[2];
static void hold_lock(void) {
    crvq_guard_output("-o", path_in("shared.gguf"), NULL);
    char c = crvq_guard_check() == CRVQ_OK ? 'y' : 'n';
    if (write(g_pipe[1], &c, 1) != 1) _exit(2);
    if (read(g_pipe[0], &c, 1) != 1) _exit(2); // until the parent says
    exit(0);
}
static void try_lock(void) {
    crvq_guard_output("-o", path_in("shared.gguf"), NULL);
    int ok = crvq_guard_check() == CRVQ_OK;
    if (!ok && !strstr(crvq_last_error(), "another crvq run is writing")) _exit(3);
    exit(ok ? 0 : 1);
}

static void test_lock(void) {
    int to_child[2], from_child[2];
    CHECK(pipe(to_child) == 0 && pipe(from_child) == 0);
    fflush(NULL);
    pid_t holder = fork();
    if (holder == 0) {
        g_pipe[0] = to_child[0];
        g_pipe[1] = from_child[1];
        hold_lock();
    }
    char c = 0;
    CHECK(read(from_child[0], &c, 1) == 1 && c == 'y');
    int st = in_child(try_lock);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 1, "second run: status %#x", st);
    CHECK(write(to_child[1], "x", 1) == 1);
    waitpid(holder, &st, 0);
    CHECK(exited_ok(st));
    CHECK_MSG(count_entries(".lock") == 0, "the holder left its lock file");
    CHECK(exited_ok(in_child(try_lock))); // free again
    // a pre-existing OUT.lock (whoever made it) is locked but never removed
    write_text("shared.gguf.lock", "");
    CHECK(exited_ok(in_child(try_lock)));
    CHECK(access(path_in("shared.gguf.lock"), F_OK) == 0);
    unlink(path_in("shared.gguf.lock"));
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
}

// --- a failed write says why -------------------------------------------------------------------

static void write_too_large(void) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {4096, 4096};
    setrlimit(RLIMIT_FSIZE, &rl);
    static char block[65536];
    crvq_atomic_file af;
    CHECK(crvq_atomic_open(path_in("big.bin"), &af) == CRVQ_OK);
    CHECK(!crvq_atomic_write(&af, block, sizeof block));
    CHECK(crvq_atomic_commit(&af) != CRVQ_OK);
    CHECK_MSG(strstr(crvq_last_error(), "big.bin: cannot write: File too large"), "%s", crvq_last_error());
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/crvq-fileguard.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    write_text("input.txt", "input\n");
    write_text("notes.txt", "my notes\n");
    mkfifo(path_in("fifo"), 0644);

    test_signals();
    CHECK(exited_ok(in_child(refuse_inputs)));
    CHECK(exited_ok(in_child(refuse_fifo)));
    test_outputs();
    CHECK(exited_ok(in_child(remove_checkpoints)));
    test_lock();
    CHECK(exited_ok(in_child(write_too_large)));
    CHECK(count_entries(".tmp.") == 0 && count_entries("big.bin") == 0);

    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_done();
}
