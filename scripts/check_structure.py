#!/usr/bin/env python3
"""The code's shape, checked (docs/design.md, "Rules of the layout").

    python3 scripts/check_structure.py [--max-lines N] [--list]

Fails (exit 1) when
  1. a function in src/ is longer than --max-lines (default 80) lines, from its
     signature's first line to its closing brace (a signature may be wrapped
     over several lines; generated files excepted);
  2. two units import each other, directly or through others: a unit is a
     source file with its header (src/quant/vq.c + src/quant/vq.h), and unit A
     imports unit B when A's .c or .h includes B's header;
  3. a module (a folder of src/) includes a header of a module above it in
     LAYERS: the layers form a strict order, each one using only those below;
  4. a file of src/cli/ includes a library header other than crvq.h and the
     few in CLI_ALLOWED: the command-line tool lives on the public API.

--list prints every function with its length, longest first.
"""
import argparse
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
GENERATED = {"tokenizer/unicode_tables.c"}
# Bottom first. A module may include headers of its own layer and those
# before it in this list. Modules in one tuple are one layer (they may not
# include each other).
LAYERS = [
    ("util",),
    ("io", "kernels"),
    ("tokenizer",),
    ("model",),
    ("quant",),
    ("train",),
    ("backend",),
    ("cuda", "container"),
    ("pipeline",),
    ("cli",),
]

# What the CLI may include besides crvq.h and its own headers: file readers
# (a text mapped for perplexity and tokenize, .npy for quantize-matrix) and
# the checks that no input is ever overwritten.
CLI_ALLOWED = {"io/mapfile.h", "io/npy.h", "util/fileguard.h"}

# A signature, joined onto one line: it starts in column 0 and ends with the
# body's opening brace.
SIG_LINE = re.compile(r"^(?!typedef|struct|enum|union|static\s+const|#)[A-Za-z_]")
MAX_SIG_LINES = 12
FUNC_START = re.compile(r"^(?!typedef|struct|enum|union|static\s+const|#)[A-Za-z_][^;=]*\)\s*(__attribute__\S*\s*)?\{\s*$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources():
    for d, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith((".c", ".h", ".cu", ".cuh")):
                yield os.path.relpath(os.path.join(d, f), SRC)


def signature_end(lines, i):
    """The line of the `{` that opens a function whose signature starts on
    line i (clang-format wraps long parameter lists), or None."""
    if not SIG_LINE.match(lines[i]):
        return None
    for k in range(i, min(i + MAX_SIG_LINES, len(lines))):
        # a wrapped parameter list is indented; a column-0 line is another declaration
        if ";" in lines[k] or (k > i and not lines[k].startswith((" ", "\t"))):
            return None
        if lines[k].rstrip().endswith("{"):
            sig = " ".join(l.strip() for l in lines[i:k + 1])
            return k if FUNC_START.match(sig) else None
    return None


def functions(path):
    """(name, first line, length) of each function definition in a file."""
    lines = open(os.path.join(SRC, path), encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        k = signature_end(lines, i)
        if k is not None:
            start = i
            # the return type may stand on the lines before the name
            while start > 0 and lines[start - 1].strip() and not lines[start - 1].rstrip().endswith((";", "}", "*/")) \
                    and not lines[start - 1].startswith(("#", "//")):
                start -= 1
            j = k + 1
            while j < len(lines) and not lines[j].startswith("}"):
                j += 1
            names = [n for n in re.findall(r"([A-Za-z_]\w*)\s*\(", " ".join(lines[start:k + 1]))
                     if n != "__attribute__"]
            out.append((names[0] if names else "?", start + 1, j - start + 1))
            i = j
        i += 1
    return out


def unit_of(path):
    return os.path.splitext(path)[0]


def includes(path):
    here = os.path.dirname(path)
    for line in open(os.path.join(SRC, path), encoding="utf-8"):
        m = INCLUDE.match(line)
        if not m:
            continue
        inc = m.group(1)
        for cand in (os.path.normpath(os.path.join(here, inc)), os.path.normpath(inc)):
            if os.path.exists(os.path.join(SRC, cand)):
                yield cand
                break


def find_cycle(graph):
    """One cycle of the directed graph as a list of nodes, or None."""
    color, stack = {}, []

    def visit(u):
        color[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if color.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in color:
                c = visit(v)
                if c:
                    return c
        stack.pop()
        color[u] = 2
        return None

    for u in sorted(graph):
        if u not in color:
            c = visit(u)
            if c:
                return c
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-lines", type=int, default=80)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    failed = False

    funcs = []
    for p in sources():
        if p in GENERATED or not p.endswith((".c", ".cu")):
            continue
        funcs += [(n, p, l, ln) for n, l, ln in functions(p)]
    funcs.sort(key=lambda f: -f[3])
    if a.list:
        for n, p, l, ln in funcs:
            print(f"{ln:5d}  src/{p}:{l}  {n}")
    for n, p, l, ln in funcs:
        if ln > a.max_lines:
            print(f"too long: src/{p}:{l} {n}() is {ln} lines (at most {a.max_lines})")
            failed = True

    graph, layer_of = {}, {}
    for i, layer in enumerate(LAYERS):
        for mod in layer:
            layer_of[mod] = i
    for p in sources():
        u = unit_of(p)
        mod = p.split("/")[0] if "/" in p else ""
        for inc in includes(p):
            v = unit_of(inc)
            if v != u:
                graph.setdefault(u, set()).add(v)
            imod = inc.split("/")[0] if "/" in inc else ""
            if mod in layer_of and imod in layer_of and imod != mod and layer_of[imod] >= layer_of[mod]:
                print(f"layering: src/{p} ({mod}) includes src/{inc} ({imod}), "
                      f"which is {'beside' if layer_of[imod] == layer_of[mod] else 'above'} it")
                failed = True
            if mod == "cli" and imod != "cli" and inc not in CLI_ALLOWED:
                print(f"public API: src/{p} includes src/{inc}; the CLI uses crvq.h "
                      f"(and {', '.join(sorted(CLI_ALLOWED))})")
                failed = True
            if mod not in layer_of and mod:
                print(f"layering: src/{p}: module {mod} is not in LAYERS")
                failed = True
    seen = set()
    while True:
        g = {u: {v for v in vs if (u, v) not in seen} for u, vs in graph.items()}
        c = find_cycle(g)
        if not c:
            break
        print("import cycle: " + " -> ".join(c))
        failed = True
        seen.add((c[0], c[1]))  # report each cycle once, then look for others
    if not failed:
        longest = funcs[0] if funcs else ("-", "-", 0, 0)
        print(f"structure ok: {len(funcs)} functions (longest {longest[3]} lines: {longest[0]}), "
              f"no import cycles, layers {' < '.join('/'.join(l) for l in LAYERS)}, "
              f"the CLI on crvq.h")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
