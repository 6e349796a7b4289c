/*
 * tests/fuzz/fuzz_mapping.c - libFuzzer target for fault__mapping_parse():
 * any byte string either parses into a complete mapping or fails with a
 * column, and nothing leaks either way.
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
    fault_mapping m;
    int rc = fault__mapping_parse(text, &m, err, sizeof err);
    if (rc == 0) {
        /* A successful parse fills every field. */
        if (!m.text || !m.listen_host || !m.scheme || !m.host || m.listen_port == 0 ||
            m.port == 0 || strcmp(m.text, text) != 0 || m.host[0] == '\0')
            abort();
    } else if (rc != FAULT_ESYNTAX || !strstr(err, "at column ") || m.host || m.text) {
        abort();
    }
    fault__mapping_free(&m);
    free(text);
    return 0;
}
