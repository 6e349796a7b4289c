/*
 * tests/fuzz/fuzz_duration.c - libFuzzer target for fault__duration_parse().
 *
 * The parser must accept or reject any byte string without crashing, and
 * an error must always come with a message naming a column.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#include "fuzz_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;

    char err[256] = "";
    uint64_t us = 0;
    int rc = fault__duration_parse(text, &us, err, sizeof err);
    if (rc != 0 && (rc != FAULT_ESYNTAX || !strstr(err, "at column ")))
        abort();

    /* A tiny error buffer must be truncated, not overrun. */
    char tiny[3];
    int rc2 = fault__duration_parse(text, &us, tiny, sizeof tiny);
    if (rc2 != rc)
        abort();

    free(text);
    return 0;
}
