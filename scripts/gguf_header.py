"""A GGUF file's header, parsed: what scripts/gguf_digest.py and
bench/gguf_linear_bits.py read (docs/format.md). It trusts the values (a
file crvq or llama.cpp wrote) and only checks that the bytes are there.

    h = parse(buf, path)   buf: the file's bytes (at least its whole header)
    h.version, h.alignment, h.data_offset
    h.kv:      (key, type, start, end) per metadata pair, in file order;
               buf[start:end] is the whole pair (key, type and value)
    h.tensors: (name, ne, type, offset, start, end) per tensor info, in
               file order; buf[start:end] is the whole info
"""
import struct
import sys
from collections import namedtuple

# Byte sizes of the scalar value types, by GGUF's type number.
SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY, U32 = 8, 9, 4

Header = namedtuple("Header", "version alignment data_offset kv tensors")


def parse(buf, path, truncated=None):
    """Exits with "PATH: not a GGUF file", or with `truncated` (default
    "PATH: truncated at byte N") where the header runs past buf."""
    pos = 0

    def take(n):
        nonlocal pos
        b = buf[pos:pos + n]
        if len(b) != n:
            sys.exit(truncated or f"{path}: truncated at byte {pos}")
        pos += n
        return b

    def u32():
        return struct.unpack("<I", take(4))[0]

    def u64():
        return struct.unpack("<Q", take(8))[0]

    def string():
        return take(u64())

    def skip_value(t):
        if t == STRING:
            string()
        elif t == ARRAY:
            et, n = u32(), u64()
            for _ in range(n):
                skip_value(et)
        else:
            take(SCALAR[t])

    if take(4) != b"GGUF":
        sys.exit(f"{path}: not a GGUF file")
    version, n_tensors, n_kv = u32(), u64(), u64()
    alignment = 32
    kv = []
    for _ in range(n_kv):
        start = pos
        key = string()
        t = u32()
        vstart = pos
        skip_value(t)
        if key == b"general.alignment" and t == U32:
            alignment = struct.unpack("<I", buf[vstart:vstart + 4])[0]
        kv.append((key, t, start, pos))
    tensors = []
    for _ in range(n_tensors):
        start = pos
        name = string()
        ne = [u64() for _ in range(u32())]
        t = u32()
        offset = u64()
        tensors.append((name, ne, t, offset, start, pos))
    data_offset = (pos + alignment - 1) // alignment * alignment
    return Header(version, alignment, data_offset, kv, tensors)
