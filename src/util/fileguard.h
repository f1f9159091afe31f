// fileguard.h — the files a run reads and the files it writes, so that no
// output ever writes over, renames over or deletes a file the run reads
// (README, "What crvq guarantees about your files").
//
// A file is its identity (st_dev, st_ino) as stat() gives it, which follows
// symlinks: the same file under another spelling, a hard link or a symlink
// is the same file. Three sets, for the whole process:
//   read     every file mapped by crvq_mapfile_open (so every reader), and
//            the inputs a command names (crvq_guard_input);
//   own      every file the atomic writer put in place, and the existing
//            checkpoints a command was given that are crvq checkpoints;
//   outputs  what a command will write (crvq_guard_output), validated and
//            locked by crvq_guard_check before the work starts.
// The atomic writer refuses to replace a file that is read and not own, so
// the guarantee holds even where a command forgot to register something;
// crvq_guard_check only makes the refusal come before hours of work.
//
// Locking: each output OUT is locked with flock() on a sidecar OUT.lock,
// opened read-only and never written. The sidecar is removed at exit only
// if this run created it (a pre-existing OUT.lock, whoever made it, is
// never deleted); a run killed by SIGKILL leaves an empty OUT.lock, which
// the next run simply locks again. Locking the output itself would not
// work: it is replaced by rename, so two runs would lock different inodes.
//
// Signals: temporaries registered with crvq_guard_temp_add (the atomic
// writer's OUT.tmp.XXXXXX, the sidecars this run created) are unlinked on
// SIGINT, SIGTERM and SIGHUP, then the signal is re-raised with its
// default action. The handler only calls unlink(), signal() and raise().
//
// Not thread-safe except crvq_guard_temp_add/remove against the handler:
// files are opened and written from one thread.
#ifndef CRVQ_UTIL_FILEGUARD_H
#define CRVQ_UTIL_FILEGUARD_H

#include "crvq.h"

#include <sys/stat.h>

// "a FIFO", "a directory", ... for messages about non-regular files.
const char *crvq_guard_kind(mode_t mode);

// ---- readers and the atomic writer --------------------------------------
void crvq_guard_note_read(const char *path, const struct stat *st);
// Fails (naming both files) if writing `path` would replace a file this
// process reads, or a FIFO, device or directory.
crvq_status crvq_guard_may_replace(const char *path);
// The file now at `path` was put there by this process.
void crvq_guard_note_written(const char *path);
// `path` (kept by the caller until removed) is unlinked if a signal ends
// the process first.
void crvq_guard_temp_add(const char *path);
void crvq_guard_temp_remove(const char *path);

// ---- commands ------------------------------------------------------------
// Tells whether an existing file is a checkpoint crvq wrote (its metadata).
typedef int (*crvq_probe_fn)(const char *path);

// An input named by `flag`: it must exist and be a regular file, or a
// directory when dir_ok (a Hugging Face model: its .json, .safetensors and
// .model files are registered as read).
crvq_status crvq_guard_input(const char *flag, const char *path, int dir_ok);
// An output named by `flag`; `probe` non-NULL marks a checkpoint, which may
// already exist only as a crvq checkpoint of that kind.
crvq_status crvq_guard_output(const char *flag, const char *path, crvq_probe_fn probe);
// Validates the outputs (not empty, no directory or other non-regular file,
// an existing writable parent directory, pairwise distinct, none of them a
// file read so far, checkpoints crvq's) and locks them. Call it once before
// loading anything, and again after the models are loaded (their files are
// read by then); the locks are taken once and held until exit.
crvq_status crvq_guard_check(void);
// Removes the checkpoint at `path` if this process wrote it or adopted it
// as a crvq checkpoint; returns 1 if removed. Anything else stays.
int crvq_guard_remove_checkpoint(const char *path);

#endif
