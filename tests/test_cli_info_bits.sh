#!/bin/bash
# test_cli_info_bits.sh CRVQ — `crvq info` bit accounting on stories260K
# quantized three ways (rtn 3-bit/group 4, vq d 4 e 6 M 1, crvq d 4 M 2 e 4
# λ 0.25): every layer's bits per weight and linear_bpw / total_bpw /
# nonembed_bpw against the formula of docs/method.md ("Bits per weight") computed here from the
# shapes, the layer table and the crvq.* metadata; dense files count their
# weights at the stored width (f32 32, f16 16).
set -u
crvq=$1
# model, f16, tok, text, need, scratch
source "$(dirname "$0")/cli_lib.sh"
need "$model" "$f16" "$tok" "$text"
scratch info-bits

# check FILE METHOD-ARGS-AS-PYTHON: compare `crvq info --json` of FILE with
# the formula for stories260K (dim 64, hidden 172, 5 layers, 4 kv heads of 8,
# vocab 512, head tied unless the spec says 'head'; the container stores the embedding as f16 and the
# norms as f32, docs/format.md; 'embed' / 'head_w': their bits per weight when
# quantized, 'embed_q' / 'head_q': their (bits, group) in the layer table).
# For a GGUF file also: the bits info counts are the bytes of the file's
# tensor data (from its tensor infos, docs/format.md) within the padding of a
# scalar row (codes of a row fill whole bytes: under 1 byte per row). Not for
# vq / crvq files: their codes are stored a byte or more each (docs/format.md),
# the formula counts e bits.
check() {
    "$crvq" info -m "$1" --json >"$tmp/info" 2>"$tmp/err" || { echo "FAIL: info $1: $(cat "$tmp/err")"; fail=1; return; }
    python3 - "$tmp/info" "$2" "$1" <<'PY' || fail=1
import json, math, struct, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])
spec = eval(sys.argv[2])
shapes = [(64, 64), (32, 64), (32, 64), (64, 64), (172, 64), (172, 64), (64, 172)]
names = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']

def layer_bits(m, n):
    if spec['method'] == 'dense':
        return spec['bits'] * m * n
    if spec['method'] == 'rtn':
        return (spec['bits'] + 32 / spec['group']) * m * n
    dd, e = spec['d'], spec['e']
    G = n // dd
    gc = G if spec['method'] == 'vq' else math.floor(n * spec['lambda'] / dd)
    b = m * G * e[0] + sum(m * gc * ek for ek in e[1:]) + sum(2**ek * dd * 16 for ek in e) + m * 16
    if spec['method'] == 'crvq':
        b += n * 16  # the permutation
    return b

ok = True
def want(what, got, exp, tol=1e-9):
    global ok
    if abs(got - exp) > tol * max(1.0, abs(exp)):
        print(f"FAIL: {spec['method']}: {what} = {got}, want {exp}")
        ok = False

lin_bits = 5 * sum(layer_bits(m, n) for m, n in shapes)
n_lin = 5 * sum(m * n for m, n in shapes)
n_embed, n_norm = 512 * 64 * (2 if spec.get('head') else 1), 64 * 11  # untied head: with the embedding
embed_w, norm_w = spec.get('embed', 16), spec.get('norm', 32)
head_w = spec.get('head_w', embed_w) if spec.get('head') else 0
embed_bits = 512 * 64 * (embed_w + head_w)
want('n_params', d['n_params'], n_lin + n_embed + n_norm)
want('linear_bpw', d['linear_bpw'], lin_bits / n_lin)
want('total_bpw', d['total_bpw'], (lin_bits + embed_bits + n_norm * norm_w) / (n_lin + n_embed + n_norm))
want('nonembed_bpw', d['nonembed_bpw'], (lin_bits + n_norm * norm_w) / (n_lin + n_norm))
if sys.argv[3].endswith('.gguf') and spec['method'] not in ('vq', 'crvq'):
    # tensor data bytes from the file's tensor infos (GGML type ids: f32, f16, i8, i16, i32, bf16)
    size = {0: 4, 1: 2, 24: 1, 25: 2, 26: 4, 30: 2}
    buf = open(sys.argv[3], 'rb').read()
    pos = 24
    def take(fmt):
        global pos
        v = struct.unpack_from(fmt, buf, pos); pos += struct.calcsize(fmt); return v
    def skip(n):
        global pos
        pos += n
    def skip_value(t):
        if t == 8: skip(take('<Q')[0])
        elif t == 9:
            et, n = take('<IQ')
            for _ in range(n): skip_value(et)
        else: skip({0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}[t])
    n_tensors, n_kv = struct.unpack_from('<QQ', buf, 8)
    for _ in range(n_kv):
        skip(take('<Q')[0])
        skip_value(take('<I')[0])
    data, rows = 0, 0
    for _ in range(n_tensors):
        n = take('<Q')[0]
        name = buf[pos:pos + n]; skip(n)
        shape = take('<%dQ' % take('<I')[0])
        t, _ = take('<IQ')
        data += math.prod(shape) * size[t]
        rows += shape[-1] if name.endswith(b'.qweight') else 0  # GGUF lists the row count last
    counted = d['total_bpw'] * d['n_params'] / 8
    if not 0 <= data - counted < rows + 1e-6 * data:
        print(f"FAIL: {spec['method']}: info counts {counted} bytes, the file's tensors hold {data} ({rows} scalar rows)")
        ok = False
if spec['method'] == 'dense':
    if 'layers' in d or 'crvq' in d or d['n_compressed_layers'] != 0:
        print('FAIL: dense file has a layer table or crvq metadata'); ok = False
    sys.exit(0 if ok else 1)
if spec['method'] == 'rtn':
    want('linear_bpw (exact)', d['linear_bpw'], spec['bits'] + 32 / spec['group'], 0)
L = d['layers']
extra = [('output', spec['head_q'])] if 'head_q' in spec else []
extra += [('token_embd', spec['embed_q'])] if 'embed_q' in spec else []
if [x['name'] for x in L] != [f'blk.{l}.{k}' for l in range(5) for k in names] + [n for n, _ in extra]:
    print('FAIL: layer names', [x['name'] for x in L][:8]); ok = False
for x, (m, n) in zip(L, shapes * 5):
    want(x['name'] + ' bpw', x['bpw'], layer_bits(m, n) / (m * n), 1e-12)
    if x['shape'] != [m, n] or x['kind'] != ('scalar' if spec['method'] == 'rtn' else spec['method']):
        print('FAIL: layer', x); ok = False
    if spec['method'] == 'rtn' and (x['bits'], x['group_size']) != (spec['bits'], spec['group']):
        print('FAIL: layer', x); ok = False
    if spec['method'] in ('vq', 'crvq') and (x['d'], x['M'], x['e'], x['perm']) != \
            (spec['d'], len(spec['e']), spec['e'], spec['method'] == 'crvq'):
        print('FAIL: layer', x); ok = False
for x, (n, (bits, group)) in zip(L[35:], extra):
    want(n + ' bpw', x['bpw'], bits + 32 / group, 0)
    if (x['kind'], x['shape'], x['bits'], x['group_size']) != ('scalar', [512, 64], bits, group):
        print('FAIL: layer', x); ok = False
c = d['crvq']
if c['method'] != spec['method'] or c['calib.nsamples'] != 2 or c['calib.seqlen'] != 32 or c['format_version'] != 1:
    print('FAIL: metadata', c); ok = False
if spec['method'] != 'rtn' and (c['d'], c['M'], c['e']) != (spec['d'], len(spec['e']), spec['e']):
    print('FAIL: metadata', c); ok = False
if spec['method'] == 'crvq' and (c['lambda'] != spec['lambda'] or c['importance'] != 'hessian'):
    print('FAIL: metadata', c); ok = False
want('crvq.bits.linear', c['bits.linear'], d['linear_bpw'], 1e-6)
sys.exit(0 if ok else 1)
PY
}

q=(quantize -m "$model" --tokenizer "$tok" --calib "$text" --nsamples 2 --seqlen 32 --no-finetune --quiet)
"$crvq" "${q[@]}" -o "$tmp/rtn.gguf" --method rtn --bits 3 --group-size 4 >/dev/null || { echo "FAIL: quantize rtn"; fail=1; }
check "$tmp/rtn.gguf" "{'method': 'rtn', 'bits': 3, 'group': 4}"
"$crvq" "${q[@]}" -o "$tmp/vq.gguf" --method vq -d 4 -e 6 -M 1 --max-rounds 2 >/dev/null || { echo "FAIL: quantize vq"; fail=1; }
check "$tmp/vq.gguf" "{'method': 'vq', 'd': 4, 'e': [6]}"
"$crvq" "${q[@]}" -o "$tmp/crvq.gguf" --method crvq -d 4 -M 2 -e 4 --lambda 0.25 --max-rounds 2 >/dev/null ||
    { echo "FAIL: quantize crvq"; fail=1; }
check "$tmp/crvq.gguf" "{'method': 'crvq', 'd': 4, 'e': [4, 4], 'lambda': 0.25}"

# a quantized head (its own tensor now) and embedding count by the scalar
# formula: q4g32 = 4 + 32/32 bits, q8g16 = 8 + 32/16; an embedding alone
# (q4g16) keeps the head tied to it, counted once
"$crvq" "${q[@]}" -o "$tmp/head.gguf" --method rtn --bits 3 --group-size 4 --head q4g32 --embeddings q8g16 \
    >/dev/null || { echo "FAIL: quantize --head"; fail=1; }
check "$tmp/head.gguf" "{'method': 'rtn', 'bits': 3, 'group': 4, 'head': True, 'head_w': 5, 'embed': 10,
                         'head_q': (4, 32), 'embed_q': (8, 16)}"
"$crvq" "${q[@]}" -o "$tmp/emb.gguf" --method rtn --bits 3 --group-size 4 --embeddings q4g16 >/dev/null ||
    { echo "FAIL: quantize --embeddings"; fail=1; }
check "$tmp/emb.gguf" "{'method': 'rtn', 'bits': 3, 'group': 4, 'embed': 6, 'embed_q': (4, 16)}"

# dense files: llama2.c (all f32) and an f16 GGUF (f16 matrices, f32 norms,
# a separate output head)
check "$model" "{'method': 'dense', 'bits': 32, 'embed': 32, 'norm': 32}"
check "$f16" "{'method': 'dense', 'bits': 16, 'embed': 16, 'norm': 32, 'head': True}"

# the human-readable summary and table
"$crvq" info -m "$tmp/crvq.gguf" >"$tmp/out" 2>&1
grep -q "^bits/weight    linear [0-9.]*, total [0-9.]*, without embedding and head [0-9.]*$" "$tmp/out" ||
    { echo "FAIL: summary line"; cat "$tmp/out"; fail=1; }
grep -q "^  blk.4.ffn_down  *crvq   (64, 172)  *d 4  M 2  e 4,4  n_crit 10/43  perm  *[0-9.]*$" "$tmp/out" ||
    { echo "FAIL: table row"; grep ffn_down "$tmp/out"; fail=1; }
grep -q '^  crvq.method  *"crvq"$' "$tmp/out" || { echo "FAIL: metadata lines"; fail=1; }

[ $fail = 0 ] && echo "ok"
exit $fail
