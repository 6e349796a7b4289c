/*
 * tests/fuzz/fuzz_text.h - for libFuzzer targets of parsers that take a C
 * string: the input copied and NUL-terminated (a NUL inside the data just
 * ends the string early). NULL when out of memory; free() it.
 */
#ifndef FUZZ_TEXT_H
#define FUZZ_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

#endif
