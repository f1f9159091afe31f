#!/usr/bin/env bash
# llamacpp_commit.sh — which llama.cpp a benchmark ran against (issue 13: "the
# llama.cpp commit used"), as one line on stdout.
#
#   LLAMACPP=/path/to/llama.cpp bash bench/llamacpp_commit.sh [--json]
#
# A git checkout prints its commit ("c392e509", and " (modified)" when
# tracked files differ from it). A tree without .git (a release tarball, a
# copy) has no commit to name; it still names the ggml sync it carries
# (scripts/sync-ggml.last) and the gguf-py version: "unknown (no .git; ggml
# sync 98a61a0d, gguf-py 0.15.0)", led by the commit a build recorded in
# common/build-info.cpp when it saw one. --json prints one JSON object
# instead: {"commit", "describe", "ggml_sync", "gguf_py", "source",
# "build_number", "build_commit"}, null for what is not known, source "git"
# or "files".
# Exit 1 when LLAMACPP is not set or is not a llama.cpp source tree.
set -euo pipefail
json=0
[ "${1:-}" = --json ] && json=1
dir=${LLAMACPP:-}
[ -n "$dir" ] || { echo "llamacpp_commit: LLAMACPP is not set (a llama.cpp source tree)" >&2; exit 1; }
[ -f "$dir/CMakeLists.txt" ] && [ -d "$dir/ggml" ] ||
    { echo "llamacpp_commit: $dir is not a llama.cpp source tree" >&2; exit 1; }

commit='' describe='' source=files
# only the tree's own repository: a copy inside another checkout must not report that one's HEAD
if top=$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null) && [ "$(cd "$top" && pwd -P)" = "$(cd "$dir" && pwd -P)" ]; then
    commit=$(git -C "$dir" rev-parse HEAD)
    describe=$(git -C "$dir" describe --tags --always 2>/dev/null || true)
    git -C "$dir" diff --quiet HEAD -- 2>/dev/null || describe="$describe (modified)"
    source=git
fi
sync=$(head -c 40 "$dir/scripts/sync-ggml.last" 2>/dev/null || true)
gguf=$(sed -n 's/^version = "\(.*\)"/\1/p' "$dir/gguf-py/pyproject.toml" 2>/dev/null | head -1 || true)
# a build records what it was built from (common/build-info.cpp, generated)
binfo=$(ls "$dir"/common/build-info.cpp "$dir"/build/common/build-info.cpp 2>/dev/null | head -1 || true)
bnum='' bcommit=''
if [ -n "$binfo" ]; then
    bnum=$(sed -n 's/.*LLAMA_BUILD_NUMBER *= *\([0-9]*\).*/\1/p' "$binfo" | head -1)
    bcommit=$(sed -n 's/.*LLAMA_COMMIT *= *"\([^"]*\)".*/\1/p' "$binfo" | head -1)
fi

if [ $json = 1 ]; then
    python3 -c '
import json, sys
v = [a or None for a in sys.argv[1:]]
print(json.dumps({"commit": v[0], "describe": v[1], "ggml_sync": v[2], "gguf_py": v[3], "source": v[4],
                  "build_number": int(v[5]) if v[5] else None, "build_commit": v[6]}))' \
        "$commit" "$describe" "$sync" "$gguf" "$source" "$bnum" "$bcommit"
elif [ -n "$commit" ]; then
    case "$describe" in *"(modified)") echo "${commit:0:8} (modified)" ;; *) echo "${commit:0:8}" ;; esac
else
    s8=${sync:0:8}
    if [ -n "$bcommit" ] && [ "$bcommit" != unknown ]; then
        # the build saw a .git that is gone now: its word is all there is
        echo "$bcommit (no .git; from its build-info, build $bnum; ggml sync ${s8:-?}, gguf-py ${gguf:-?})"
    else
        echo "unknown (no .git; ggml sync ${s8:-?}, gguf-py ${gguf:-?})"
    fi
fi
