#!/bin/bash
# test_cli_head.sh CRVQ — `crvq quantize --head FMT / --embeddings FMT` on
# stories260K (tied head, dim 64): the file round-trips (the head becomes its
# own scalar tensor, the embedding is stored as qweight/qscale/qzero and read
# back), 8-bit head and embedding move the perplexity by < 1% (an 8-bit grid
# over 32 columns keeps every weight within scale/2 = range/510), and a bad
# FMT is a usage error (exit 2) naming the flag, before any work. The report,
# the plan and info count the head and embedding by the scalar formula.
# The tied head: --head unties it with a warning on stderr saying what is
# stored, --embeddings alone quantizes both with a note, an untied model gets
# neither; the JSON's tied_embeddings / head_untied say the same.
set -u
crvq=$1
# model, tok, text, need_files, scratch
source "$(dirname "$0")/cli_lib.sh"
calib=$text
need_files "$model" "$tok" "$calib"
scratch head
q() { "$crvq" quantize -m "$model" --tokenizer "$tok" --calib "$calib" --method rtn --bits 4 --group-size 4 \
      --nsamples 4 --seqlen 64 --quiet "$@"; }
ppl() { "$crvq" perplexity -m "$1" -f "$calib" --ctx 128 --max-windows 4 --json 2>/dev/null | tail -1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["nll"])'; }

for bad in q9 q1 x8 q q4g0 q4g q4x "q4 " q8g48; do
    q -o "$tmp/bad.gguf" --head "$bad" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 0 ] || [ -f "$tmp/bad.gguf" ] || ! grep -q -- "--head" "$tmp/err"; then
        echo "FAIL: --head '$bad': rc $rc, $(cat "$tmp/err")"; fail=1
    fi
done
q -o "$tmp/bad.gguf" --embeddings q4g48 >/dev/null 2>"$tmp/err" && { echo "FAIL: --embeddings q4g48 accepted"; fail=1; }
grep -q "group size 48 does not divide" "$tmp/err" || { echo "FAIL: --embeddings q4g48: $(cat "$tmp/err")"; fail=1; }

q -o "$tmp/base.gguf" >/dev/null || { echo "FAIL: quantize"; exit 1; }
q -o "$tmp/q8.gguf" --head q8g32 --embeddings q8g16 --json >"$tmp/qj" || { echo "FAIL: quantize --head q8"; exit 1; }
"$crvq" info -m "$tmp/q8.gguf" >"$tmp/info" || { echo "FAIL: info"; exit 1; }
"$crvq" info -m "$tmp/q8.gguf" --json | tail -1 >"$tmp/ij"
# the report names both settings, counts them as info does (q8g32: 8 + 32/32
# bits, q8g16: 8 + 32/16), and so does the plan
q -o "$tmp/dry.gguf" --head q8g32 --embeddings q8g16 --dry-run >"$tmp/dry"
q -o "$tmp/dry.gguf" --head q8g32 --embeddings q8g16 --dry-run --json | tail -1 >"$tmp/dj"
grep -q "^output  *512 x 64  *9.0000  q8g32 gptq$" "$tmp/dry" && grep -q "^token_embd  *512 x 64  *10.0000  q8g16 rtn$" "$tmp/dry" ||
    { echo "FAIL: --dry-run rows"; cat "$tmp/dry"; fail=1; }
grep -q "^output head q8g32 gptq: 9.0000 bits per weight" "$tmp/qj" || { echo "FAIL: report line"; fail=1; }
python3 - "$tmp/qj" "$tmp/ij" "$tmp/dj" <<'PY' || fail=1
import json, sys
q, i, d = (json.loads(open(f).read().splitlines()[-1]) for f in sys.argv[1:])
assert (q['head']['format'], q['head']['method'], q['head']['bpw']) == ('q8g32', 'gptq', 9), q['head']
assert (q['embeddings']['format'], q['embeddings']['method'], q['embeddings']['bpw']) == ('q8g16', 'rtn', 10), q
assert 0 < q['head']['rel_loss'] < 0.01, q['head']
assert abs(q['tensor_bpw'] - i['total_bpw']) < 1e-12 and abs(q['nonembed_bpw'] - i['nonembed_bpw']) < 1e-12, (q, i)
assert q['linear_bpw'] == i['linear_bpw'] and q['total_bpw'] > q['tensor_bpw'], q  # the file also holds metadata
assert d['head'] == {'format': 'q8g32', 'method': 'gptq', 'bpw': 9} and d['embeddings']['bpw'] == 10, d
PY
grep -q "separate output head" "$tmp/info" || { echo "FAIL: the quantized head is not a separate tensor"; fail=1; }
python3 - "$tmp/q8.gguf" <<'PY' || fail=1
import struct, sys
# tensor names of the GGUF file: token_embd and output stored as scalar codes
d = open(sys.argv[1], 'rb').read()
names = {n for n in (b'token_embd.qweight', b'token_embd.qscale', b'output.qweight', b'output.qzero') if n in d}
assert len(names) == 4 and b'token_embd.weight' not in d and b'output.weight' not in d, names
PY
# stories260K's head is tied: --head unties it with a warning naming what is
# stored, --embeddings alone quantizes both with a note; an untied copy of the
# model (negative vocab_size in the llama2.c header, the embedding appended as
# the classifier) gets neither, and the JSON says which happened
tw() { q "$@" >"$tmp/tout" 2>"$tmp/terr"; }
tw -o "$tmp/t1.gguf" --head q4g32 --dry-run --json
grep -q "^crvq quantize: warning: the output head is tied to the token embedding; --head q4g32 gptq unties it: the file stores the head as its own q4g32 gptq tensor (0.02 MB) beside the embedding (16-bit, as without --embeddings), the same matrix twice" "$tmp/terr" ||
    { echo "FAIL: tied --head warning: $(cat "$tmp/terr")"; fail=1; }
tail -1 "$tmp/tout" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["tied_embeddings"] and d["head_untied"], d' || fail=1
tw -o "$tmp/t2.gguf" --embeddings q4g32 --dry-run --json
grep -q "^crvq quantize: note: the output head is tied to the token embedding: --embeddings q4g32 rtn quantizes both" "$tmp/terr" ||
    { echo "FAIL: tied --embeddings note: $(cat "$tmp/terr")"; fail=1; }
tail -1 "$tmp/tout" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["tied_embeddings"] and not d["head_untied"], d' || fail=1
tw -o "$tmp/t3.gguf" --dry-run && [ ! -s "$tmp/terr" ] || { echo "FAIL: tied, no --head: $(cat "$tmp/terr")"; fail=1; }
python3 - "$model" "$tmp/untied.bin" <<'PY' || fail=1
import struct, sys
d = open(sys.argv[1], 'rb').read()
dim, hid, nl, nh, nkv, vocab, seq = struct.unpack('<7i', d[:28])
assert vocab > 0, vocab
open(sys.argv[2], 'wb').write(struct.pack('<7i', dim, hid, nl, nh, nkv, -vocab, seq) + d[28:] + d[28:28 + 4 * vocab * dim])
PY
uq() { "$crvq" quantize -m "$tmp/untied.bin" --tokenizer "$tok" --calib "$calib" --method rtn --bits 4 --group-size 4 \
       --nsamples 4 --seqlen 64 --quiet "$@"; }
uq -o "$tmp/u.gguf" --head q4g32 --embeddings q4g32 --json >"$tmp/uout" 2>"$tmp/uerr" || { echo "FAIL: quantize untied"; fail=1; }
[ ! -s "$tmp/uerr" ] || { echo "FAIL: untied model warned: $(cat "$tmp/uerr")"; fail=1; }
tail -1 "$tmp/uout" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d["tied_embeddings"] and not d["head_untied"], d' || fail=1
"$crvq" info -m "$tmp/u.gguf" | grep -q "separate output head" || { echo "FAIL: untied model lost its head"; fail=1; }
# the warned run really writes both tensors, and the report JSON agrees
tw -o "$tmp/t4.gguf" --head q4g32 --json
grep -q "warning: the output head is tied" "$tmp/terr" || { echo "FAIL: no warning when writing"; fail=1; }
tail -1 "$tmp/tout" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["tied_embeddings"] and d["head_untied"], d' || fail=1
"$crvq" info -m "$tmp/t4.gguf" | grep -q "separate output head" || { echo "FAIL: --head did not untie"; fail=1; }

b=$(ppl "$tmp/base.gguf") h=$(ppl "$tmp/q8.gguf")
python3 -c "import sys; b,h=$b,$h; sys.exit(0 if abs(h-b) < 0.01*b else 1)" ||
    { echo "FAIL: 8-bit head+embedding nll $h vs $b"; fail=1; }
exit $fail
