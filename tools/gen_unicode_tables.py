#!/usr/bin/env python3
"""gen_unicode_tables.py — write src/tokenizer/unicode_tables.c from the Unicode
Character Database.

    python3 tools/gen_unicode_tables.py [UCD_DIR] > src/tokenizer/unicode_tables.c

UCD_DIR holds the UCD text files (default /usr/share/unicode, Debian's
`unicode-data` package; version 15.0.0 in Debian 12). Read: UnicodeData.txt
(general category, canonical combining class, decompositions), PropList.txt
(White_Space), DerivedNormalizationProps.txt (NFC_QC, Full_Composition_Exclusion).

What the tokenizer needs (src/tokenizer/unicode.h):
  - per code point, flag bits: \\p{L}, \\p{N}, \\s (White_Space), and "NFC may
    change text here" (NFC_QC is No or Maybe, or the combining class is not 0);
    a two-stage table (blocks of 256 code points, identical blocks shared);
  - canonical combining classes (ranges), full canonical decompositions and the
    primary composites (pairs), for NFC of the rare stretches the flag marks.
Hangul syllables are algorithmic (not in the tables).

Before writing, the tables are checked: NFC computed from them (in Python, the
same algorithm as the C code) must reproduce every NFC column of
NormalizationTest.txt(.bz2) when that file is in UCD_DIR.
"""
import bz2
import os
import re
import sys

UCD = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
MAX_CP = 0x110000
S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
N_COUNT = V_COUNT * T_COUNT
S_COUNT = L_COUNT * N_COUNT

F_L, F_N, F_WS, F_NFC = 1, 2, 4, 8


def ucd_lines(name):
    with open(os.path.join(UCD, name), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                yield [x.strip() for x in line.split(";")]


def cp_range(field):
    if ".." in field:
        a, b = field.split("..")
        return range(int(a, 16), int(b, 16) + 1)
    return range(int(field, 16), int(field, 16) + 1)


def read_version():
    # DerivedAge.txt starts with "# DerivedAge-15.0.0.txt".
    with open(os.path.join(UCD, "DerivedAge.txt"), encoding="utf-8") as f:
        m = re.match(r"# DerivedAge-([0-9.]+)\.txt", f.readline())
    if not m:
        sys.exit("gen_unicode_tables: cannot read the Unicode version from DerivedAge.txt")
    return m.group(1)


category = {}
ccc = {}
decomp = {}  # canonical, one level
first_of_range = None
for f in ucd_lines("UnicodeData.txt"):
    cp, name, gc, cc, dm = int(f[0], 16), f[1], f[2], int(f[3]), f[5]
    if name.endswith(", First>"):
        first_of_range = cp
        continue
    cps = range(first_of_range, cp + 1) if name.endswith(", Last>") else (cp,)
    for c in cps:
        category[c] = gc
        if cc:
            ccc[c] = cc
    if dm and not dm.startswith("<"):
        decomp[cp] = [int(x, 16) for x in dm.split()]

white = set()
for f in ucd_lines("PropList.txt"):
    if f[1] == "White_Space":
        white.update(cp_range(f[0]))

nfc_qc_not_yes = set()
full_excl = set()
for f in ucd_lines("DerivedNormalizationProps.txt"):
    if f[1] == "NFC_QC" and f[2] in ("N", "M"):
        nfc_qc_not_yes.update(cp_range(f[0]))
    elif f[1] == "Full_Composition_Exclusion":
        full_excl.update(cp_range(f[0]))


def full_decomp(c):
    if c not in decomp:
        return [c]
    out = []
    for d in decomp[c]:
        out.extend(full_decomp(d))
    return out


compose_pairs = {}
for c, d in decomp.items():
    if len(d) == 2 and c not in full_excl:
        compose_pairs[(d[0], d[1])] = c

# --------------------------------------------------- the algorithm, in Python


def py_decompose(c):
    if S_BASE <= c < S_BASE + S_COUNT:
        s = c - S_BASE
        out = [L_BASE + s // N_COUNT, V_BASE + (s % N_COUNT) // T_COUNT]
        if s % T_COUNT:
            out.append(T_BASE + s % T_COUNT)
        return out
    return full_decomp(c)


def py_compose(a, b):
    if L_BASE <= a < L_BASE + L_COUNT and V_BASE <= b < V_BASE + V_COUNT:
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT
    if S_BASE <= a < S_BASE + S_COUNT and (a - S_BASE) % T_COUNT == 0 and T_BASE < b < T_BASE + T_COUNT:
        return a + (b - T_BASE)
    return compose_pairs.get((a, b))


def py_nfc(s):
    d = []
    for c in s:
        d.extend(py_decompose(c))
    # canonical ordering: stable sort of each run of non-starters by class
    i = 0
    while i < len(d):
        if ccc.get(d[i], 0) == 0:
            i += 1
            continue
        j = i
        while j < len(d) and ccc.get(d[j], 0) != 0:
            j += 1
        d[i:j] = sorted(d[i:j], key=lambda x: ccc[x])
        i = j
    out = []
    starter = -1
    last = 0
    for c in d:
        cc = ccc.get(c, 0)
        if starter >= 0 and (last < cc or (last == 0 and starter == len(out) - 1)):
            comp = py_compose(out[starter], c)
            if comp is not None:
                out[starter] = comp
                continue
        if cc == 0:
            starter = len(out)
        last = cc
        out.append(c)
    return out


def self_check():
    path = os.path.join(UCD, "NormalizationTest.txt")
    opener = open
    if not os.path.exists(path):
        path += ".bz2"
        opener = bz2.open
    if not os.path.exists(path):
        print("gen_unicode_tables: no NormalizationTest.txt, tables not checked", file=sys.stderr)
        return
    n = 0
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("@"):
                continue
            cols = [[int(x, 16) for x in c.split()] for c in line.split(";")[:5]]
            # NFC: c2 == toNFC(c1) == toNFC(c2) == toNFC(c3); c4 == toNFC(c4) == toNFC(c5)
            for src, want in ((0, 1), (1, 1), (2, 1), (3, 3), (4, 3)):
                got = py_nfc(cols[src])
                if got != cols[want]:
                    sys.exit("gen_unicode_tables: NFC self-check failed on %s: got %s" % (line, got))
            n += 1
    print("gen_unicode_tables: NFC self-check passed on %d lines of %s" % (n, path), file=sys.stderr)


self_check()

# -------------------------------------------------------------- flag table

flags = bytearray(MAX_CP)
for c, gc in category.items():
    if gc in ("Lu", "Ll", "Lt", "Lm", "Lo"):
        flags[c] |= F_L
    elif gc in ("Nd", "Nl", "No"):
        flags[c] |= F_N
for c in white:
    flags[c] |= F_WS
for c in nfc_qc_not_yes:
    flags[c] |= F_NFC
for c in ccc:
    flags[c] |= F_NFC
# The fast path copies text below U+0300 unchanged; make sure that is right.
assert not any(flags[c] & F_NFC for c in range(0x300))

blocks, stage1, index = [], [], {}
for b in range(MAX_CP // 256):
    blk = bytes(flags[b * 256:(b + 1) * 256])
    if blk not in index:
        index[blk] = len(blocks)
        blocks.append(blk)
    stage1.append(index[blk])
assert len(blocks) <= 256

ccc_ranges = []
for c in sorted(ccc):
    if ccc_ranges and ccc_ranges[-1][1] == c - 1 and ccc_ranges[-1][2] == ccc[c]:
        ccc_ranges[-1][1] = c
    else:
        ccc_ranges.append([c, c, ccc[c]])

decomp_keys = sorted(decomp)
pool, decomp_entries = [], []
for c in decomp_keys:
    d = full_decomp(c)
    assert len(d) <= 15
    decomp_entries.append((c, len(pool), len(d)))
    pool.extend(d)
assert len(pool) < 65536

# ------------------------------------------------------------------ output

out = sys.stdout
version = read_version()
out.write("// unicode_tables.c — GENERATED by tools/gen_unicode_tables.py from the Unicode\n")
out.write("// Character Database %s (UnicodeData.txt, PropList.txt,\n" % version)
out.write("// DerivedNormalizationProps.txt). Do not edit; rerun the generator.\n")
out.write('#include "tokenizer/unicode.h"\n\n')
out.write('const char crvq_uc_version[] = "%s";\n\n' % version)


def write_array(ctype, name, values, per_line, fmt):
    out.write("const %s %s[%d] = {\n" % (ctype, name, len(values)))
    for i in range(0, len(values), per_line):
        out.write("    " + ",".join(fmt % v for v in values[i:i + per_line]) + ",\n")
    out.write("};\n\n")


out.write("// Block of each 256 code points (U+0000 .. U+10FFFF).\n")
write_array("uint8_t", "crvq_uc_stage1", stage1, 24, "%d")
out.write("// Flags (CRVQ_UC_*) of the code points of each distinct block.\n")
write_array("uint8_t", "crvq_uc_stage2", list(b"".join(blocks)), 32, "%d")
out.write("// Canonical combining classes other than 0: {first, last, class}, sorted.\n")
out.write("const crvq_uc_ccc_range crvq_uc_ccc[%d] = {\n" % len(ccc_ranges))
for a, b, c in ccc_ranges:
    out.write("    {0x%04X, 0x%04X, %d},\n" % (a, b, c))
out.write("};\nconst int crvq_uc_n_ccc = %d;\n\n" % len(ccc_ranges))
out.write("// Full canonical decompositions (Hangul excluded): {code point, offset into\n")
out.write("// crvq_uc_decomp_pool, length}, sorted by code point.\n")
out.write("const crvq_uc_decomp crvq_uc_decomps[%d] = {\n" % len(decomp_entries))
for c, o, n in decomp_entries:
    out.write("    {0x%04X, %d, %d},\n" % (c, o, n))
out.write("};\nconst int crvq_uc_n_decomps = %d;\n\n" % len(decomp_entries))
write_array("uint32_t", "crvq_uc_decomp_pool", pool, 10, "0x%04X")
pairs = sorted(compose_pairs.items())
out.write("// Primary composites (Hangul excluded): {first, second, composite}, sorted.\n")
out.write("const crvq_uc_pair crvq_uc_pairs[%d] = {\n" % len(pairs))
for (a, b), c in pairs:
    out.write("    {0x%04X, 0x%04X, 0x%04X},\n" % (a, b, c))
out.write("};\nconst int crvq_uc_n_pairs = %d;\n" % len(pairs))
