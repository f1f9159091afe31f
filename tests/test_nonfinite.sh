#!/bin/bash
# test_nonfinite.sh CRVQ — NaN and Inf are refused, never averaged away.
# At load: copies of stories260K with a NaN or Inf in the embedding, a norm,
# a projection, and in the scales and codebooks of compressed files; every
# command exits 1 with one line naming the tensor and the file. At run time:
# finite weights that overflow (q and k of block 0 at 1e30) make
# perplexity, generate and finetune fail instead of printing a number.
set -u
crvq=$1
# model, tok, text, need_files, scratch (expect is this test's own, below)
source "$(dirname "$0")/cli_lib.sh"
need_files "$model" "$tok" "$text"
scratch nonfinite
cp "$tok" "$tmp/tok512.bin" # found beside the copies
head -c 20000 "$text" >"$tmp/text.txt"

# expect CODE NEEDLE... -- ARGS: exit status CODE, one stderr line containing every NEEDLE
expect() {
    local code=$1 needles=()
    shift
    while [ "$1" != "--" ]; do needles+=("$1"); shift; done
    shift
    "$crvq" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines ok=1
    lines=$(wc -l <"$tmp/err")
    for n in "${needles[@]}"; do grep -qF -- "$n" "$tmp/err" || ok=0; done
    if [ "$rc" != "$code" ] || [ "$lines" != 1 ] || [ $ok = 0 ]; then
        echo "FAIL: crvq $* -> exit $rc (want $code), $lines stderr lines (want 1), want ${needles[*]}:"
        head -c 600 "$tmp/err"
        tail -n 2 "$tmp/out"
        fail=1
    fi
}

# patch SRC DST TENSOR INDEX VALUE...: a copy of a file with elements INDEX..
# of TENSOR set to VALUE (a float, or 0xHHHH for raw 16-bit patterns). The
# tensor is found in a GGUF file's tensor infos or, for a llama2.c file, by
# the checkpoint layout (blk.N.attn_q.weight style names).
patch() {
    python3 - "$@" <<'PY'
import struct, sys
src, dst, name, index, *values = sys.argv[1:]
data = bytearray(open(src, "rb").read())
index = int(index)

def gguf_tensor(data, name):
    """(absolute offset, dtype) of a GGUF tensor."""
    pos = 4
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, pos); pos += 20
    def string(pos):
        n, = struct.unpack_from("<Q", data, pos)
        return data[pos + 8:pos + 8 + n].decode(), pos + 8 + n
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    def value(t, pos):
        if t == 8: return string(pos)[1]
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, pos); pos += 12
            for _ in range(n): pos = value(et, pos)
            return pos
        return pos + sizes[t]
    align = 32
    for _ in range(n_kv):
        key, pos = string(pos)
        t, = struct.unpack_from("<I", data, pos); pos += 4
        if key == "general.alignment": align, = struct.unpack_from("<I", data, pos)
        pos = value(t, pos)
    found = None
    for _ in range(n_tensors):
        tname, pos = string(pos)
        nd, = struct.unpack_from("<I", data, pos); pos += 4 + 8 * nd
        t, off = struct.unpack_from("<IQ", data, pos); pos += 12
        if tname == name: found = (off, {0: "f32", 1: "f16", 30: "bf16"}[t])
    base = (pos + align - 1) // align * align
    return base + found[0], found[1]

def llama2c_tensor(data, name):
    dim, hid, L, nh, nkv, V, seq = struct.unpack_from("<7i", data, 0)
    kv = nkv * dim // nh
    layout = [("token_embd", 0, V * dim)]
    for kind, size in [("attn_norm", dim), ("attn_q", dim * dim), ("attn_k", kv * dim), ("attn_v", kv * dim),
                       ("attn_output", dim * dim), ("ffn_norm", dim), ("ffn_gate", hid * dim),
                       ("ffn_down", dim * hid), ("ffn_up", hid * dim)]:
        layout += [("blk.%d.%s" % (l, kind), 1, size) for l in range(L)]
    off = 28
    for n, _, size in layout:
        if n + ".weight" == name or n == name: return off, "f32"
        off += 4 * size
    raise KeyError(name)

off, dtype = (gguf_tensor if data[:4] == b"GGUF" else llama2c_tensor)(data, name)
for i, v in enumerate(values):
    if dtype == "f32": struct.pack_into("<f", data, off + 4 * (index + i), float(v))
    else: struct.pack_into("<H", data, off + 2 * (index + i), int(v, 16))
open(dst, "wb").write(data)
PY
}

dim=64
# --- at load: llama2.c float32 ---------------------------------------------------
patch "$model" "$tmp/nan-wq.bin" blk.0.attn_q.weight 0 $(for _ in $(seq $((dim * dim))); do echo nan; done)
patch "$model" "$tmp/inf-embd.bin" token_embd.weight $((3 * dim + 5)) inf
patch "$model" "$tmp/nan-norm.bin" blk.1.ffn_norm.weight 63 -nan
patch "$model" "$tmp/ninf-down.bin" blk.4.ffn_down.weight 11007 -inf
expect 1 "nan-wq.bin" "blk.0.attn_q.weight" "NaN" -- perplexity -m "$tmp/nan-wq.bin" -f "$tmp/text.txt" --ctx 64 --max-windows 2
expect 1 "nan-wq.bin" "blk.0.attn_q.weight" -- generate -m "$tmp/nan-wq.bin" -p "Once" -n 4 --temp 0
expect 1 "inf-embd.bin" "token_embd.weight" "element 197" "Inf" -- info -m "$tmp/inf-embd.bin"
expect 1 "nan-norm.bin" "blk.1.ffn_norm.weight" -- quantize -m "$tmp/nan-norm.bin" --calib "$tmp/text.txt" \
    -o "$tmp/never.gguf" --method rtn --group-size 4 --nsamples 1 --nval 0 --seqlen 32 --quiet
expect 1 "ninf-down.bin" "blk.4.ffn_down.weight" -- perplexity -m "$model" --kl-base "$tmp/ninf-down.bin" \
    -f "$tmp/text.txt" --ctx 64 --max-windows 1
[ -e "$tmp/never.gguf" ] && { echo "FAIL: quantize of a NaN model wrote an output"; fail=1; }

# --- at load: GGUF float16 ---------------------------------------------------------
patch "$shared/models/stories260K/stories260K-f16.gguf" "$tmp/nan16.gguf" blk.2.attn_v.weight 100 0x7e00
expect 1 "nan16.gguf" "blk.2.attn_v.weight" -- info -m "$tmp/nan16.gguf"

# --- at load: compressed files (scales, codebooks) ----------------------------------
q=(--calib "$tmp/text.txt" --nsamples 2 --nval 0 --seqlen 32 --no-finetune --quiet --threads 2)
"$crvq" quantize -m "$model" "${q[@]}" -o "$tmp/rtn.gguf" --method rtn --bits 3 --group-size 4 >/dev/null 2>&1 &&
"$crvq" quantize -m "$model" "${q[@]}" -o "$tmp/vq.gguf" --method crvq -d 4 -M 2 -e 6,4 --lambda 0.25 >/dev/null 2>&1 ||
    { echo "FAIL: quantizing stories260K"; exit 1; }
patch "$tmp/rtn.gguf" "$tmp/nan-scale.gguf" blk.3.ffn_up.qscale 7 0x7e00
patch "$tmp/vq.gguf" "$tmp/inf-cb.gguf" blk.0.attn_k.cb1 2 0xfc00
patch "$tmp/vq.gguf" "$tmp/nan-vqscale.gguf" blk.1.ffn_gate.scales 0 0x7c01
expect 1 "nan-scale.gguf" "blk.3.ffn_up.qscale" -- perplexity -m "$tmp/nan-scale.gguf" -f "$tmp/text.txt" --ctx 64
expect 1 "inf-cb.gguf" "blk.0.attn_k.cb1" -- info -m "$tmp/inf-cb.gguf"
expect 1 "nan-vqscale.gguf" "blk.1.ffn_gate.scales" -- finetune -m "$tmp/nan-vqscale.gguf" --teacher "$model" \
    --data "$tmp/text.txt" -o "$tmp/never.gguf" --nsamples 2 --nval 1 --seqlen 32 --quiet
[ -e "$tmp/never.gguf" ] && { echo "FAIL: finetune of a NaN model wrote an output"; fail=1; }

# --- at run time: finite weights whose activations overflow --------------------------
big=$(for _ in $(seq $((dim * dim))); do echo 1e30; done)
patch "$model" "$tmp/big-q.bin" blk.0.attn_q.weight 0 $big
patch "$tmp/big-q.bin" "$tmp/big.bin" blk.0.attn_k.weight 0 $(for _ in $(seq $((dim * dim / 2))); do echo 1e30; done)
"$crvq" info -m "$tmp/big.bin" >/dev/null 2>&1 || { echo "FAIL: the overflowing model is finite and must load"; fail=1; }
expect 1 "not finite" -- perplexity -m "$tmp/big.bin" -f "$tmp/text.txt" --ctx 64 --max-windows 2
expect 1 "not finite" -- perplexity -m "$model" --kl-base "$tmp/big.bin" -f "$tmp/text.txt" --ctx 64 --max-windows 1
expect 1 "not finite" -- generate -m "$tmp/big.bin" -p "Once upon a time" -n 4 --temp 0
expect 1 "not finite" -- finetune -m "$tmp/vq.gguf" --teacher "$tmp/big.bin" --data "$tmp/text.txt" \
    -o "$tmp/never.gguf" --nsamples 2 --nval 1 --seqlen 32 --quiet
[ -e "$tmp/never.gguf" ] && { echo "FAIL: a diverged finetune wrote an output"; fail=1; }

[ $fail = 0 ] && echo "test_nonfinite: ok"
exit $fail
