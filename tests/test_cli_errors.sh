#!/bin/bash
# test_cli_errors.sh CRVQ — `crvq info -m` on malformed models exits 1 with a
# one-line error on stderr that names the file; usage errors exit 2.
set -u
crvq=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crvq-cli-errors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect CODE NEEDLE ARGS...: exit status CODE, one stderr line containing NEEDLE.
expect() {
    local code=$1 needle=$2
    shift 2
    "$crvq" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" != "$code" ] || [ "$lines" != 1 ] || ! grep -qF -- "$needle" "$tmp/err"; then
        echo "FAIL: crvq $* -> exit $rc (want $code), $lines stderr lines (want 1), want '$needle':"
        cat "$tmp/err"
        fail=1
    fi
}

# Little-endian binary helpers.
le32() { for v in "$@"; do printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)))"; done; }
le64() { le32 $(($1 & 0xffffffff)) $(($1 >> 32 & 0xffffffff)); }

# --- single files -------------------------------------------------------------
: >"$tmp/empty.bin"
echo "not a model at all" >"$tmp/text.bin"
{ printf 'GGUF'; le32 3; le64 0; } >"$tmp/short.gguf"
{ printf 'GGUF'; le32 3; le64 0; le64 -1; } >"$tmp/huge-kv.gguf"
{ printf 'GGUF'; le32 9; le64 0; le64 0; } >"$tmp/version.gguf"
{ printf 'GGUF'; le32 3; le64 0; le64 1; le64 4; printf 'a.b'; } >"$tmp/cut-key.gguf"
{ printf 'GGUF'; le32 3; le64 0; le64 1; le64 1; printf 'k'; le32 13; } >"$tmp/bad-type.gguf"
le32 2147483647 172 5 8 4 512 512 >"$tmp/huge-dim.bin"
le32 64 172 5 8 4 512 512 >"$tmp/truncated.bin"
le32 64 172 5 7 4 512 512 >"$tmp/bad-heads.bin"

expect 1 "no-such-file.bin" info -m "$tmp/no-such-file.bin"
expect 1 "empty.bin" info -m "$tmp/empty.bin"
expect 1 "text.bin" info -m "$tmp/text.bin"
expect 1 "short.gguf" info -m "$tmp/short.gguf"
expect 1 "huge-kv.gguf" info -m "$tmp/huge-kv.gguf"
expect 1 "version.gguf" info -m "$tmp/version.gguf"
expect 1 "cut-key.gguf" info -m "$tmp/cut-key.gguf"
expect 1 "bad-type.gguf" info -m "$tmp/bad-type.gguf"
expect 1 "huge-dim.bin" info -m "$tmp/huge-dim.bin"
expect 1 "truncated.bin" info -m "$tmp/truncated.bin"
expect 1 "bad-heads.bin" info -m "$tmp/bad-heads.bin"

# The format is detected from the magic; an unknown file says what it is not,
# the format its name suggests first.
{ printf 'XXXX'; le32 3; le64 0; le64 0; head -c 64 /dev/zero; } >"$tmp/m.gguf"
cp "$tmp/m.gguf" "$tmp/m.bin"
{ le64 2; printf '{}'; } >"$tmp/model.safetensors"
expect 1 "m.gguf: not a GGUF file (bad magic 'XXXX'), not a llama2.c checkpoint (dim = 1482184792 is out of range" \
    info -m "$tmp/m.gguf"
expect 1 "m.bin: not a llama2.c checkpoint (dim = 1482184792 is out of range [1, " info -m "$tmp/m.bin"
expect 1 "), not a GGUF file (bad magic 'XXXX')" info -m "$tmp/m.bin"
expect 1 "text.bin: not a llama2.c checkpoint (" info -m "$tmp/text.bin"
expect 1 "empty.bin: empty file (not a GGUF file, not a llama2.c checkpoint)" info -m "$tmp/empty.bin"
expect 1 "model.safetensors: a safetensors file: give the model's directory (with config.json)" \
    info -m "$tmp/model.safetensors"

# --- Hugging Face directories ---------------------------------------------------
config='{"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 12,
 "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16}'
hf() { # hf NAME CONFIG [HEADER [DATA_BYTES [LENGTH]]]: a directory with config.json and model.safetensors
    mkdir -p "$tmp/$1"
    printf '%s' "$2" >"$tmp/$1/config.json"
    if [ $# -ge 3 ]; then
        { le64 "${5:-${#3}}"; printf '%s' "$3"; head -c "${4:-0}" /dev/zero; } >"$tmp/$1/model.safetensors"
    fi
}
mkdir -p "$tmp/no-config"
hf bad-json '{"architectures": ["LlamaForCausalLM"], "hidden_size": '
hf unknown-arch "${config/LlamaForCausalLM/GPTNeoXForCausalLM}"
hf huge-dims "${config/\"hidden_size\": 8/\"hidden_size\": 2000000}"
hf no-weights "$config"
hf header-past-end "$config" '{}' 0 1000000
hf offsets-past-end "$config" '{"model.norm.weight": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}' 16
hf bad-dtype "$config" '{"model.norm.weight": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}}' 8
hf missing-tensor "$config" '{"model.norm.weight": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}' 32
hf wrong-shape "$config" '{"model.embed_tokens.weight": {"dtype": "F32", "shape": [8, 16], "data_offsets": [0, 512]}}' 512

expect 1 "no-config" info -m "$tmp/no-config"
expect 1 "bad-json/config.json: bad JSON" info -m "$tmp/bad-json"
expect 1 "unsupported architecture GPTNeoXForCausalLM" info -m "$tmp/unknown-arch"
expect 1 "huge-dims/config.json" info -m "$tmp/huge-dims"
expect 1 "no-weights/model.safetensors" info -m "$tmp/no-weights"
expect 1 "header-past-end/model.safetensors" info -m "$tmp/header-past-end"
expect 1 "offsets-past-end/model.safetensors" info -m "$tmp/offsets-past-end"
expect 1 "unsupported dtype F8_E4M3" info -m "$tmp/bad-dtype"
expect 1 "missing tensor model.embed_tokens.weight" info -m "$tmp/missing-tensor"
expect 1 "has shape [8,16], expected [16,8]" info -m "$tmp/wrong-shape"

# --- cut-down copies of the shared models ---------------------------------------
shared=${CRVQ_SHARED:-../shared}/models/stories260K
if [ -r "$shared/stories260K.bin" ]; then
    head -c 100000 "$shared/stories260K.bin" >"$tmp/cut260K.bin"
    head -c 5000 "$shared/stories260K-f16.gguf" >"$tmp/cut260K.gguf"
    head -c 500000 "$shared/stories260K-f32.gguf" >"$tmp/data260K.gguf"
    expect 1 "cut260K.bin" info -m "$tmp/cut260K.bin"
    expect 1 "cut260K.gguf" info -m "$tmp/cut260K.gguf"
    expect 1 "data260K.gguf" info -m "$tmp/data260K.gguf"
    expect 1 "no-such.model" info -m "$shared/stories260K.bin" --tokenizer "$tmp/no-such.model"
    # A valid 16-token model (all-zero weights) given a 512-piece tokenizer.
    { le32 8 12 1 2 1 16 4; head -c 2592 /dev/zero; } >"$tmp/vocab16.bin"
    expect 1 "tok512.bin: tokenizer has 512 pieces, more than the model's vocabulary of 16" \
        info -m "$tmp/vocab16.bin" --tokenizer "$shared/tok512.bin"
    "$crvq" info -m "$shared/stories260K.bin" --json >"$tmp/out" 2>"$tmp/err" || { echo "FAIL: info on stories260K.bin"; cat "$tmp/err"; fail=1; }
    tail -n 1 "$tmp/out" | grep -q '"n_params":260032' || { echo "FAIL: --json line"; tail -n 1 "$tmp/out"; fail=1; }
fi

# --- usage ------------------------------------------------------------------------
expect 2 "no model" info
expect 2 "--bogus" info -m x --bogus
"$crvq" info --help >"$tmp/out" 2>&1 && grep -q "usage: crvq info" "$tmp/out" || { echo "FAIL: info --help"; fail=1; }

[ $fail = 0 ] && echo "all cli error checks passed"
exit $fail
