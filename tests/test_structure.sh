#!/bin/bash
# test_structure.sh — scripts/check_structure.py finds nothing: no function
# over 80 lines, no import cycle, no include of a layer above
# (docs/design.md, "Rules of the layout").
set -u
src=${CRVQ_SOURCE:-$(dirname "$0")/..}
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
check="$src/scripts/check_structure.py"

out=$(python3 "$check" 2>&1)
rc=$?
echo "$out"
if [ "$rc" != 0 ] || [ "$(printf '%s\n' "$out" | grep -vc '^structure ok: ')" != 0 ]; then
    echo "FAIL: check_structure.py exited $rc and reported the lines above"
    exit 1
fi

# The checker must see the sources: with a 1-line bound every function fails.
if python3 "$check" --max-lines 1 >/dev/null 2>&1; then
    echo "FAIL: check_structure.py --max-lines 1 found no function: it reads no source"
    exit 1
fi
exit 0
