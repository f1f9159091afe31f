#!/usr/bin/env python3
"""Digests of a GGUF file for scripts/check_identical.sh.

    gguf_digest.py FILE        prints three lines:
      tensors <sha256>   the tensor infos (name, shape, type, offset, in file order)
                         and the whole tensor data section
      meta <sha256>      the metadata key/value pairs, in file order
      file <sha256>      the whole file

The tensor digest is what a refactoring must keep: metadata may change for
legitimate reasons (a key added by another change), the quantized tensors may
not. The header is read by gguf_header.py (docs/format.md); it trusts the file
(crvq wrote it).
"""
import hashlib
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_header  # noqa: E402


def digest(path):
    with open(path, "rb") as f:
        buf = f.read()
    h = gguf_header.parse(buf, path)
    meta = hashlib.sha256(struct.pack("<I", h.version))
    for _, _, start, end in h.kv:
        meta.update(buf[start:end])
    infos = hashlib.sha256()
    for *_, start, end in h.tensors:
        infos.update(buf[start:end])
    tensors = hashlib.sha256(infos.digest())
    tensors.update(buf[h.data_offset:])
    print("tensors", tensors.hexdigest())
    print("meta", meta.hexdigest())
    print("file", hashlib.sha256(buf).hexdigest())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gguf_digest.py FILE.gguf")
    digest(sys.argv[1])
