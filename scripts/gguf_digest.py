#!/usr/bin/env python3
"""Digests of a GGUF file for scripts/check_identical.sh.

    gguf_digest.py FILE        prints three lines:
      tensors <sha256>   the tensor infos (name, shape, type, offset, in file order)
                         and the whole tensor data section
      meta <sha256>      the metadata key/value pairs, in file order
      file <sha256>      the whole file

The tensor digest is what a refactoring must keep: metadata may change for
legitimate reasons (a key added by another change), the quantized tensors may
not. The reader follows docs/format.md; it trusts the file (crvq wrote it).
"""
import hashlib
import struct
import sys

SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
STRING, ARRAY = 8, 9


def digest(path):
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(n):
        nonlocal pos
        b = buf[pos:pos + n]
        if len(b) != n:
            sys.exit(f"{path}: truncated at byte {pos}")
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
    meta = hashlib.sha256(struct.pack("<I", version))
    for _ in range(n_kv):
        start = pos
        key = string()
        t = u32()
        vstart = pos
        skip_value(t)
        if key == b"general.alignment" and t == 4:
            alignment = struct.unpack("<I", buf[vstart:vstart + 4])[0]
        meta.update(buf[start:pos])
    infos = hashlib.sha256()
    for _ in range(n_tensors):
        start = pos
        string()
        n_dims = u32()
        take(8 * n_dims + 4 + 8)  # ne[], type, offset
        infos.update(buf[start:pos])
    data_offset = (pos + alignment - 1) // alignment * alignment
    tensors = hashlib.sha256(infos.digest())
    tensors.update(buf[data_offset:])
    print("tensors", tensors.hexdigest())
    print("meta", meta.hexdigest())
    print("file", hashlib.sha256(buf).hexdigest())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gguf_digest.py FILE.gguf")
    digest(sys.argv[1])
