#!/usr/bin/env python3
"""Bits per linear weight of a llama.cpp GGUF (bench/vs_llamacpp.sh).

    gguf_linear_bits.py FILE.gguf
    gguf_linear_bits.py --head FILE.gguf

With --head: the bits per weight of the output head instead, the bytes of
every tensor named output.* (llama.cpp's output.weight; crvq's fp16
output.weight or its scalar-quantized output.qweight/.qscale/.qzero) over
vocab x dim weights, from token_embd.weight's shape (the head's).

Prints the bytes the seven projections of every block take in the file
(blk.N.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight),
times 8, over their number of weights: what llama.cpp's mixed i-quant files
really spend, which is more than the type's nominal bits (some layers keep a
larger type). A tensor's bytes are the distance from its offset to the next
tensor's (or the end of the file), so padding counts, as it does on disk.
Reads only the header (scripts/gguf_header.py).
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import gguf_header  # noqa: E402

LINEAR = re.compile(rb"^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$")
HEAD = re.compile(rb"^output\.")


def linear_bits(path, head=False):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        buf = f.read(min(size, 64 << 20))
    h = gguf_header.parse(buf, path, truncated=f"{path}: header longer than 64 MiB or truncated")
    tensors = []
    for name, ne, _, offset, _, _ in h.tensors:
        n = 1
        for d in ne:
            n *= d
        tensors.append((offset, name, n))
    data = h.data_offset
    tensors.sort()
    bits = weights = 0
    for i, (off, name, n) in enumerate(tensors):
        end = tensors[i + 1][0] if i + 1 < len(tensors) else size - data
        if (HEAD if head else LINEAR).match(name):
            bits += 8 * (end - off)
            weights += 0 if head else n
        if head and name == b"token_embd.weight":
            weights = n
    if weights == 0 or bits == 0:
        sys.exit(f"{path}: no {'output head' if head else 'block projections'} found")
    return bits / weights


if __name__ == "__main__":
    head = len(sys.argv) == 3 and sys.argv[1] == "--head"
    if len(sys.argv) != 2 + head:
        sys.exit("usage: gguf_linear_bits.py [--head] FILE.gguf")
    print("%.4f" % linear_bits(sys.argv[-1], head))
