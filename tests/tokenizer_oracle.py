# tokenizer_oracle.py MODE CRVQ SHARED — `crvq tokenize` against SentencePiece
# (Debian's python3-sentencepiece) and llama2.c's encoder; run by
# test_tokenizer_oracle.sh (MODE quick) and slow_tokenizer_oracle.sh (full).
#
# quick: edge cases (bytes, invalid UTF-8 included) for both tokenizer.model
#        files, the tokenizer.bin export and small models of other settings
#        (unigram, no byte fallback, ...) trained on the spot; evaluation.md's counts and first
#        ids for the two smaller data files; the whole of the smallest file
#        (TinyStories) against the oracle; a few documents with tok512.bin. SentencePiece's Python encoder needs ~6 s for a 3 MB file,
#        so whole-file comparisons are left to:
# full:  every shared data file, whole, with both tokenizer.model files and
#        with tokenizer.bin, plus everything in quick.
import json, os, shutil, struct, subprocess, sys, tempfile
import sentencepiece as spm

mode, crvq, shared = sys.argv[1], sys.argv[2], sys.argv[3]
full = mode == "full"
failures = 0
checks = 0

def check(ok, msg):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print("FAIL:", msg)

def crvq_ids(tok, path, bos=False, extra=()):
    cmd = [crvq, "tokenize", "--tokenizer", tok, "-f", path] + ([] if bos else ["--no-bos"]) + list(extra)
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace").strip()
    return [int(x) for x in r.stdout.split()], r.stderr.decode(errors="replace").strip()

def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "first difference at id %d: %s vs %s" % (i, a[i:i + 6], b[i:i + 6])
    return "lengths %d vs %d" % (len(a), len(b))

tmp = tempfile.mkdtemp(prefix="crvq-tok-")
models = {
    "llama2": os.path.join(shared, "models/llama2-tokenizer/tokenizer.model"),
    "pg-dev": os.path.join(shared, "models/pg-dev/tokenizer.model"),
}
data_files = ["wikitext2-test.txt", "c4-val-1100.txt", "tinystories-val-1k.txt", "pg-calib.txt", "pg-test.txt"]

# evaluation.md, "Tokenizer oracle": ids without BOS and the first ids.
table = {
    ("pg-dev", "wikitext2-test.txt"): (416770, [8104, 13, 13, 8104, 64, 4098, 382, 3703]),
    ("pg-dev", "c4-val-1100.txt"): (693801, [924, 3422, 422, 1129, 8106, 7885, 285, 341]),
    ("pg-dev", "tinystories-val-1k.txt"): (225696, [1885, 307, 8126, 1885, 307, 916, 263, 415]),
    ("pg-dev", "pg-calib.txt"): (741704, [367, 1336, 1899, 653, 767, 1311, 284, 1016]),
    ("pg-dev", "pg-test.txt"): (859018, [7799, 425, 2908, 8173, 1882, 486, 4862, 8160]),
    ("llama2", "wikitext2-test.txt"): (341468, [29871, 13, 13, 353, 4755, 350, 5059, 357]),
    ("llama2", "c4-val-1100.txt"): (596011, [1334, 5957, 325, 9457, 610, 9292, 408, 1532]),
    ("llama2", "tinystories-val-1k.txt"): (219397, [1706, 327, 29889, 1706, 327, 4446, 278, 528]),
    ("llama2", "pg-calib.txt"): (731405, [450, 22890, 261, 2738, 7670, 322, 1724, 372]),
    ("llama2", "pg-test.txt"): (835119, [6732, 349, 2965, 29968, 2544, 360, 2692, 29979]),
}

# 1. Data files: the table always, the oracle on whole files in full mode.
oracle_cache = {}
for name, model in models.items():
    sp = spm.SentencePieceProcessor(model_file=model)
    for f in data_files if full else ["wikitext2-test.txt", "tinystories-val-1k.txt"]:
        path = os.path.join(shared, "data", f)
        if not os.path.exists(path):
            print("note: %s missing, not compared" % path)
            continue
        got, err = crvq_ids(model, path)
        if full or f == "tinystories-val-1k.txt":  # the one file SentencePiece encodes quickly
            want = sp.encode(open(path).read())
            oracle_cache[(name, f)] = want
            check(got == want, "%s %s: %s" % (name, f, err if got is None else first_diff(got, want)))
        n, first = table[(name, f)]
        check(got is not None and len(got) == n and got[:8] == first,
              "%s %s: evaluation.md says %d ids starting %s" % (name, f, n, first))
        print("%-7s %-24s %7d ids  %s" % (name, f, len(got or []), err.split(": ", 1)[-1]))

# 2. Edge cases, given as bytes (SentencePiece accepts bytes, so invalid
# UTF-8 is compared too).
cases = [
    b"", b" ", b"   ", b"\n", b"\n\n\n", b" \n ", b"\t\tx", b"\r\n", b" leading", b"  two leading",
    b"trailing ", b"trailing  ", b"a  b   c    d", b" " * 40 + b"x", b"x" + b" " * 40,
    b"line one\nline two\n\n  indented\n", b"12345", b"3.14159 and 2024-11-23", b"x1y22z333",
    "caf\u00e9 na\u00efve \u00fcber".encode(), "e\u0301 a\u0308 n\u0303".encode(),
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8".encode(), "\U0001F600\U0001F680 emoji".encode(),
    "\u2581already \u2581escaped".encode(), "\ufffd replacement".encode(), b"x\x00y", b"\x7f\x01",
    b"a\xffb", b"\xe2\x82", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80abc\xfe",
    b"<s> </s> <unk> <0x41>", b"supercalifragilisticexpialidocious" * 20, b"a" * 5000,
    b"x" * 3000 + b"\n" + b" " * 1000, "\u0928\u092e\u0938\u094d\u0924\u0947 \u043f\u0440\u0438\u0432\u0435\u0442".encode(),
]
case_files = []
for i, c in enumerate(cases):
    p = os.path.join(tmp, "case%02d.txt" % i)
    with open(p, "wb") as fh:
        fh.write(c)
    case_files.append((p, c))
for name, model in models.items():
    sp = spm.SentencePieceProcessor(model_file=model)
    for p, c in case_files:
        want = sp.encode(c)
        got, err = crvq_ids(model, p)
        check(got == want, "%s case %r: %s" % (name, c[:40], err if got is None else "%s vs oracle %s" % (got[:12], want[:12])))

# 3. BOS: on by default.
got, err = crvq_ids(models["llama2"], next(p for p, c in case_files if c == b"trailing "), bos=True)
check(got is not None and got[:1] == [1], "BOS expected first, got %s" % got)

# 4. --json: the last stdout line.
r = subprocess.run([crvq, "tokenize", "--tokenizer", models["pg-dev"], "-p", "Hello world", "--json"], capture_output=True)
try:
    j = json.loads(r.stdout.decode().strip().splitlines()[-1])
    check(j == {"n_tokens": 4, "ids": [1, 7044, 8108, 937]}, "--json gave %s" % j)
except Exception as e:
    check(False, "--json output not JSON: %r (%s)" % (r.stdout[-200:], e))

# 5. llama2.c export = the same model: same ids as tokenizer.model.
tbin = os.path.join(shared, "models/llama2-tokenizer/tokenizer.bin")
for f in data_files:
    if ("llama2", f) in oracle_cache:
        got, err = crvq_ids(tbin, os.path.join(shared, "data", f))
        check(got == oracle_cache[("llama2", f)], "tokenizer.bin %s: %s" % (f, err if got is None else first_diff(got, oracle_cache[("llama2", f)])))
sp = spm.SentencePieceProcessor(model_file=models["llama2"])
for p, c in case_files:
    if b"\x00" in c or c.startswith(b"\x80"):
        continue
    got, err = crvq_ids(tbin, p)
    check(got == sp.encode(c), "tokenizer.bin case %r: %s vs %s" % (c[:40], got and got[:12], sp.encode(c)[:12]))

# 6. tok512.bin: llama2.c's own encoder (run.c), reimplemented plainly:
# " " first, then one token per UTF-8 character (bytes + 3 when missing),
# then merge the best-scoring adjacent pair (leftmost on ties) until none.
def read_llama2c(path):
    b = open(path, "rb").read()
    pos, vocab, scores = 4, [], []
    while pos < len(b):
        s, n = struct.unpack("<fi", b[pos:pos + 8])
        vocab.append(b[pos + 8:pos + 8 + n]); scores.append(s); pos += 8 + n
    return vocab, scores

def llama2c_encode(vocab, scores, index, text):
    toks = [index[b" "]] if text else []
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and (text[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        ch = text[i:j]
        if ch in index:
            toks.append(index[ch])
        else:
            toks.extend(c + 3 for c in ch)
        i = j
    while True:
        best, best_i, best_id = -1e10, -1, -1
        for k in range(len(toks) - 1):
            m = index.get(vocab[toks[k]] + vocab[toks[k + 1]])
            if m is not None and scores[m] > best:
                best, best_i, best_id = scores[m], k, m
        if best_i < 0:
            return toks
        toks[best_i:best_i + 2] = [best_id]

t512 = os.path.join(shared, "models/stories260K/tok512.bin")
vocab, scores = read_llama2c(t512)
index = {v: i for i, v in enumerate(vocab)}
ts = os.path.join(shared, "data/tinystories-val-1k.txt")
if os.path.exists(ts):
    docs = [d.strip(" \n").encode() for d in open(ts).read().split("<|endoftext|>")]
    docs = [d for d in docs if d][:100 if full else 8]
    for k, d in enumerate(docs):
        p = os.path.join(tmp, "doc%02d.txt" % k)
        with open(p, "wb") as fh:
            fh.write(d)
        got, err = crvq_ids(t512, p, bos=True)
        want = [1] + llama2c_encode(vocab, scores, index, d)
        check(got == want, "tok512.bin doc %d: %s" % (k, err if got is None else first_diff(got, want)))

# 7. -m MODEL: the tokenizer that comes with a model (loaded by the model
# loader: tokenizer.model next to a Hugging Face checkpoint, the GGUF
# vocabulary, tok512.bin given to a llama2.c checkpoint).
def crvq_model_ids(model, path, tok=None):
    cmd = [crvq, "tokenize", "-m", model, "-f", path, "--no-bos"] + (["--tokenizer", tok] if tok else [])
    r = subprocess.run(cmd, capture_output=True)
    return [int(x) for x in r.stdout.split()] if r.returncode == 0 else r.stderr.decode(errors="replace").strip()

pg_dir = os.path.join(shared, "models/pg-dev")
if ("pg-dev", "tinystories-val-1k.txt") in oracle_cache:
    got = crvq_model_ids(pg_dir, os.path.join(shared, "data/tinystories-val-1k.txt"))
    check(got == oracle_cache[("pg-dev", "tinystories-val-1k.txt")], "-m pg-dev: %s" % str(got)[:200])
doc = next(p for p, c in case_files if c.startswith(b"line one"))  # several lines
want, _ = crvq_ids(os.path.join(shared, "models/stories260K/tok512.bin"), doc)
for m in ["stories260K-f32.gguf", "stories260K-f16.gguf"]:
    got = crvq_model_ids(os.path.join(shared, "models/stories260K", m), doc)
    check(got == want, "-m %s: %s, tok512.bin gives %s" % (m, got, want))
got = crvq_model_ids(os.path.join(shared, "models/stories260K/stories260K.bin"), doc,
                     os.path.join(shared, "models/stories260K/tok512.bin"))
check(got == want, "-m stories260K.bin --tokenizer tok512.bin: %s vs %s" % (got, want))

# 8. Other model settings, on small models trained here from a slice of
# TinyStories: unigram, no byte fallback (runs of unknown characters are one
# unk), remove_extra_whitespaces, whitespace as suffix, user-defined pieces.
# A model with a precompiled (nmt_nfkc) charsmap must be refused.
if os.path.exists(ts):
    train_txt = os.path.join(tmp, "train.txt")
    raw = open(ts, "rb").read()
    with open(train_txt, "wb") as fh:
        fh.write(raw[:150000])
    variants = {
        "uni": dict(model_type="unigram", byte_fallback=True, remove_extra_whitespaces=False,
                    user_defined_symbols=["<sep>", "Lily"]),
        "uni_nofb": dict(model_type="unigram", character_coverage=0.999),
        "bpe_nofb_rx": dict(model_type="bpe", character_coverage=0.999, user_defined_symbols=["<sep>", "Lily"]),
        "bpe_suffix": dict(model_type="bpe", treat_whitespace_as_suffix=True, byte_fallback=True,
                           remove_extra_whitespaces=False),
    }
    trained_cases = [c for _, c in case_files] + [
        b"Once upon a time, Lily<sep>went  to the park.\n\nShe   saw a dog!  ", b"Lilypad <sep<sep>>",
        b"zzz qqq xxx \xe2\x82\xac\xe2\x82\xac", raw[200000:260000]]
    for name, kw in variants.items():
        prefix = os.path.join(tmp, name)
        spm.SentencePieceTrainer.train(input=train_txt, model_prefix=prefix, vocab_size=600,
                                       normalization_rule_name="identity", minloglevel=2, **kw)
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        bad = 0
        for k, c in enumerate(trained_cases):
            p = os.path.join(tmp, "trained.txt")
            with open(p, "wb") as fh:
                fh.write(c)
            got, err = crvq_ids(prefix + ".model", p)
            want = sp.encode(c)
            if got != want and bad < 3:
                print("  %s case %r: %s vs oracle %s" % (name, c[:40], err if got is None else got[:16], want[:16]))
            bad += got != want
        check(bad == 0, "trained model %s: %d of %d cases differ" % (name, bad, len(trained_cases)))
    prefix = os.path.join(tmp, "nfkc")
    spm.SentencePieceTrainer.train(input=train_txt, model_prefix=prefix, vocab_size=600, model_type="bpe",
                                   minloglevel=2)
    got, err = crvq_ids(prefix + ".model", case_files[0][0])
    check(got is None and "charsmap" in err, "nmt_nfkc model: expected an unsupported-normalizer error, got %s %s" % (got, err))

shutil.rmtree(tmp)
print("%d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
