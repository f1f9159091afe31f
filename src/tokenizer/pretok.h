// pretok.h — hand-written pre-tokenizer splitters of byte-level BPE
// tokenizers, one per regex that today's models use (pretok.c).
#ifndef CRVQ_PRETOK_H
#define CRVQ_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef enum crvq_pretok {
    CRVQ_PRETOK_GPT2 = 1, // GPT-2's (HF ByteLevel with use_regex)
    CRVQ_PRETOK_LLAMA3,   // Llama 3's (cl100k_base's): digits in threes
    CRVQ_PRETOK_QWEN2,    // Qwen2/Qwen3's: as Llama 3's with single digits
} crvq_pretok;

// The regexes, exactly as tokenizer.json files write them.
extern const char crvq_pretok_regex_gpt2[];
extern const char crvq_pretok_regex_llama3[];
extern const char crvq_pretok_regex_qwen2[];

// End of the match starting at byte i < n of s[0..n) (> i).
size_t crvq_pretok_gpt2(const uint8_t *s, size_t n, size_t i);
size_t crvq_pretok_llama3(const uint8_t *s, size_t n, size_t i);
size_t crvq_pretok_qwen2(const uint8_t *s, size_t n, size_t i);

#endif
