# cli_lib.sh — helpers sourced by the CLI tests. The sourcing script sets
# crvq (the binary), tmp (a scratch directory) and fail=0; the helpers set
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
