#!/bin/bash
# test_cli_omp_wait.sh CRVQ — crvq's OpenMP threads wait passively (libgomp
# spin count 0) unless the user chose a policy or a spin count, which then
# stay as given (src/cli/omp_wait.c). Read from libgomp's OMP_DISPLAY_ENV.
set -u
crvq=$1
spin() { # ENV... -> the spin counts libgomp displays, one line per process
    env "$@" OMP_DISPLAY_ENV=verbose "$crvq" --help 2>&1 >/dev/null | sed -n "s/^ *GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p"
}
[ -n "$(spin)" ] || { echo "SKIP: the OpenMP runtime is not libgomp (no GOMP_SPINCOUNT in OMP_DISPLAY_ENV)"; exit 77; }
fail=0
check() { # WANT ENV...: the last process's spin count
    local got
    got=$(spin "${@:2}" | tail -n1)
    [ "$got" = "$1" ] || { echo "FAIL: ${*:2}: spin count $got (want $1)"; fail=1; }
}
check 0
check 5 GOMP_SPINCOUNT=5
check 30000000000 OMP_WAIT_POLICY=active
"$crvq" --help >/dev/null || { echo "FAIL: crvq --help after the re-execution"; fail=1; }
[ $fail = 0 ] && echo "ok"
exit $fail
