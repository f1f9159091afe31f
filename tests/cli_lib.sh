# cli_lib.sh — what the shell tests share, sourced before anything else. The
# sourcing script sets crvq (the binary) and tmp (a scratch directory, or
# calls scratch); need skips a test whose data is missing; json and expect
# set fail=1 on a failed check and go on, ok counts its checks, so one run
# reports every failure.

# The shared data (CRVQ_SHARED, set by CTest) and the stories260K files most
# tests run on, named once here.
shared=${CRVQ_SHARED:-../shared}
stories=$shared/models/stories260K
model=$stories/stories260K.bin
f16=$stories/stories260K-f16.gguf
f32=$stories/stories260K-f32.gguf
tok=$stories/tok512.bin
text=$shared/data/tinystories-val-1k.txt
pgdev=$shared/models/pg-dev
fail=0 count=0 failed=0

# json FILE PYTHON-EXPR: the expression over d (the last stdout line) must hold
json() {
    python3 -c "import json,math,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if ($2) else 1)" "$1" ||
        { echo "FAIL: $2 on $(tail -n1 "$1")"; fail=1; }
}

# expect CODE ARGS...: exit status CODE, stdout in $tmp/out
expect() {
    local code=$1
    shift
    "$crvq" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    [ "$rc" = "$code" ] || { echo "FAIL: crvq $* -> exit $rc (want $code)"; cat "$tmp/err"; fail=1; }
}

# exits CODE ARGS...: crvq ARGS exits with CODE (stdout in $tmp/out, stderr
# in $tmp/err); else it says so and returns 1, for ok to count
exits() {
    local want=$1
    shift
    "$crvq" "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "  exit $got, want $want: crvq $*" >&2
        cat "$tmp/err" >&2
        return 1
    fi
}

# ok DESCRIPTION COMMAND...: one counted check (count) that COMMAND
# succeeds; a failure is counted in failed
ok() {
    count=$((count + 1))
    local what=$1
    shift
    "$@" || { echo "FAIL: $what"; failed=$((failed + 1)); }
}

# need_files FILE...: skip the test (exit 77, saying why) unless every FILE exists
need_files() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || { echo "SKIP: $f not found (shared data missing)"; exit 77; }
    done
}

# need FILE...: need_files, and python3 must be found
need() {
    need_files "$@"
    command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
}

# scratch NAME: tmp = a new scratch directory, removed when the test exits
scratch() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-$1.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
}
