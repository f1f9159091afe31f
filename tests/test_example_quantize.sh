#!/bin/bash
# test_example_quantize.sh — examples/quantize_model.c, the library used
# through include/crvq.h alone: on stories260K it quantizes (RTN 4-bit),
# saves, reloads, and the compressed file's perplexity is that of a 4-bit
# model: above the original's, within 25% of it. The file is a crvq file
# that `crvq info` reads with the method recorded.
set -u
CRVQ=${1:-${CRVQ_BIN:-crvq}}
EXAMPLE=$(dirname "$CRVQ")/crvq_example_quantize
SHARED=${CRVQ_SHARED:-../shared}
MODEL=$SHARED/models/stories260K/stories260K.bin TEXT=$SHARED/data/tinystories-val-1k.txt
for f in "$MODEL" "$TEXT"; do
    [ -r "$f" ] || { echo "skip: $f not found"; exit 77; }
done
[ -x "$EXAMPLE" ] || { echo "FAIL: $EXAMPLE not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$("$EXAMPLE" "$MODEL" "$TEXT" "$TEXT" "$tmp/q.gguf") || { echo "$out"; echo "FAIL: the example exits non-zero"; exit 1; }
echo "$out"
python3 - "$out" <<'PY' || { echo "FAIL: perplexities"; exit 1; }
import re, sys
p = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+)\s+perplexity ([0-9.]+)", sys.argv[1], re.M)}
assert set(p) == {"original", "quantized"}, p
assert p["original"] < p["quantized"] < 10 * p["original"], p
b = [float(x) for x in re.findall(r"([0-9.]+) bits per linear weight", sys.argv[1])]
assert b[0] == 32 and 1 < b[1] < 4, b
PY
"$CRVQ" info -m "$tmp/q.gguf" --json | tail -n 1 | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["crvq"]["method"] == "crvq" and j["crvq"]["d"] == 4 and j["crvq"]["e"] == [6, 4], j["crvq"]
' || { echo "FAIL: crvq info of the example's file"; exit 1; }
echo "ok"
