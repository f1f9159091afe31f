# cli_lib.sh — helpers sourced by the CLI tests. The sourcing script sets
# crvq (the binary), tmp (a scratch directory, or calls scratch) and fail=0;
# need skips a test whose data is missing; the other helpers set
# fail=1 on a failed check and go on, so one run reports every failure.

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

# need FILE...: skip the test (exit 77, saying why) unless every FILE exists
# and python3 is found
need() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || { echo "SKIP: $f not found (shared data missing)"; exit 77; }
    done
    command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
}

# scratch NAME: tmp = a new scratch directory, removed when the test exits
scratch() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-$1.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
}
