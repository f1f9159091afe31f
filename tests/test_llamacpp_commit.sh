#!/bin/bash
# test_llamacpp_commit.sh CRVQ — bench/llamacpp_commit.sh on stand-in trees
# made here (a CMakeLists.txt, ggml/, the version files; no llama.cpp code):
# a git checkout gives its commit (and "(modified)" when a tracked file
# changed), a copy without .git its ggml sync and gguf-py version, or the
# commit its build-info recorded; a copy inside another repository does not
# report that repository's HEAD; no tree, or none given, is exit 1.
set -u
src=${CRVQ_SOURCE:-$(dirname "$0")/..}
script=$src/bench/llamacpp_commit.sh
command -v git >/dev/null && command -v python3 >/dev/null || { echo "SKIP: git or python3 not found"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-lcommit.XXXXXX") fail=0
trap 'rm -rf "$tmp"' EXIT
lc() { LLAMACPP=$1 bash "$script" "${@:2}"; }
tree() {
    mkdir -p "$1/ggml" "$1/scripts" "$1/gguf-py"
    echo "project(llama.cpp)" >"$1/CMakeLists.txt"
    echo 98a61a0d0b43cba06c3ac1c603813639552a0701 >"$1/scripts/sync-ggml.last"
    printf '[tool.poetry]\nname = "gguf"\nversion = "0.15.0"\n' >"$1/gguf-py/pyproject.toml"
}
check() { [ "$2" = "$3" ] || { echo "FAIL: $1: got '$2', want '$3'"; fail=1; }; }

tree "$tmp/plain"
check "no .git" "$(lc "$tmp/plain")" "unknown (no .git; ggml sync 98a61a0d, gguf-py 0.15.0)"
lc "$tmp/plain" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["commit"] is None and d["source"] == "files" and d["ggml_sync"].startswith("98a61a0d") and d["gguf_py"] == "0.15.0", d' || fail=1
mkdir -p "$tmp/plain/common" && printf 'int LLAMA_BUILD_NUMBER = 4748;\nchar const *LLAMA_COMMIT = "c392e5094";\n' >"$tmp/plain/common/build-info.cpp"
check "build-info" "$(lc "$tmp/plain")" "c392e5094 (no .git; from its build-info, build 4748; ggml sync 98a61a0d, gguf-py 0.15.0)"

tree "$tmp/repo"
g() { git -C "$tmp/repo" -c user.name=t -c user.email=t@t -c commit.gpgsign=false "$@"; }
g init -q && g add -A && g commit -q -m one || { echo "FAIL: git init"; exit 1; }
head=$(g rev-parse HEAD)
check "git" "$(lc "$tmp/repo")" "${head:0:8}"
lc "$tmp/repo" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["commit"] == sys.argv[1] and d["source"] == "git", d' "$head" || fail=1
echo changed >>"$tmp/repo/CMakeLists.txt"
check "modified" "$(lc "$tmp/repo")" "${head:0:8} (modified)"
# a tree copied into another checkout is not that checkout's commit
tree "$tmp/repo/vendor/llama"
check "nested copy" "$(lc "$tmp/repo/vendor/llama")" "unknown (no .git; ggml sync 98a61a0d, gguf-py 0.15.0)"

lc "$tmp/none" >/dev/null 2>&1 && { echo "FAIL: a missing tree was accepted"; fail=1; }
LLAMACPP='' bash "$script" >/dev/null 2>&1 && { echo "FAIL: no LLAMACPP was accepted"; fail=1; }
exit $fail
