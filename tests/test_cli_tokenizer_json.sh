#!/bin/bash
# test_cli_tokenizer_json.sh CRVQ — a Hugging Face tokenizer.json through every
# command. The tokenizer is Llama 3's cut down to the first 500 pieces (the
# merges among them) plus <|begin_of_text|> as BOS, so it fits the small
# shared models' vocabularies: a directory with pg-dev's config.json and
# weights and this tokenizer.json (no tokenizer.model) tokenizes, evaluates,
# generates and quantizes; stories260K quantizes with --tokenizer tok.json;
# each compressed file carries the tokenizer as a GGUF gpt2 vocabulary that
# gives the same ids as the tokenizer.json. Errors name the file.
set -u
crvq=$1
# shared, pgdev, model, text, need, scratch, json FILE EXPR and expect CODE ARGS...
source "$(dirname "$0")/cli_lib.sh"
llama3=$shared/models/llama3-tokenizer/tokenizer.json.gz
need "$llama3" "$pgdev/model.safetensors" "$model" "$text"
scratch tokjson

gzip -dc "$llama3" > "$tmp/llama3.json"
python3 - "$tmp/llama3.json" "$tmp" <<'EOF'
import json, sys
src, out = sys.argv[1], sys.argv[2]
d = json.load(open(src))
m = d["model"]
m["vocab"] = {t: i for t, i in m["vocab"].items() if i < 500}
m["merges"] = [x for x in m["merges"]
               if all(p in m["vocab"] for p in x.split(" ") + [x.replace(" ", "")])]
d["added_tokens"] = [dict(a, id=500) for a in d["added_tokens"] if a["content"] == "<|begin_of_text|>"]
json.dump(d, open(out + "/tok.json", "w"), ensure_ascii=False)
json.dump({"bos_token": "<|begin_of_text|>", "eos_token": None}, open(out + "/tokenizer_config.json", "w"))
EOF
mkdir "$tmp/hf"
ln -s "$(cd "$pgdev" && pwd)/config.json" "$(cd "$pgdev" && pwd)/model.safetensors" "$tmp/hf/"
cp "$tmp/tok.json" "$tmp/hf/tokenizer.json"
cp "$tmp/tokenizer_config.json" "$tmp/hf/"
head -c 20000 "$text" > "$tmp/text.txt"

# tokenize: BOS first, the same ids from the directory and from the file
expect 0 tokenize --tokenizer "$tmp/tok.json" -f "$tmp/text.txt" --json
cp "$tmp/out" "$tmp/ids_json"
json "$tmp/ids_json" "d['ids'][0] == 500 and d['n_tokens'] > 4000 and max(d['ids'][1:]) < 500"
expect 0 tokenize -m "$tmp/hf" -f "$tmp/text.txt" --json
cmp -s "$tmp/out" "$tmp/ids_json" || { echo "FAIL: the HF directory's tokenizer.json gives other ids"; fail=1; }

# perplexity and generate from the directory
expect 0 perplexity -m "$tmp/hf" -f "$tmp/text.txt" --ctx 64 --max-windows 2 --json
json "$tmp/out" "d['ppl'] > 1 and math.isfinite(d['ppl'])"
expect 0 generate -m "$tmp/hf" -p "Once upon a time" -n 8 --temp 0 --json
json "$tmp/out" "d['n_generated'] == 8 and len(d['ids']) == 8"  # pg-dev never saw these ids: any text

# quantize: the output carries the tokenizer (GGUF gpt2 vocabulary), same ids
for m in "$tmp/hf" "$model"; do
    tokarg=()
    [ "$m" = "$tmp/hf" ] || tokarg=(--tokenizer "$tmp/tok.json")
    rm -f "$tmp/q.gguf"
    expect 0 quantize -m "$m" "${tokarg[@]}" --calib "$tmp/text.txt" -o "$tmp/q.gguf" --method rtn --group-size 4 \
        --nsamples 2 --nval 0 --seqlen 32 --quiet
    expect 0 tokenize -m "$tmp/q.gguf" -f "$tmp/text.txt" --json
    cmp -s "$tmp/out" "$tmp/ids_json" || { echo "FAIL: $m: the container's tokenizer gives other ids"; fail=1; }
    python3 - "$tmp/q.gguf" <<'EOF' || { echo "FAIL: $m: tokenizer.ggml.model/pre are not gpt2/llama-bpe"; fail=1; }
import sys
b = open(sys.argv[1], "rb").read(1 << 20)
sys.exit(0 if b"gpt2" in b and b"llama-bpe" in b and b"tokenizer.ggml.merges" in b else 1)
EOF
done
expect 0 perplexity -m "$tmp/q.gguf" -f "$tmp/text.txt" --ctx 64 --max-windows 1 --json

# errors name the file
printf '{"model": {"type": "Unigram"}}' > "$tmp/bad.json"
expect 1 tokenize --tokenizer "$tmp/bad.json" -p "x"
grep -q "bad.json: model type Unigram is not supported" "$tmp/err" || { echo "FAIL: message: $(cat "$tmp/err")"; fail=1; }
[ "$fail" = 0 ] && echo "test_cli_tokenizer_json: all checks passed"
exit $fail
