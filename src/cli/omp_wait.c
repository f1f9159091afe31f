// omp_wait.c — idle OpenMP threads of crvq sleep instead of spinning.
//
// Between parallel regions libgomp's idle threads spin, by default for
// 300000 iterations (milliseconds on this AMD EPYC) before they sleep. Where
// the threads outnumber the free cores (a shared machine; OpenBLAS's own
// threads in a matrix product), the spinning thread holds the core that the
// thread it waits for needs: perf of a 2-thread decode of a CRVQ file on a
// 2-core machine at load 11 had 87% of its time in that spin, and 2 threads
// decoded 12x slower than one; with OMP_WAIT_POLICY=passive they decoded
// 2.6x faster than one (bench/results/threads.md).
//
// libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, in its constructor,
// before main() runs (an ELF .preinit_array entry runs earlier but libc
// resets the environment after it), so crvq sets the policy and executes
// itself again. A user's own setting of either variable is left alone.
#include "cli/cli.h"

#include <stdlib.h>
#include <unistd.h>

void cli_default_omp_wait(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 0)) return;
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY"); // no /proc: run on with the runtime's default, as before
}
