#!/bin/bash
# test_cli_export.sh CRVQ — `crvq export` on stories260K quantized with rtn
# (and crvq, and the plain llama2.c checkpoint): the f32 folder loads back in crvq with
# the same perplexity (nll within 1e-6 relative) and KL(container ‖ folder)
# below 1e-9 nats; the bf16 folder (each weight within 2^-9 relative) within
# 1% nll; an existing non-empty DIR is refused and left untouched, a bad
# input is a clear error and nothing appears; --json's last line counts the files.
# The tokenizer a container embeds is written back as Hugging Face files
# (tokenizer.model or tokenizer.json, tokenizer_config.json,
# special_tokens_map.json) that give the container's ids on shared texts.
set -u
crvq=$1 s=${CRVQ_SHARED:-../shared} fail=0
d=$s/models/stories260K
model=$d/stories260K.bin tok=$d/tok512.bin
calib=$s/data/tinystories-val-1k.txt
for f in "$model" "$tok" "$calib"; do [ -f "$f" ] || { echo "SKIP: $f is absent"; exit 77; }; done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-export.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"
ppl() { "$crvq" perplexity -m "$1" --tokenizer "$tok" -f "$calib" --ctx 128 --max-windows 4 --json "${@:2}" 2>/dev/null | tail -1; }

"$crvq" quantize -m "$model" --tokenizer "$tok" --calib "$calib" --method rtn --bits 4 --group-size 4 \
    --nsamples 4 --seqlen 64 --quiet -o "$tmp/q.gguf" >/dev/null || { echo "FAIL: quantize"; exit 1; }
expect 0 export --help
grep -q -- "--dtype" "$tmp/out" || { echo "FAIL: --help"; fail=1; }
expect 0 export -m "$tmp/q.gguf" -o "$tmp/f32" --dtype f32 --json
json "$tmp/out" "d['files'] == ['model.safetensors', 'config.json', 'tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json'] and d['tokenizer_source'] == 'rebuilt' and d['n_tensors'] == 47 and d['dtype'] == 'f32' and d['bytes'] > d['tensor_bytes'] > 47 * 4"
grep -q "note: tokenizer.model rebuilt from the model's own vocabulary" "$tmp/err" || { echo "FAIL: no rebuild note: $(cat "$tmp/err")"; fail=1; }
[ "$(stat -c %s "$tmp/f32/model.safetensors")" = "$(tail -1 "$tmp/out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tensor_bytes"])')" ] ||
    { echo "FAIL: tensor_bytes is not the file size"; fail=1; }
ls -d "$tmp"/f32.export.* 2>/dev/null && { echo "FAIL: temporary directory left"; fail=1; }
expect 0 export -m "$tmp/q.gguf" -o "$tmp/bf16/"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["torch_dtype"]=="bfloat16" and c["tie_word_embeddings"] and c["num_key_value_heads"]==4 and c["rms_norm_eps"]==1e-05, c' \
    "$tmp/bf16/config.json" || fail=1
ppl "$tmp/q.gguf" >"$tmp/p0"
ppl "$tmp/f32" --kl-base "$tmp/q.gguf" >"$tmp/p1"
ppl "$tmp/bf16" >"$tmp/p2"
python3 - "$tmp/p0" "$tmp/p1" "$tmp/p2" <<'PY' || fail=1
import json, sys
q, f, b = (json.load(open(p)) for p in sys.argv[1:])
assert abs(f['nll'] - q['nll']) <= 1e-6 * q['nll'], (q['nll'], f['nll'])
assert f['kld'] < 1e-9 and f['top1_agree'] == 1, f
assert abs(b['nll'] - q['nll']) <= 1e-2 * q['nll'], (q['nll'], b['nll'])
PY

# a crvq container (permuted VQ layers) likewise
"$crvq" quantize -m "$model" --tokenizer "$tok" --calib "$calib" --method crvq -d 4 --nsamples 4 --seqlen 64 \
    --no-finetune --quiet -o "$tmp/c.gguf" >/dev/null || { echo "FAIL: quantize crvq"; exit 1; }
expect 0 export -m "$tmp/c.gguf" -o "$tmp/c32" --dtype f32
ppl "$tmp/c.gguf" >"$tmp/p0"
ppl "$tmp/c32" --kl-base "$tmp/c.gguf" >"$tmp/p1"
python3 - "$tmp/p0" "$tmp/p1" <<'PY' || fail=1
import json, sys
q, f = (json.load(open(p)) for p in sys.argv[1:])
assert abs(f['nll'] - q['nll']) <= 1e-6 * q['nll'] and f['kld'] < 1e-9, (q, f)
PY

# the tokenizer a container embeds comes out as Hugging Face files that
# encode as the container does: stories260K's SentencePiece vocabulary as
# tokenizer.model (checked with SentencePiece itself where python3 has it),
# Llama 3's and Qwen3's byte-level BPE (cut to 500 pieces and two added
# tokens, as test_cli_tokenizer_json.sh does) as tokenizer.json
head -c 60000 "$s/data/wikitext2-test.txt" >"$tmp/wiki.txt" 2>/dev/null || cp "$calib" "$tmp/wiki.txt"
head -c 30000 "$calib" >"$tmp/tiny.txt"
same_ids() { # same_ids WHAT ARGS_A -- ARGS_B: crvq tokenize gives the same ids on both texts
    local what=$1 a=() t
    shift
    while [ "$1" != -- ]; do a+=("$1"); shift; done
    shift
    for t in "$tmp/wiki.txt" "$tmp/tiny.txt"; do
        "$crvq" tokenize "${a[@]}" -f "$t" --json 2>/dev/null | tail -1 >"$tmp/ids_a"
        "$crvq" tokenize "$@" -f "$t" --json 2>/dev/null | tail -1 >"$tmp/ids_b"
        [ -s "$tmp/ids_a" ] && cmp -s "$tmp/ids_a" "$tmp/ids_b" || { echo "FAIL: $what: other ids on $t"; fail=1; }
    done
}
same_ids "tokenizer.model" -m "$tmp/q.gguf" -- --tokenizer "$tmp/f32/tokenizer.model"
same_ids "export folder" -m "$tmp/q.gguf" -- -m "$tmp/f32"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["bos_token"]=="<s>" and c["eos_token"]=="</s>" and c["add_bos_token"] and c["tokenizer_class"]=="LlamaTokenizer", c' \
    "$tmp/f32/tokenizer_config.json" || fail=1
for py in python3 /usr/bin/python3; do
    "$py" -c 'import sentencepiece' 2>/dev/null || continue
    "$crvq" tokenize -m "$tmp/q.gguf" -f "$tmp/wiki.txt" --json 2>/dev/null | tail -1 >"$tmp/ids_a"
    "$py" - "$tmp/f32/tokenizer.model" "$tmp/wiki.txt" "$tmp/ids_a" <<'PY' || { echo "FAIL: SentencePiece reads the rebuilt tokenizer.model differently"; fail=1; }
import json, sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
text = open(sys.argv[2], encoding='utf-8').read()
assert [sp.bos_id()] + sp.encode(text) == json.load(open(sys.argv[3]))['ids']
PY
    break
done
for k in llama3 qwen3; do
    gz=$s/models/$k-tokenizer/tokenizer.json.gz
    [ -f "$gz" ] || { echo "note: $gz absent: $k not checked"; continue; }
    mkdir -p "$tmp/$k" && gzip -dc "$gz" >"$tmp/$k.full.json"
    python3 - "$tmp/$k.full.json" "$tmp/$k" <<'PY' || { echo "FAIL: cutting $k"; fail=1; continue; }
import json, sys
d = json.load(open(sys.argv[1]))
m = d["model"]
m["vocab"] = {t: i for t, i in m["vocab"].items() if i < 500}
parts = lambda x: x.split(" ") if isinstance(x, str) else x
m["merges"] = [x for x in m["merges"] if all(p in m["vocab"] for p in parts(x) + ["".join(parts(x))])]
keep = ("<|begin_of_text|>", "<|end_of_text|>", "<|endoftext|>", "<|im_start|>")
d["added_tokens"] = [dict(a, id=500 + j) for j, a in enumerate(a for a in d["added_tokens"] if a["content"] in keep)]
json.dump(d, open(sys.argv[2] + "/tokenizer.json", "w"), ensure_ascii=False)
PY
    expect 0 quantize -m "$model" --tokenizer "$tmp/$k/tokenizer.json" --calib "$calib" -o "$tmp/$k.gguf" --method rtn \
        --group-size 4 --nsamples 2 --nval 0 --seqlen 32 --quiet
    expect 0 export -m "$tmp/$k.gguf" -o "$tmp/$k.ex" --json
    json "$tmp/out" "d['tokenizer_source'] == 'rebuilt' and 'tokenizer.json' in d['files'] and 'tokenizer_config.json' in d['files']"
    same_ids "$k tokenizer.json" -m "$tmp/$k.gguf" -- --tokenizer "$tmp/$k.ex/tokenizer.json"
    same_ids "$k original" --tokenizer "$tmp/$k/tokenizer.json" -- -m "$tmp/$k.ex"
done

# the plain checkpoint exports as well, and the folder re-exports to the same bytes
expect 0 export -m "$model" --tokenizer "$tok" -o "$tmp/plain" --dtype f32
expect 0 export -m "$tmp/plain" -o "$tmp/plain2" --dtype f32
cmp -s "$tmp/plain/model.safetensors" "$tmp/plain2/model.safetensors" || { echo "FAIL: re-export differs"; fail=1; }

# refusal: a non-empty DIR stays as it was
mkdir "$tmp/full" && echo mine >"$tmp/full/config.json"
expect 1 export -m "$tmp/q.gguf" -o "$tmp/full"
grep -q "exists and is not empty" "$tmp/err" || { echo "FAIL: refusal message: $(cat "$tmp/err")"; fail=1; }
[ "$(cat "$tmp/full/config.json")" = mine ] && [ "$(ls "$tmp/full")" = config.json ] || { echo "FAIL: DIR touched"; fail=1; }
echo junk >"$tmp/file"
expect 1 export -m "$tmp/q.gguf" -o "$tmp/file"
grep -q "not a directory" "$tmp/err" || { echo "FAIL: file as DIR: $(cat "$tmp/err")"; fail=1; }
# a bad input: a clear error naming it, no folder
expect 1 export -m "$tmp/file" -o "$tmp/new"
grep -q "^crvq export: error: $tmp/file: not a .*GGUF file" "$tmp/err" || { echo "FAIL: bad input message: $(cat "$tmp/err")"; fail=1; }
ls -d "$tmp"/new* 2>/dev/null && { echo "FAIL: output after a bad input"; fail=1; }
expect 2 export -m "$tmp/q.gguf" -o "$tmp/new" --dtype f64
expect 2 export -m "$tmp/q.gguf"
exit $fail
