#!/usr/bin/env python3
"""Bits per linear weight of a llama.cpp GGUF (bench/vs_llamacpp.sh).

    gguf_linear_bits.py FILE.gguf

Prints the bytes the seven projections of every block take in the file
(blk.N.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight),
times 8, over their number of weights: what llama.cpp's mixed i-quant files
really spend, which is more than the type's nominal bits (some layers keep a
larger type). A tensor's bytes are the distance from its offset to the next
tensor's (or the end of the file), so padding counts, as it does on disk.
Reads only the header.
"""
import os
import re
import struct
import sys

SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY = 8, 9
LINEAR = re.compile(rb"^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$")


def linear_bits(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        buf = f.read(min(size, 64 << 20))
    pos = 0

    def take(n):
        nonlocal pos
        b = buf[pos:pos + n]
        if len(b) != n:
            sys.exit(f"{path}: header longer than 64 MiB or truncated")
        pos += n
        return b

    u32 = lambda: struct.unpack("<I", take(4))[0]
    u64 = lambda: struct.unpack("<Q", take(8))[0]

    def skip(t):
        if t == STRING:
            take(u64())
        elif t == ARRAY:
            et, n = u32(), u64()
            for _ in range(n):
                skip(et)
        else:
            take(SCALAR[t])

    if take(4) != b"GGUF":
        sys.exit(f"{path}: not a GGUF file")
    _, n_tensors, n_kv = u32(), u64(), u64()
    alignment = 32
    for _ in range(n_kv):
        key = take(u64())
        t = u32()
        v = pos
        skip(t)
        if key == b"general.alignment":
            alignment = struct.unpack("<I", buf[v:v + 4])[0]
    tensors = []
    for _ in range(n_tensors):
        name = take(u64())
        ne = [u64() for _ in range(u32())]
        u32()  # type
        n = 1
        for d in ne:
            n *= d
        tensors.append((u64(), name, n))
    data = (pos + alignment - 1) // alignment * alignment
    tensors.sort()
    bits = weights = 0
    for i, (off, name, n) in enumerate(tensors):
        end = tensors[i + 1][0] if i + 1 < len(tensors) else size - data
        if LINEAR.match(name):
            bits += 8 * (end - off)
            weights += n
    if weights == 0:
        sys.exit(f"{path}: no block projections found")
    return bits / weights


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gguf_linear_bits.py FILE.gguf")
    print("%.4f" % linear_bits(sys.argv[1]))
